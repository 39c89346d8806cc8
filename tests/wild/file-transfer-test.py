# machines: files
# out: reports/report.txt
# out: etc-snapshot/app/app.conf
# Host -> guest and guest -> host copies through the shared 9p directory.
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

host_dir = Path(tempfile.mkdtemp(prefix="wild-files-"))
config = host_dir / "app.conf"
config.write_text("listen = 7\nname = wild\n")
config.chmod(0o640)
blob = host_dir / "blob.bin"
blob.write_bytes(os.urandom(256 * 1024))
bundle = host_dir / "bundle"
(bundle / "sub").mkdir(parents=True)
(bundle / "sub" / "data.txt").write_text("payload\n")
(bundle / "top.txt").write_text("top\n")

files.wait_for_unit("multi-user.target")

with subtest("copy_from_host: a file keeps content and mode"):
    files.copy_from_host(str(config), "/etc/app/app.conf")
    t.assertEqual(files.succeed("cat /etc/app/app.conf"), config.read_text())
    t.assertEqual(files.succeed("stat -c %a /etc/app/app.conf").strip(), "640")

with subtest("copy_from_host: binary data arrives intact"):
    files.copy_from_host(str(blob), "/var/blob.bin")
    guest_sum = files.succeed("sha256sum /var/blob.bin").split()[0]
    t.assertEqual(guest_sum, hashlib.sha256(blob.read_bytes()).hexdigest())

with subtest("copy_from_host: a directory tree"):
    files.copy_from_host(str(bundle), "/srv/bundle")
    t.assertEqual(files.succeed("cat /srv/bundle/sub/data.txt", "cat /srv/bundle/top.txt"),
                  "payload\ntop\n")

with subtest("copy_from_host_via_shell for small files"):
    files.copy_from_host_via_shell(str(config), "/root/conf/app.conf")
    files.succeed("cmp /root/conf/app.conf /etc/app/app.conf")

with subtest("copy_from_machine into the output directory"):
    files.succeed(
        "mkdir -p /var/report",
        "(uname -n; sha256sum /etc/app/app.conf) > /var/report/report.txt",
    )
    files.copy_from_machine("/var/report/report.txt", "reports")
    report = (driver.out_dir / "reports" / "report.txt").read_text()
    t.assertEqual(report.splitlines()[0], "files")
    t.assertIn(hashlib.sha256(config.read_bytes()).hexdigest(), report)
    files.copy_from_machine("/etc/app", "etc-snapshot")
    t.assertEqual((driver.out_dir / "etc-snapshot" / "app" / "app.conf").read_text(),
                  config.read_text())

shutil.rmtree(host_dir)
