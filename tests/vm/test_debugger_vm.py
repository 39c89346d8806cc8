"""The debugger against a real guest: retry after fixing the guest, pause and cancel a wait."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import NetworkFactory
from harness import next_state

from nixtest_tui.debugger import Action, ScriptRunner
from nixtest_tui.driver import Driver
from nixtest_tui.driver.events import PauseRequested, ScriptStateChanged, WaitStarted
from nixtest_tui.driver.logger import CompositeLogger, TerminalLogger

pytestmark = pytest.mark.vm

SCRIPT = """\
from datetime import timedelta
server.succeed("rm -f /tmp/flag")
with subtest("needs a flag"):
    server.wait_for_file("/tmp/flag", timeout=timedelta(seconds=2))
    flag = server.succeed("cat /tmp/flag")
with subtest("a long wait"):
    server.wait_until_succeeds("test -e /tmp/never", timeout=timedelta(minutes=10))
after = True
"""


@pytest.fixture
def driver(network: NetworkFactory, driver_tmp: Path, tmp_path: Path) -> Iterator[Driver]:
    config = network("server", script=SCRIPT)
    logger = CompositeLogger([TerminalLogger(io.StringIO(), colour=False)])
    with Driver(config, tmp_path, logger, tmp_dir=driver_tmp) as running:
        yield running


def test_retry_after_fixing_the_guest_then_cancel_a_long_wait(driver: Driver) -> None:
    runner = ScriptRunner(driver)
    events = driver.bus.subscribe(ScriptStateChanged, PauseRequested)
    runner.start()
    paused = next_state(events, "paused")
    assert (paused.line, paused.reason) == (4, "failure")
    assert "action timed out" in paused.error
    fixed = runner.evaluate('server.succeed("echo fixed > /tmp/flag")')
    assert fixed.ok, fixed.error
    runner.resolve_failure(Action.RETRY)
    # the retried statement passes; the script goes on into the 10-minute wait
    never = "test -e /tmp/never"
    waits = driver.bus.subscribe(WaitStarted, replay=True,
                                 predicate=lambda e: getattr(e, "target", "") == never)
    assert waits.get(timeout=60) is not None
    busy = runner.pause()
    assert "waiting for command test -e /tmp/never" in busy
    requested = events.get(timeout=10)
    while not isinstance(requested, PauseRequested):
        requested = events.get(timeout=10)
    assert requested.busy == busy
    runner.cancel_wait()
    paused = next_state(events, "paused")
    assert paused.reason == "failure" and "cancelled by the user" in paused.error
    assert runner.evaluate("flag").output == "'fixed\\n'"
    runner.add_breakpoint(8)
    runner.resolve_failure(Action.SKIP)  # (the failure pause served the pause request)
    paused = next_state(events, "paused")
    assert (paused.line, paused.reason) == (8, "breakpoint")
    runner.continue_()
    assert next_state(events, "finished", "failed").state == "finished"
