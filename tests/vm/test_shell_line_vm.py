"""Shell lines on a real tiny guest: output, `cd` remembered, console stderr, cancel in step."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import NetworkFactory, wait_until

from nixtest_tui.driver import Driver, QemuMachine
from nixtest_tui.driver.logger import CompositeLogger, TerminalLogger
from nixtest_tui.driver.shell_line import CANCELLED_STATUS, CHUNK, LineResult, ShellSession
from nixtest_tui.guests.image import GuestImage


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory, tiny_image: GuestImage,
            accelerator: str) -> Iterator[QemuMachine]:
    root = tmp_path_factory.mktemp("shell-line")
    config = NetworkFactory(root, tiny_image, accelerator)("shelly")
    tmp = root / "tmp"
    tmp.mkdir()
    logger = CompositeLogger([TerminalLogger(io.StringIO(), colour=False)])
    with Driver(config, out_dir=root, logger=logger, tmp_dir=tmp) as driver:
        [shelly] = driver.machines
        assert isinstance(shelly, QemuMachine)
        shelly.start()
        shelly.connect()
        yield shelly


def sleeps_left(machine: QemuMachine, marker: str) -> int:
    out = machine.succeed("ps -o args | grep -v grep | grep -c -- " + repr(marker) + " || true")
    return int(out.strip() or "0")


def test_a_line_answers_with_stdout_and_status(machine: QemuMachine) -> None:
    shell = ShellSession(machine)
    result = shell.run("echo $((6*7))")
    assert (result.status, result.stdout, result.cancelled) == (0, b"42\n", False)
    assert shell.run("exit 3").status == 3
    assert shell.run("false; echo after").stdout == b"after\n"  # no `set -e` as in scripts
    # stdin is /dev/null: a line that reads it ends instead of eating the backdoor's channel
    assert shell.run("cat; echo done").stdout == b"done\n"
    assert machine.succeed("echo in-step") == "in-step\n"
    assert machine.succeed("ls -a /tmp | grep -c nixtest-shell || true").strip() == "0"


def test_cd_is_remembered_and_a_failed_cd_keeps_the_old_directory(machine: QemuMachine) -> None:
    shell = ShellSession(machine)
    assert shell.run("cd /etc").status == 0
    assert shell.cwd == "/etc"
    assert shell.run("pwd").stdout == b"/etc\n"
    assert shell.run("cd sub-dir-that-is-not-there").status != 0
    assert shell.run("pwd; cd .. && pwd").stdout == b"/etc\n/\n"
    assert shell.cwd == "/"
    # another shell has a directory of its own: it starts where the backdoor's commands run
    assert ShellSession(machine).run("pwd").stdout.decode() == machine.succeed("pwd")
    assert machine.succeed("pwd") != "/\n"


def test_stderr_reaches_the_console_and_is_reported_with_the_line(machine: QemuMachine) -> None:
    result = ShellSession(machine).run("echo to-stdout; echo oops-on-stderr >&2; exit 4")
    assert result.status == 4 and result.stdout == b"to-stdout\n"
    # the console line may trail the reply by a moment: it is in the serial log soon after
    wait_until(lambda: "oops-on-stderr" in machine.full_console_log[-50:], 10,
               "the stderr line on the console")
    assert result.stderr == b""


def test_output_streams_while_the_line_runs(machine: QemuMachine) -> None:
    pieces: list[bytes] = []
    result = ShellSession(machine).run("for i in 1 2 3; do echo $i; sleep 0.6; done",
                                       lambda out, _err: pieces.append(out))
    assert result.stdout == b"1\n2\n3\n"
    assert len(pieces) >= 2, pieces  # not all at the end


def test_output_larger_than_one_poll_arrives_whole(machine: QemuMachine) -> None:
    size = CHUNK * 2 + 12345
    result = ShellSession(machine).run(f"head -c {size} /dev/zero | tr '\\0' a")
    assert result.status == 0 and len(result.stdout) == size
    assert set(result.stdout) == {ord("a")}


def run_in_thread(shell: ShellSession, line: str) -> tuple[threading.Thread, list[LineResult],
                                                            threading.Event]:
    results: list[LineResult] = []
    spoke = threading.Event()

    def run() -> None:
        try:
            results.append(shell.run(line, lambda out, _err: spoke.set()))
        except BaseException as exc:  # the assertion on `results` shows what went wrong
            errors.append(exc)
            spoke.set()
            raise

    errors: list[BaseException] = []
    thread = threading.Thread(target=run)
    thread.start()
    thread.errors = errors  # type: ignore[attr-defined]
    return thread, results, spoke


@pytest.mark.parametrize("round_", range(5))
def test_cancel_kills_the_guest_command_and_the_channel_stays_in_step(
        machine: QemuMachine, round_: int) -> None:
    """Cancelled at different moments: just after it spoke, then later and later."""
    shell = ShellSession(machine)
    marker = f"sleep 10{round_}"
    thread, results, spoke = run_in_thread(shell, f"echo started; {marker}; echo never")
    assert spoke.wait(30), "the line never started"
    deadline = time.monotonic() + 0.3 * round_
    while time.monotonic() < deadline:  # cancel later in each round, while it keeps running
        assert thread.is_alive()
        time.sleep(0.05)
    cancelled_at = time.monotonic()
    shell.cancel()
    thread.join(30)
    assert not thread.is_alive()
    assert len(results) == 1, f"the line raised {getattr(thread, 'errors', None)!r}"
    [result] = results
    assert result.cancelled and result.status == CANCELLED_STATUS
    assert result.stdout == b"started\n"
    took = time.monotonic() - cancelled_at
    assert took < 20, took  # generous: the guest is TCG and the host is shared
    assert sleeps_left(machine, marker) == 0
    answer = shell.run("echo ok")
    assert answer.stdout == b"ok\n" and answer.status == 0
    assert machine.succeed("echo in-step") == "in-step\n"


def test_a_cancel_before_any_output_still_kills_the_line(machine: QemuMachine) -> None:
    shell = ShellSession(machine)
    results: list[LineResult] = []
    thread = threading.Thread(target=lambda: results.append(shell.run("sleep 111")))
    thread.start()
    wait_until(lambda: sleeps_left(machine, "sleep 111") >= 1, 30, "the line running")
    shell.cancel()
    thread.join(30)
    assert results and results[0].cancelled
    assert sleeps_left(machine, "sleep 111") == 0
    assert machine.succeed("ls -a /tmp | grep -c nixtest-shell || true").strip() == "0"
