"""Fault matrix, the driver process itself: SIGKILLed, run twice at once, its TUI hung up, its
output directory full. Each test runs the real CLI in a child process with real guests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from conftest import NetworkFactory, processes_of_this_session, wait_until
from harness import COLUMNS, F5, HANGING, ROWS, Terminal

from nixtest_tui.driver.stateroot import StateRoot
from nixtest_tui.driver.vlan import VLan

pytestmark = pytest.mark.vm


def ours(root: Path) -> list[str]:
    return [p for p in processes_of_this_session() if str(root) in p]



def wait_for_line(process: subprocess.Popen[str], needle: str, seconds: float) -> None:
    """Read the driver's log (stderr) until a line holds `needle`."""
    assert process.stderr is not None
    deadline = time.monotonic() + seconds
    for line in process.stderr:
        if needle in line:
            return
        assert time.monotonic() < deadline, f"the log never said {needle!r}"
    raise AssertionError(f"the driver ended before its log said {needle!r}")


def driver_process(runtime: Path, *args: str) -> subprocess.Popen[str]:
    runtime.mkdir(exist_ok=True)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), NO_COLOR="1")
    return subprocess.Popen([sys.executable, "-m", "nixtest_tui.drop_in", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkilled_driver_leaves_no_process_and_nothing_that_breaks_the_next_run(
        network: NetworkFactory, tmp_path: Path) -> None:
    config = network("alice", script=HANGING)
    runtime = tmp_path / "runtime"
    driver = driver_process(runtime, "-c", str(config.source), "-o", str(tmp_path))
    try:
        wait_until(lambda: (runtime / "vm-state-alice" / "shell").exists(), 120, "QEMU")
        wait_until(lambda: len(ours(runtime)) >= 2, 30, "QEMU and vde_switch")
        wait_for_line(driver, "must succeed: sleep 600", 120)  # inside the guest command
        driver.send_signal(signal.SIGKILL)
        driver.communicate(timeout=30)
    finally:
        if driver.poll() is None:
            driver.kill()
    wait_until(lambda: ours(runtime) == [], 10, "the children of a SIGKILLed driver to die")
    # what the dead driver left is no obstacle: the lock died with it, the stale switch socket
    # directory is replaced
    root = StateRoot(runtime)
    assert root.claim() == runtime and not root.per_run
    root.release(keep=False)
    vlan = VLan(1, runtime)
    vlan.start()
    vlan.stop()


TWO_AT_ONCE = """
import time
from pathlib import Path
me, other = Path(os.environ["ME"]), Path(os.environ["OTHER"])

def meet(step):
    (me.parent / f"{me.name}-{step}").touch()
    deadline = time.monotonic() + 180
    while not (other.parent / f"{other.name}-{step}").exists():
        assert time.monotonic() < deadline, "the other driver never got to " + step
        time.sleep(0.2)

meet("vlans-up")                # both switches run before either machine starts
alice.succeed(f"echo {me.name} > /tmp/xchg/who")
meet("written")
assert alice.succeed("cat /tmp/xchg/who").strip() == me.name, "state dir clobbered"
meet("done")
"""


@pytest.fixture
def short_runtime() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="nt-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_two_drivers_with_the_same_machine_names_do_not_clobber_each_other(
        network: NetworkFactory, tmp_path: Path, short_runtime: Path) -> None:
    config = network("alice", script=TWO_AT_ONCE)
    runtime = short_runtime  # a per-run root is one level deeper; sockets have 107 bytes
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    drivers = []
    for me, other in (("one", "two"), ("two", "one")):
        env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), NO_COLOR="1",
                   ME=str(meeting / me), OTHER=str(meeting / other))
        drivers.append(subprocess.Popen(
            [sys.executable, "-m", "nixtest_tui.drop_in", "-c", str(config.source), "-o",
             str(tmp_path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [d.communicate(timeout=300) for d in drivers]
    assert [d.returncode for d in drivers] == [0, 0], "\n=====\n".join(e for _, e in results)
    moved = [stderr for _, stderr in results if "is in use by pid" in stderr]
    assert len(moved) == 1, "exactly one driver moves to a per-run state root"
    assert f"{runtime} is in use by pid" in moved[0] and "/run-" in moved[0]
    assert not list(runtime.glob("run-*")), "the per-run root was not removed"
    assert ours(runtime) == []


def test_tui_hung_up_while_machines_run_tears_down(network: NetworkFactory,
                                                   tmp_path: Path) -> None:
    config = network("alice", script=HANGING)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    env = dict(os.environ, TERM="xterm-256color", XDG_RUNTIME_DIR=str(runtime))
    child = pexpect.spawn(sys.executable, ["-m", "nixtest_tui", "-c", str(config.source), "-o",
                                           str(tmp_path)],
                          env=env, dimensions=(ROWS, COLUMNS), cwd=str(tmp_path))
    terminal = Terminal(child)
    try:
        terminal.wait_for("F5 runs the script")
        child.send(F5)
        wait_until(lambda: any("qemu-system" in p for p in ours(runtime)), 120, "QEMU")
        terminal.wait_for("sleep 600", seconds=120)
        assert ours(runtime), "nothing was running when the terminal went away"
        child.kill(signal.SIGHUP)  # what the terminal sends when its window is closed
        deadline = time.monotonic() + 60
        while child.isalive():
            assert time.monotonic() < deadline, "the TUI did not exit after SIGHUP"
            try:  # keep the pty drained: a TUI blocked writing its last frame cannot exit
                child.read_nonblocking(65536, timeout=0.5)
            except (pexpect.TIMEOUT, pexpect.EOF):
                pass
        assert child.wait() == 128 + signal.SIGHUP
    finally:
        child.close(force=True)
    wait_until(lambda: not ours(runtime), 10, "QEMU and vde_switch to go")
    # a switch that died with its parent (PR_SET_PDEATHSIG) leaves its socket directory;
    # only the driver's own teardown removes it
    assert not list(runtime.glob("vde*.ctl")), "the switch was not stopped cleanly"


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs to fill up: a real ENOSPC without filling the machine's disk."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


DISK_FULL = """
import os
alice.start()
alice.screenshot("fits")
with open(os.path.join(driver.out_dir, "filler"), "wb", buffering=0) as filler:
    try:
        while True:
            filler.write(b"x" * 65536)
    except OSError:
        pass
try:
    alice.screenshot("on-a-full-disk")
except Exception as error:
    print("SCREENSHOT FAILED:", error)
alice.succeed("echo the test goes on")
with subtest("a screenshot on a full disk"):
    alice.screenshot("fails-the-test")
"""


def test_full_output_dir_fails_cleanly_without_a_partial_junit(network: NetworkFactory,
                                                               tmp_path: Path,
                                                               tiny_disk: Path) -> None:
    config = network("alice", script=DISK_FULL)
    driver = driver_process(tmp_path / "runtime", "-c", str(config.source), "-o",
                            str(tiny_disk), "--junit-xml", "junit.xml")
    stdout, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 1, stderr
    assert (tiny_disk / "fits.png").stat().st_size > 0
    failed = [line for line in stdout.splitlines() if line.startswith("SCREENSHOT FAILED:")]
    assert failed and "No space left on device" in failed[0], stdout
    assert "alice: must succeed: echo the test goes on" in stderr
    assert '!!! Test "a screenshot on a full disk" failed' in stderr
    assert f"nixos-test-driver: error: cannot write {tiny_disk / 'junit.xml'}: No space left " \
           "on device" in stderr
    leftovers = sorted(p.name for p in tiny_disk.iterdir()
                       if p.name not in ("fits.png", "filler"))
    assert leftovers == [], f"partial files left: {leftovers}"
    assert ours(tmp_path / "runtime") == []
    (tiny_disk / "filler").unlink()
    assert not (tiny_disk / "junit.xml").exists()
