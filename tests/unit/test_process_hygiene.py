"""Children spawned by the driver die with it, even when the driver is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nixtest_tui.driver.vlan import VLan

PARENT = """
import sys, threading
from nixtest_tui.driver.process import spawn
children = []
def start():
    children.append(spawn(["sleep", "1000"]))
worker = threading.Thread(target=start)
worker.start(); worker.join()
import os, time
while os.path.exists(f"/proc/self/task/{worker.native_id}"):  # join() returns first
    time.sleep(0.01)
print(children[0].pid, flush=True)      # the thread that asked for the child is gone now
sys.stdin.read()
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def test_child_survives_its_starter_thread_but_not_a_sigkill_of_the_driver() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout
    child = int(parent.stdout.readline())
    watched_until = time.monotonic() + 0.5  # a death signal would have been sent already
    while time.monotonic() < watched_until:
        assert alive(child), "the child died with the thread that started it"
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the child outlived a SIGKILLed driver"


def test_vlan_starts_answers_and_cleans_up(tmp_path: Path) -> None:
    vlan = VLan(7, tmp_path)
    vlan.start()
    assert (tmp_path / "vde7.ctl" / "ctl").exists()
    assert os.environ["QEMU_VDE_SOCKET_7"] == str(tmp_path / "vde7.ctl")
    assert repr(vlan) == "<Vlan Nr. 7>"
    pid = vlan.pid
    assert pid is not None and alive(pid)
    vlan.stop()
    assert not alive(pid) and not (tmp_path / "vde7.ctl").exists()
    assert "QEMU_VDE_SOCKET_7" not in os.environ


def test_vlan_removes_a_stale_socket_dir(tmp_path: Path) -> None:
    stale = tmp_path / "vde3.ctl"
    stale.mkdir()
    (stale / "ctl").write_text("left over from a crashed run")
    vlan = VLan(3, tmp_path)
    vlan.start()
    try:
        assert (stale / "ctl").is_socket()
    finally:
        vlan.stop()
