"""The driver's machine API against real tiny guests (QEMU under TCG, vde_switch)."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import NetworkFactory

from nixtest_tui.driver import Driver, MachineError, QemuMachine, RequestedAssertionFailed
from nixtest_tui.driver.events import (
    CommandFinished,
    CommandStarted,
    MachineStateChanged,
    WaitFinished,
    WaitStarted,
)
from nixtest_tui.driver.logger import CompositeLogger, TerminalLogger
from nixtest_tui.guests.image import GuestImage

pytestmark = pytest.mark.vm
SECONDS = timedelta(seconds=1)


class Pair:
    def __init__(self, driver: Driver, log: io.StringIO) -> None:
        self.driver = driver
        self.log = log
        alice, bob = driver.machines
        assert isinstance(alice, QemuMachine) and isinstance(bob, QemuMachine)
        self.alice, self.bob = alice, bob


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, tiny_image: GuestImage,
         accelerator: str) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("pair")
    config = NetworkFactory(root, tiny_image, accelerator)("alice", "bob")
    log = io.StringIO()
    logger = CompositeLogger([TerminalLogger(log, colour=False)])
    tmp = root / "tmp"
    tmp.mkdir()
    with Driver(config, out_dir=root, logger=logger, tmp_dir=tmp) as driver:
        driver.start_all()
        yield Pair(driver, log)


def test_succeed_fail_execute(pair: Pair) -> None:
    alice = pair.alice
    assert alice.succeed("echo one", "echo two") == "one\ntwo\n"
    assert alice.fail("false", "exit 3") == ""
    failed = r"command `echo out; exit 7` failed \(exit code 7\)"
    with pytest.raises(RequestedAssertionFailed, match=failed):
        alice.succeed("echo out; exit 7")
    assert "alice: output: out\n" in pair.log.getvalue()
    with pytest.raises(RequestedAssertionFailed, match="command `true` unexpectedly succeeded"):
        alice.fail("true")
    assert alice.execute("sleep 10", timeout=timedelta(seconds=1)) == (124, "")
    assert alice.execute("echo x; exit 2", check_return=False) == (-1, "x\n")
    assert alice.execute("echo lost", check_output=False) == (-2, "")
    assert alice.succeed("echo in sync") == "in sync\n"


def test_bare_number_durations_still_work_with_a_warning(pair: Pair) -> None:
    with pytest.warns(UserWarning, match="bare int/float"):
        assert pair.bob.execute("true", timeout=30)[0] == 0
    with pytest.raises(TypeError):
        pair.bob.execute("true", timeout=True)


def test_background_holder_of_stdout_is_waited_for_as_upstream(
        pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """Upstream's semantics (nixpkgs' driver tests): the output is complete when the job
    closes stdout; a redirected job does not hold the command."""
    monkeypatch.setattr("nixtest_tui.driver.backdoor.HELD_OPEN_WARNING", 1.0)
    started = time.monotonic()
    assert pair.alice.execute("(echo ONE; sleep 3; echo TWO) &") == (0, "ONE\nTWO\n")
    assert time.monotonic() - started >= 2.9
    assert "but its stdout is still open" in pair.log.getvalue()
    started = time.monotonic()
    assert pair.alice.execute("sleep 60 >/dev/null 2>&1 &")[0] == 0
    assert time.monotonic() - started < 30
    assert pair.alice.succeed("echo still in sync") == "still in sync\n"


def test_wait_for_unit_states(pair: Pair) -> None:
    bob = pair.bob
    bob.wait_for_unit("echo.service")
    bob.wait_for_unit("multi-user.target", timeout=timedelta(seconds=30))
    with pytest.raises(RequestedAssertionFailed,
                       match='unit "broken.service" reached state "failed"'):
        bob.start_job("broken.service")
        bob.wait_for_unit("broken.service")
    with pytest.raises(RequestedAssertionFailed,
                       match='unit "nope.service" is inactive and there are no pending jobs'):
        bob.wait_for_unit("nope.service")
    bob.systemctl("start --no-block slow.service")
    bob.wait_for_unit("slow.service", timeout=timedelta(seconds=60))


def test_unit_info_property_and_required_state(pair: Pair) -> None:
    alice = pair.alice
    info = alice.get_unit_info("echo.service")
    assert info["ActiveState"] == "active" and info["LoadState"] == "loaded"
    assert alice.get_unit_property("hello.service", "ActiveState") == "inactive"
    assert alice.start_job("hello")[0] == 0
    alice.require_unit_state("hello.service")
    with pytest.raises(RequestedAssertionFailed, match="to to be in state 'active'"):
        alice.require_unit_state("nope.service")
    assert alice.stop_job("hello")[0] == 0
    alice.require_unit_state("hello.service", "inactive")


def test_port_file_and_command_waits(pair: Pair) -> None:
    alice = pair.alice
    alice.wait_for_open_port(7)
    alice.wait_for_open_port(7, addr="bob", timeout=timedelta(seconds=30))
    alice.wait_for_closed_port(8)
    with pytest.raises(RequestedAssertionFailed, match=r"action timed out after .* \(timeout=2"):
        alice.wait_for_open_port(8, timeout=timedelta(seconds=2))
    alice.succeed("(sleep 2; touch /tmp/later) >/dev/null 2>&1 &")
    alice.wait_for_file("/tmp/later", timeout=timedelta(seconds=30))
    assert alice.wait_until_succeeds("cat /tmp/later && echo found") == "found\n"
    assert alice.wait_until_fails("test ! -e /tmp/later") == ""
    with pytest.raises(RequestedAssertionFailed, match="action timed out"):
        alice.wait_until_succeeds("false", timeout=timedelta(seconds=2))


def test_copies_through_the_shared_dir(pair: Pair, tmp_path: Path) -> None:
    alice = pair.alice
    (tmp_path / "file.txt").write_text("from the host\n")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "leaf").write_text("leaf\n")
    alice.copy_from_host(tmp_path / "file.txt", "/root/deep/file.txt")
    alice.copy_from_host(str(tmp_path / "tree"), "/root/tree")
    alice.copy_from_host_via_shell(tmp_path / "file.txt", "/root/via-shell/file.txt")
    assert alice.succeed("cat /root/deep/file.txt /root/tree/leaf /root/via-shell/file.txt") == (
        "from the host\nleaf\nfrom the host\n"
    )
    alice.succeed("mkdir -p /root/out && echo guest > /root/out/g.txt")
    alice.copy_from_machine("/root/out", "copied")
    assert (pair.driver.out_dir / "copied" / "out" / "g.txt").read_text() == "guest\n"


def test_serial_console_both_ways(pair: Pair) -> None:
    bob = pair.bob
    bob.succeed("true")  # booted, whatever ran before
    assert "connecting to host..." in bob.get_console_log()
    bob.succeed("echo marker-1234 > /dev/console")
    bob.wait_for_console_text("marker-12[0-9]+", timeout=timedelta(seconds=30))
    bob.succeed("(head -n 1 /dev/ttyS0 > /tmp/typed) >/dev/null 2>&1 &")
    bob.sleep(duration=timedelta(seconds=1))
    bob.send_console("typed on the serial port\n")
    bob.wait_until_succeeds("grep -q 'typed on the serial port' /tmp/typed",
                            timeout=timedelta(seconds=30))
    with pytest.raises(RequestedAssertionFailed, match="action timed out"):
        bob.wait_for_console_text("never printed anywhere", timeout=timedelta(seconds=1))


def test_monitor_qmp_and_links(pair: Pair) -> None:
    alice, bob = pair.alice, pair.bob
    assert "alice" in alice.send_monitor_command("info name")
    assert alice.qmp_client is not None
    assert alice.qmp_client.send("query-status")["return"]["status"] == "running"
    alice.qmp_client.send("stop")
    event = alice.wait_for_qmp_event(lambda e: e["event"] == "STOP", timeout=30 * SECONDS)
    assert event["event"] == "STOP"
    alice.qmp_client.send("cont")
    bob.succeed("ping -c 1 -W 5 alice")
    bob.block()
    bob.fail("ping -c 1 -W 1 alice")
    bob.unblock()
    bob.wait_until_succeeds("ping -c 1 -W 1 alice", timeout=timedelta(seconds=30))


def test_forward_port_reaches_the_guest_over_loopback(pair: Pair) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pair.alice.forward_port(port, 7)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
        connection.sendall(b"echo through hostfwd\n")
        assert connection.recv(100) == b"echo through hostfwd\n"


def test_events_describe_commands_waits_and_states(pair: Pair) -> None:
    with pair.driver.bus.subscribe(CommandStarted, CommandFinished, WaitStarted,
                                   WaitFinished) as events:
        pair.bob.succeed("echo -n 12345")
        pair.bob.wait_for_open_port(7)
        got = events.get_nowait()
    finished = [e for e in got if isinstance(e, CommandFinished) and e.command == "echo -n 12345"]
    assert finished and finished[0].status == 0 and finished[0].output_size == 5
    assert [type(e) for e in got if isinstance(e, WaitStarted | WaitFinished)] == [
        WaitStarted, WaitFinished]
    with pair.driver.bus.subscribe(MachineStateChanged) as changes:
        pair.bob.crash()
        pair.bob.succeed("true")  # starts it again
        states = [e.state for e in changes.get_nowait() if e.machine == "bob"]
    assert states == ["exited", "starting", "running", "connected"]


def test_shutdown_restart_and_crash(network: NetworkFactory, driver_tmp: Path,
                                    tmp_path: Path) -> None:
    config = network("solo")
    with Driver(config, out_dir=tmp_path, tmp_dir=driver_tmp) as driver:
        solo = driver.machines[0]
        assert isinstance(solo, QemuMachine)
        solo.succeed("echo first boot > /tmp/shared/boot")
        solo.shutdown()
        assert not solo.is_up() and solo.process is not None and solo.process.poll() == 0
        solo.start()
        assert solo.succeed("cat /tmp/shared/boot; cat /proc/uptime | cut -d. -f1") \
            .startswith("first boot\n")
        solo.crash()
        assert not solo.is_up() and solo.pid is None


def test_start_all_reports_every_machine_that_failed(
        network: NetworkFactory, driver_tmp: Path, tmp_path: Path) -> None:
    config = network("good", "bad-a", "bad-b")
    for name in ("bad-a", "bad-b"):
        Path(config.vms[name].start_script).write_text("#!/bin/sh\necho cannot boot >&2\nexit 3\n")
    with Driver(config, out_dir=tmp_path, tmp_dir=driver_tmp) as driver:
        with pytest.raises(MachineError) as error:
            driver.start_all()
    message = str(error.value)
    assert message.startswith("Failed to start the following machines:")
    assert "bad-a: QEMU process exited with code 3" in message and "bad-b:" in message
    assert "cannot boot" in message and "good" not in message.split("\n", 1)[1]
