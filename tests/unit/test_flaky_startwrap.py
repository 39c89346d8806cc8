"""The chaos wrapper's helpers, real (vde_switch, wirefilter, the starve helper) around a
stand-in machine process: they work while it lives and are gone once it is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_until

from nixtest_tui.flaky.chaos import PLAN_VARIABLE, ChaosPlan, wrap_configuration


def children_of(pid: int) -> list[tuple[int, str]]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append((int(proc.name), cmdline))
    return found


def state_of(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]




@pytest.fixture
def switch(tmp_path: Path) -> Iterator[Path]:
    """The VLAN's switch, as the driver starts it."""
    sock = tmp_path / "vde1.ctl"
    process = subprocess.Popen(["vde_switch", "--sock", str(sock), "--hub"],
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    wait_until(lambda: (sock / "ctl").exists())
    yield sock
    assert process.stdin is not None
    process.stdin.close()
    process.wait(10)


def starving(pid: int) -> bool:
    """Whether the cpu-starve helper runs beside the machine."""
    return any("nixtest_tui.flaky.starve" in c for _, c in children_of(pid))


def start_machine(tmp_path: Path, plan: ChaosPlan, switch: Path) -> subprocess.Popen[bytes]:
    """A stand-in `run-m-vm` that plugs into VLAN 1 as a start script does, reports the
    socket it got and sleeps like a QEMU."""
    original = tmp_path / "run-m-vm"
    original.write_text(
        f"#!{sys.executable}\n# -netdev vde,sock=$QEMU_VDE_SOCKET_1\nimport json, os, time\n"
        f"json.dump(os.environ.get('QEMU_VDE_SOCKET_1'), open({str(tmp_path / 'sock')!r}, "
        "'w'))\ntime.sleep(600)\n")
    original.chmod(0o755)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"vms": {"m": {"start_script": str(original)}}}))
    script = json.loads(wrap_configuration(config, tmp_path / "chaos").read_text())
    state = tmp_path / "state"
    state.mkdir()
    env = dict(os.environ, TMPDIR=str(state), QEMU_VDE_SOCKET_1=str(switch),
               **{PLAN_VARIABLE: plan.to_json()})
    return subprocess.Popen([script["vms"]["m"]["start_script"]], env=env,
                            stderr=subprocess.DEVNULL)


def test_net_chaos_puts_a_hub_and_wirefilter_between_machine_and_switch(
        tmp_path: Path, switch: Path) -> None:
    machine = start_machine(tmp_path, ChaosPlan(delay_ms=30, jitter_ms=10, loss_percent=5,
                                                seed=3), switch)
    try:
        wait_until(lambda: (tmp_path / "sock").exists() and (tmp_path / "sock").stat().st_size)
        given = Path(json.loads((tmp_path / "sock").read_text()))
        assert given == tmp_path / "state" / "chaos-vde1.ctl" and (given / "ctl").exists()
        helpers = [cmd for _, cmd in children_of(machine.pid)]
        assert any(c.startswith("vde_switch --sock " + str(given)) for c in helpers)
        assert any(f"wirefilter -v {given}:{switch} -d 30+10 -l 5" in c for c in helpers)
    finally:
        machine.kill()
        machine.wait()
    wait_until(lambda: not children_of(machine.pid))


def test_cpu_starvation_stops_and_continues_the_machine_and_ends_with_it(
        tmp_path: Path, switch: Path) -> None:
    machine = start_machine(tmp_path, ChaosPlan(cpu_share={"m": 20.0}, seed=1), switch)
    try:
        wait_until(lambda: starving(machine.pid))
        wait_until(lambda: state_of(machine.pid) == "T")  # stopped 80 % of the time
        wait_until(lambda: state_of(machine.pid) in "SR")  # and running again
    finally:
        machine.kill()
        machine.wait()
    wait_until(lambda: not children_of(machine.pid))


def test_a_stopped_machine_is_continued_when_the_helper_is_told_to_end(
        tmp_path: Path, switch: Path) -> None:
    machine = start_machine(tmp_path, ChaosPlan(cpu_share={"m": 5.0}, seed=2), switch)
    try:
        wait_until(lambda: starving(machine.pid))
        helper = next(pid for pid, c in children_of(machine.pid) if "flaky.starve" in c)
        wait_until(lambda: state_of(machine.pid) == "T")
        os.kill(helper, signal.SIGTERM)
        wait_until(lambda: not Path(f"/proc/{helper}").exists() or state_of(helper) == "Z")
        window = time.monotonic() + 0.5  # five starve cycles: nothing stops the machine now
        seen = set()
        while time.monotonic() < window:
            seen.add(state_of(machine.pid))
            time.sleep(0.01)
        assert seen <= {"S", "R"}
    finally:
        machine.kill()
        machine.wait()
