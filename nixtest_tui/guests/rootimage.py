"""The debian flavour's boot artefacts: an ext4 root disk and a busybox stage-1 initramfs.

guests.md §4 step 4 compared a 133 MB cpio root with an ext4 disk: both boot equally fast, but
the disk is one read-only base that every VM shares through `snapshot=on`, and it needs less
guest memory. The stock kernel has virtio_blk and ext4 as modules, hence the small stage 1
that loads them, mounts the disk and hands over to systemd.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
from pathlib import Path

from nixtest_tui.guests import cpio, kmods
from nixtest_tui.guests.cpio import Entry
from nixtest_tui.guests.errors import GuestBuildError

STAGE1_MODULES = ["virtio_pci", "virtio_blk", "crc32c_generic", "ext4"]
EXT4_LABEL = "testroot"
# headroom on top of the tree: ext4 metadata, the journal and what a test writes (the disk
# is attached with snapshot=on, so writes land in a per-VM overlay, not in this file)
EXT4_SLACK = 1.3
EXT4_EXTRA_BYTES = 64 << 20


def tree_bytes(root: Path) -> int:
    """Space the tree takes (4 KiB blocks per file), without following symlinks."""
    total = 0
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            size = os.lstat(os.path.join(directory, name)).st_size
            total += -(-size // 4096) * 4096
    return total


def write_ext4(tree: Path, image: Path) -> int:
    """`mkfs.ext4 -d` the tree into a sparse image sized tree × 1.3 + 64 MiB; its size."""
    size_kib = int(tree_bytes(tree) * EXT4_SLACK + EXT4_EXTRA_BYTES) // 1024
    image.unlink(missing_ok=True)
    kmods.run_tool(["mkfs.ext4", "-q", "-F", "-L", EXT4_LABEL, "-d", str(tree),
                    "-E", "root_owner=0:0", str(image), f"{size_kib}k"],
                   "mkfs.ext4 (package e2fsprogs)")
    return image.stat().st_size


def write_stage1(busybox: Path, init_script: Path, kernel_tree: Path, release: str,
                 target: Path, depmod_root: Path) -> int:
    """A gzip'ed newc archive: busybox with its applets, `/init`, the disk modules; its size."""
    entries = [
        Entry.file("init", init_script.read_bytes(), 0o755),
        Entry.file("bin/busybox", busybox.read_bytes(), 0o755),
        Entry.char_device("dev/console", 5, 1),
        Entry.char_device("dev/null", 1, 3, 0o666),
    ]
    entries += [Entry.directory(d) for d in ("proc", "sys", "dev", "newroot", "run", "tmp")]
    taken = {entry.path for entry in entries}
    applets = kmods.run_tool([str(busybox), "--list-full"], "busybox --list-full").split()
    entries += [Entry.symlink(a, "/bin/busybox") for a in applets if a not in taken]
    entries += kmods.module_entries(kernel_tree, release, STAGE1_MODULES, depmod_root)

    by_path: dict[str, Entry] = {}
    for entry in entries:
        by_path.setdefault(entry.path, entry)
    for directory in cpio.parents_first(by_path):
        by_path.setdefault(directory, Entry.directory(directory))
    ordered = sorted(by_path.values(), key=lambda e: (e.path.count("/"), e.path))
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    archive = io.BytesIO()
    cpio.write_newc(archive, ordered, mtime=epoch)
    target.write_bytes(gzip.compress(archive.getvalue(), mtime=epoch))
    return target.stat().st_size


def installed_packages(root: Path) -> list[tuple[str, str]]:
    """(name, version) of every package dpkg installed into the tree, sorted."""
    try:
        output = subprocess.run(
            ["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W",
             "-f=${Package} ${Version}\\n"],
            capture_output=True, text=True, check=True,
        ).stdout
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        raise GuestBuildError(f"cannot list the packages of {root}: {exc}") from exc
    pairs = [line.split(" ", 1) for line in output.splitlines() if " " in line]
    return sorted((name, version) for name, version in pairs)
