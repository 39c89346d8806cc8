"""Fault matrix, machine faults: real tiny guests are killed, panicked, cut off from their
backdoor and their switch, and the driver must say what happened within seconds, leave the
other machines alone, and tear down cleanly."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import NetworkFactory, processes_of_this_session

from nixtest_tui.driver import Driver, MachineError, QemuMachine
from nixtest_tui.driver.logger import CompositeLogger, TerminalLogger
from nixtest_tui.guests.image import GuestImage

pytestmark = pytest.mark.vm


def qemu(driver: Driver, name: str) -> QemuMachine:
    machine = next(m for m in driver.machines if m.name == name)
    assert isinstance(machine, QemuMachine)
    return machine


def none_left(root: Path) -> None:
    deadline = time.monotonic() + 10
    while [p for p in processes_of_this_session() if str(root) in p] \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in processes_of_this_session() if str(root) in p]


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory, tiny_image: GuestImage,
         accelerator: str) -> Iterator[Driver]:
    """Three machines on one VLAN: each test breaks one, `bystander` must not notice."""
    root = tmp_path_factory.mktemp("trio")
    config = NetworkFactory(root, tiny_image, accelerator)("victim", "panicker", "bystander")
    tmp = root / "tmp"
    tmp.mkdir()
    with Driver(config, out_dir=root, tmp_dir=tmp) as driver:
        driver.start_all()
        for machine in driver.machines:
            machine.succeed("true")
        yield driver
    none_left(tmp)


def test_sigkilled_qemu_is_a_machine_error_within_5_s(trio: Driver) -> None:
    victim = qemu(trio, "victim")
    assert victim.process is not None
    killer = threading.Timer(1.0, victim.process.kill)
    killer.start()
    started = time.monotonic()
    with pytest.raises(MachineError) as error:
        victim.succeed("sleep 60")
    elapsed = time.monotonic() - started - 1.0
    assert "QEMU of victim exited with code -9" in str(error.value)
    assert elapsed < 5, f"noticed after {elapsed:.1f} s"
    bystander = qemu(trio, "bystander")
    assert bystander.succeed("ping -c 1 -W 5 panicker >/dev/null && echo fine") == "fine\n"


def test_kernel_panic_shows_the_last_serial_lines(trio: Driver) -> None:
    panicker = qemu(trio, "panicker")
    panicker.succeed("echo 1 > /proc/sys/kernel/sysrq")
    with pytest.raises(MachineError) as error:
        panicker.succeed("echo c > /proc/sysrq-trigger")
    message = str(error.value)
    assert "QEMU of panicker exited with code" in message and "last serial lines:" in message
    assert "Kernel panic" in message
    assert qemu(trio, "bystander").succeed("echo fine") == "fine\n"


def test_missing_backdoor_is_a_bounded_wait_that_says_what_it_saw(
        network: NetworkFactory, driver_tmp: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIXTEST_BACKDOOR_TIMEOUT", "3")
    monkeypatch.setenv("QEMU_KERNEL_PARAMS", "testguest.nobackdoor")
    config = network("mute")
    with Driver(config, out_dir=tmp_path, tmp_dir=driver_tmp) as driver:
        mute = qemu(driver, "mute")
        assert mute.backdoor_timeout == 3.0
        mute.start()
        mute.wait_for_console_text("backdoor disabled", timeout=timedelta(seconds=120))
        started = time.monotonic()
        with pytest.raises(MachineError) as error:
            mute.succeed("true")
        elapsed = time.monotonic() - started
    message = str(error.value)
    assert message.startswith("mute: the backdoor shell did not start within 3 s "
                              "(nothing arrived on it)")
    assert "testguest: backdoor disabled by testguest.nobackdoor" in message
    assert "Check: that the guest booted" in message and "NIXTEST_BACKDOOR_TIMEOUT" in message
    assert 2.5 < elapsed < 30
    none_left(driver_tmp)


def test_exited_backdoor_shell_is_an_error_and_the_machine_restarts(
        network: NetworkFactory, driver_tmp: Path, tmp_path: Path) -> None:
    config = network("shelly")
    with Driver(config, out_dir=tmp_path, tmp_dir=driver_tmp) as driver:
        shelly = qemu(driver, "shelly")
        shelly.succeed("true")
        assert shelly.shell is not None
        shelly.shell.send_raw(b"exec false\n")  # typed into the shell itself, not a command
        with pytest.raises(MachineError, match="Shell disconnected: the backdoor shell"):
            shelly.succeed("true")
        with pytest.raises(MachineError, match="Shell disconnected"):
            shelly.shutdown()  # would wait for a poweroff nobody runs
        shelly.crash()
        shelly.start()
        assert shelly.succeed("echo back") == "back\n"
        # the shell dies while a command runs: the reply never comes, the sentinel's word does
        started = time.monotonic()
        with pytest.raises(MachineError, match="Shell disconnected"):
            shelly.succeed("kill -9 $PPID; sleep 1")
        assert time.monotonic() - started < 30
        shelly.crash()
        shelly.start()
        assert shelly.succeed("echo again") == "again\n"
    none_left(driver_tmp)


def test_killed_switch_is_named_on_the_next_command_and_teardown_is_clean(
        network: NetworkFactory, driver_tmp: Path, tmp_path: Path) -> None:
    config = network("alice", "bob")
    with Driver(config, out_dir=tmp_path, tmp_dir=driver_tmp) as driver:
        driver.start_all()
        alice = qemu(driver, "alice")
        alice.succeed("ping -c 1 -W 5 bob")
        switch = driver.vlans[0]
        assert switch.process is not None
        switch.process.send_signal(signal.SIGKILL)
        switch.process.wait(10)
        with pytest.raises(MachineError, match=r"the switch of VLAN 1 \(vde_switch, pid \d+\) "
                                               "exited with code -9"):
            alice.succeed("ping -c 1 -W 5 bob")
        alice.crash()  # monitor commands still work
    assert not list(driver_tmp.glob("vde*.ctl")), "stale switch socket left behind"
    none_left(driver_tmp)


def test_sockets_and_state_dirs_are_private_and_nothing_listens_on_tcp(
        network: NetworkFactory, driver_tmp: Path, tmp_path: Path) -> None:
    config = network("sec")
    with Driver(config, out_dir=tmp_path, tmp_dir=driver_tmp) as driver:
        sec = qemu(driver, "sec")
        sec.succeed("true")
        modes = {p.name: p.stat().st_mode & 0o777
                 for p in (sec.state_dir, sec.shared_dir, sec.monitor_path, sec.shell_path,
                           sec.qmp_path, driver.vlans[0].socket_dir)}
        assert modes == {"vm-state-sec": 0o700, "shared-xchg": 0o700, "monitor": 0o600,
                         "shell": 0o600, "qmp": 0o600, "vde1.ctl": 0o700}
        assert sec.pid is not None and driver.vlans[0].pid is not None
        assert tcp_listeners(os.getpid(), sec.pid, driver.vlans[0].pid) == []
        # a file the guest links to a host path must arrive as a link, not as the host file
        sec.succeed("mkdir -p /root/loot && ln -s /etc/hostname /root/loot/host-file",
                    "ln -s /etc /root/host-etc")
        sec.copy_from_machine("/root/loot", "got")
        assert (tmp_path / "got" / "loot" / "host-file").is_symlink()
        sec.copy_from_machine("/root/host-etc", "")
        with pytest.raises(MachineError, match="outside the chosen directory"):
            sec.copy_from_machine("/root/loot", "host-etc")  # through the link just copied
    none_left(driver_tmp)


def tcp_listeners(*pids: int) -> list[str]:
    """Listening TCP sockets (v4 and v6) held by any of `pids`."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                found.append(f"{table}: {fields[1]}")
    return found


