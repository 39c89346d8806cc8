"""Real systemd-nspawn containers on the debian guest tree, driven by the real driver.

Containers without VLANs run in this process (their network namespace has only `lo`). The
mixed VM + container network runs the driver under `unshare --net`, because bridges and taps
must live in a namespace the test made, never the host's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import container_processes_under

from nixtest_tui.driver.config import DriverConfiguration, load_driver_configuration
from nixtest_tui.driver.driver import Driver
from nixtest_tui.driver.errors import MachineError, RequestedAssertionFailed
from nixtest_tui.driver.nspawn import NspawnMachine
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network

pytestmark = [pytest.mark.container, pytest.mark.vm]


def containers(root: Path, image: GuestImage, *names: str, script: str = "",
               vms: tuple[str, ...] = (), tiny: GuestImage | None = None) -> DriverConfiguration:
    specs = [MachineSpec(n, vlans=(1,) if vms else (), kind="container") for n in names]
    specs += [MachineSpec(n) for n in vms]
    config = write_network(Topology(tuple(specs)), tiny or image, "tcg", root / "net", script,
                           container_tree=image.rootfs_tree)
    return load_driver_configuration(config)


@pytest.fixture
def c1(tmp_path: Path, debian_image: GuestImage) -> Iterator[NspawnMachine]:
    config = containers(tmp_path, debian_image, "c1")
    (tmp_path / "state").mkdir()
    with Driver(config, out_dir=tmp_path, tmp_dir=tmp_path / "state") as driver:
        machine = driver.machines[0]
        assert isinstance(machine, NspawnMachine)
        yield machine
    assert container_processes_under(tmp_path) == []


def test_container_starts_and_runs_commands(c1: NspawnMachine) -> None:
    c1.start()
    leader = c1.get_systemd_process
    assert Path(f"/proc/{leader}/comm").read_text().strip() == "systemd"
    assert c1.succeed("hostname").strip() == "c1"
    assert c1.execute("echo out; echo err >&2; exit 3") == (3, "out\n")
    c1.wait_for_unit("multi-user.target")
    assert c1.get_unit_info("systemd-journald.service")["ActiveState"] == "active"
    c1.succeed("systemctl start echo.socket")
    c1.wait_for_open_port(7)
    assert c1.succeed("echo ping | nc -q1 localhost 7").strip() == "ping"
    with pytest.raises(RequestedAssertionFailed, match="exit code 1"):
        c1.succeed("false")


def test_timeout_returns_124_and_kills_the_command(c1: NspawnMachine) -> None:
    from datetime import timedelta

    started = time.monotonic()
    assert c1.execute("sleep 60", timeout=timedelta(seconds=1))[0] == 124
    assert time.monotonic() - started < 30
    # killed with its process group; systemd reaps it (pgrep still sees it until then)
    c1.wait_until_fails("pgrep -x sleep", timeout=timedelta(seconds=20))


def test_journal_is_the_serial_console(c1: NspawnMachine) -> None:
    c1.succeed("echo from-the-test-123 | systemd-cat -t nixtest")
    deadline = time.monotonic() + 30
    while not any("from-the-test-123" in line for line in c1.full_console_log):
        assert time.monotonic() < deadline, "the journal line never reached the serial log"
        time.sleep(0.1)
    line = next(line for line in c1.full_console_log if "from-the-test-123" in line)
    assert "nixtest[" in line  # short-monotonic: "[ secs] host ident[pid]: message"


def test_copy_helpers_use_the_shared_dir(c1: NspawnMachine, tmp_path: Path) -> None:
    source = tmp_path / "to-guest.txt"
    source.write_text("host data\n")
    c1.copy_from_host(str(source), "/root/copied.txt")
    assert c1.succeed("cat /root/copied.txt") == "host data\n"
    c1.succeed("mkdir -p /root/out && echo guest data > /root/out/file")
    c1.copy_from_machine("/root/out", "from-c1")
    assert (tmp_path / "from-c1" / "out" / "file").read_text() == "guest data\n"


def test_shutdown_and_start_again(c1: NspawnMachine) -> None:
    c1.succeed("touch /root/kept")
    first = c1.get_systemd_process
    c1.shutdown()
    assert not c1.is_up()
    assert c1.succeed("cat /proc/1/comm").strip() == "systemd"  # a command starts it again
    assert c1.get_systemd_process != first
    c1.succeed("test -e /root/kept")  # same state dir within one run


def test_a_container_that_ends_by_itself_is_an_error_until_waited_for(
        c1: NspawnMachine) -> None:
    """As for a VM: an exit nobody waited for fails the next command (it names the journal's
    last lines); after wait_for_shutdown() the next command boots the container again."""
    c1.execute("systemctl poweroff --no-block")
    deadline = time.monotonic() + 30
    while c1.is_up():
        assert time.monotonic() < deadline, "the container did not power off"
        time.sleep(0.1)
    pattern = r"c1 exited(.|\n)*wait_for_shutdown(.|\n)*Shutting down"
    with pytest.raises(MachineError, match=pattern):
        c1.succeed("true")
    c1.wait_for_shutdown()
    assert stream_threads() == []  # notify, journal and output readers of that run are gone
    assert c1.succeed("echo back").strip() == "back"
    assert len(stream_threads()) == 3


def stream_threads() -> list[str]:
    return [t.name for t in threading.enumerate()
            if t.name.startswith(("notify-", "journal-", "nspawn-out-"))]


def test_vm_only_methods_fail_clearly(c1: NspawnMachine) -> None:
    for call in (lambda: c1.send_key("ctrl-alt-delete"), lambda: c1.screenshot("x"),
                 lambda: c1.block(), lambda: c1.crash()):
        with pytest.raises(MachineError, match="not available for containers"):
            call()
    assert not c1.is_up()  # refusing them did not start anything


def test_a_wrapper_that_dies_is_a_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "run-broken-nspawn"
    script.write_text("#!/bin/sh\necho 'cannot find the root tree' >&2\nexit 3\n")
    script.chmod(0o755)
    config = load_driver_configuration(_write_config(tmp_path, {"broken": str(script)}))
    (tmp_path / "state").mkdir()
    with Driver(config, out_dir=tmp_path, tmp_dir=tmp_path / "state") as driver:
        with pytest.raises(MachineError, match=r"exited unexpectedly \(exit code 3\)"
                           r"(.|\n)*cannot find the root tree"):
            driver.machines[0].succeed("true")


def test_a_container_that_never_becomes_ready_is_stopped_with_its_output(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where systemd-nspawn cannot boot the container (a chroot without systemd as PID 1),
    nothing ever says READY=1: bounded, with what it printed, and nothing left running."""
    monkeypatch.setenv("NIXTEST_BACKDOOR_TIMEOUT", "3")
    script = tmp_path / "run-stuck-nspawn"
    script.write_text("#!/bin/sh\necho 'Failed to boot: no systemd here' >&2\nexec sleep 600\n")
    script.chmod(0o755)
    config = load_driver_configuration(_write_config(tmp_path, {"stuck": str(script)}))
    (tmp_path / "state").mkdir()
    with Driver(config, out_dir=tmp_path, tmp_dir=tmp_path / "state") as driver:
        machine = driver.machines[0]
        with pytest.raises(MachineError, match=r"did not become ready within 3 s(.|\n)*"
                           r"Failed to boot: no systemd here"):
            machine.succeed("true")
    assert not [line for line in sleeping_under(tmp_path)], "the stuck wrapper still runs"


def sleeping_under(root: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if cmdline.startswith("sleep 600") and cwd.startswith(str(root)):
            found.append(cmdline)
    return found


def _write_config(root: Path, scripts: dict[str, str]) -> Path:
    import json

    path = root / "config.json"
    (root / "script.py").write_text("")
    path.write_text(json.dumps({
        "vms": {}, "containers": {n: {"name": n, "start_script": s} for n, s in scripts.items()},
        "vlans": [], "test_script": str(root / "script.py")}))
    return path


def private_runtime(root: Path) -> dict[str, str]:
    """The driver's state below the test's directory, where the orphan checks look."""
    return dict(os.environ, XDG_RUNTIME_DIR=str(root / "runtime"))


PING_MATRIX = """
start_all()
for c in (c1, c2):
    c.wait_for_unit("testguest-network.service")
vm1.wait_for_unit("multi-user.target")
c1.succeed("ping -c1 -W5 c2", "ping -c1 -W5 vm1", "ping -c1 -W5 -6 vm1")
c2.succeed("ping -c1 -W5 c1", "ping -c1 -W5 vm1")
vm1.succeed("ping -c1 -W5 c1", "ping -c1 -W5 c2", "ping -c1 -W5 -6 c2")
vm1.succeed("ping -c1 -W5 192.168.1.254")  # the bridge's own address
c1.fail("ping -c1 -W1 10.0.2.2")  # no way out
"""


def test_two_containers_and_a_vm_share_a_vlan(tmp_path: Path, debian_image: GuestImage,
                                              tiny_image: GuestImage) -> None:
    config = containers(tmp_path, debian_image, "c1", "c2", vms=("vm1",), tiny=tiny_image,
                        script=PING_MATRIX)
    out = tmp_path / "out"
    out.mkdir()
    config_path = tmp_path / "net" / "driver-configuration.json"
    assert sorted(config.containers) == ["c1", "c2"] and list(config.vms) == ["vm1"]
    result = subprocess.run(
        ["unshare", "--net", "--", sys.executable, "-m", "nixtest_tui", "--headless",
         "-c", str(config_path), "-o", str(out)],
        capture_output=True, text=True, timeout=240, cwd=tmp_path, env=private_runtime(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "c1: (finished: must succeed: ping -c1 -W5 vm1" in result.stdout + result.stderr
    assert container_processes_under(tmp_path) == []


def test_killing_the_driver_takes_its_containers_along(tmp_path: Path,
                                                       debian_image: GuestImage) -> None:
    """SIGKILL of the driver: each wrapper gets SIGTERM (its death signal), powers its
    container off and removes its links and overlay; nothing is left behind."""
    script = 'start_all()\nc1.wait_for_unit("multi-user.target")\nc1.succeed("sleep 600")\n'
    containers(tmp_path, debian_image, "c1", "c2", vms=(), script=script)
    out = tmp_path / "out"
    out.mkdir()
    log = tmp_path / "driver.log"
    with open(log, "w") as sink:
        driver = subprocess.Popen(
            ["unshare", "--net", "--", sys.executable, "-m", "nixtest_tui", "--headless", "-c",
             str(tmp_path / "net" / "driver-configuration.json"), "-o", str(out)],
            stdout=sink, stderr=subprocess.STDOUT, cwd=tmp_path, env=private_runtime(tmp_path))
    try:
        deadline = time.monotonic() + 120
        while "must succeed: sleep 600" not in log.read_text():
            assert driver.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert len(container_processes_under(tmp_path)) >= 4  # wrappers, nspawns, journals
    finally:
        driver.kill()
        driver.wait()
    deadline = time.monotonic() + 30
    while container_processes_under(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert container_processes_under(tmp_path) == []
    mounts = Path("/proc/self/mounts").read_text()
    assert str(tmp_path) not in mounts


def test_kept_state_survives_the_next_run(tmp_path: Path, debian_image: GuestImage) -> None:
    """--keep-machine-state: the overlay's upper layer stays beside the state dir and is
    mounted again; without it, the next run starts from the pristine tree."""
    config = containers(tmp_path, debian_image, "c1")
    state = tmp_path / "state"
    state.mkdir()
    for keep, expect in ((True, 1), (True, 0), (False, 1)):
        with Driver(config, out_dir=tmp_path, tmp_dir=state, keep_machine_state=keep) as driver:
            c1 = driver.machines[0]
            assert c1.execute("test -e /root/marker")[0] == expect
            c1.succeed("touch /root/marker")
            c1.shutdown()
    assert not (debian_image.rootfs_tree / "root" / "marker").exists()  # the tree is untouched