# -- leaks over many start/stop cycles ---------------------------------------------------------

def resources() -> dict[str, int]:
    fds = list(Path("/proc/self/fd").iterdir())
    sockets = 0
    for fd in fds:
        try:
            sockets += os.readlink(fd).startswith("socket:")
        except OSError:
            pass
    return {"fds": len(fds), "sockets": sockets, "threads": threading.active_count()}


def settled(before: dict[str, int]) -> dict[str, int]:
    """Counts once finished threads are gone (reader threads end at EOF, a moment later)."""
    deadline = time.monotonic() + 10
    while (now := resources()) != before and time.monotonic() < deadline:
        time.sleep(0.2)
    return now


def cycle(machine: QemuMachine, boot: bool) -> None:
    machine.start()
    if boot:
        assert machine.succeed("echo up") == "up\n"
        machine.shutdown()
    else:
        machine.crash()


def run_cycles(network: NetworkFactory, driver_tmp: Path, tmp_path: Path, count: int,
               boot: bool) -> tuple[dict[str, int], dict[str, int]]:
    log = io.StringIO()
    logger = CompositeLogger([TerminalLogger(log, colour=False)])
    with Driver(network("cycler"), out_dir=tmp_path, logger=logger,
                tmp_dir=driver_tmp) as driver:
        machine = qemu(driver, "cycler")
        cycle(machine, boot=True)  # warm-up: the spawner thread, imports, QMP's first loop
        before = resources()
        started = time.monotonic()
        for _ in range(count):
            cycle(machine, boot)
        after = settled(before)
        elapsed = time.monotonic() - started
    print(f"\n{count} cycles (boot={boot}) in {elapsed:.1f} s: before {before}, after {after}")
    none_left(driver_tmp)
    return before, after


def test_ten_start_crash_cycles_leak_nothing(network: NetworkFactory, driver_tmp: Path,
                                             tmp_path: Path) -> None:
    before, after = run_cycles(network, driver_tmp, tmp_path, 10, boot=False)
    assert after == before


@pytest.mark.slow
def test_fifty_boot_shutdown_cycles_leak_nothing(network: NetworkFactory, driver_tmp: Path,
                                                 tmp_path: Path) -> None:
    before, after = run_cycles(network, driver_tmp, tmp_path, 50, boot=True)
    assert after == before
