"""The runner's life cycle: commands checked against the state when they arrive, nothing
carried over between pauses or runs, `with` exits never taken for a new line, clean close."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import machineless_driver, next_state

from nixtest_tui.debugger import Action, ScriptRunner
from nixtest_tui.debugger.recording import insert_recorded
from nixtest_tui.driver import Driver
from nixtest_tui.driver.events import ScriptStateChanged

SCRIPT = textwrap.dedent("""\
    with subtest("block"):
        a = 1
        b = 2
    c = 3
    t.assertEqual(c, 4)
    d = 5
""")


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Driver]:
    with machineless_driver(tmp_path, SCRIPT) as running:
        yield running


def test_commands_only_in_states_that_take_them(driver: Driver) -> None:
    runner = ScriptRunner(driver)
    with driver.bus.subscribe(ScriptStateChanged) as events:
        assert runner.continue_() == "the script is not running (F5 runs it)"
        assert runner.resolve_failure(Action.SKIP)
        runner.add_breakpoint(2)
        runner.start()
        assert next_state(events, "paused").line == 2
        assert "failed statement only" in runner.resolve_failure(Action.SKIP)
        assert runner.continue_() == ""
        assert runner.continue_() == "the script is already resuming"  # not queued for later
        failure = next_state(events, "paused")
        assert (failure.line, failure.reason) == (5, "failure")
        assert "paused on a failure" in runner.step_over()
        assert runner.resolve_failure(Action.SKIP) == ""
        assert next_state(events, "finished", "failed").state == "finished"
        assert [s.line for s in runner.skipped] == [5]
        assert runner.step_into() and runner.evaluate("1").error  # after the end: refused
        runner.start()  # a new run: the breakpoint stops it as in the first one
        assert next_state(events, "paused").line == 2
        assert runner.skipped == []
        assert runner.close(timeout=10) and runner.state == "stopped"


def test_step_over_the_last_line_of_a_with_block(driver: Driver) -> None:
    """Python reports the block's exit on the `with` line again; a step must not stop there."""
    runner = ScriptRunner(driver)
    with driver.bus.subscribe(ScriptStateChanged) as events:
        runner.add_breakpoint(3)
        runner.start()
        assert next_state(events, "paused").line == 3
        runner.step_over()
        assert next_state(events, "paused").line == 4
        runner.close(timeout=10)


def test_close_leaves_no_subscription_and_no_thread(driver: Driver) -> None:
    before = len(driver.bus._subscribers)
    runner = ScriptRunner(driver)
    runner.add_breakpoint(2)
    runner.start()
    assert len(driver.bus._subscribers) == before + 1
    assert runner.close(timeout=10)
    assert len(driver.bus._subscribers) == before
    assert runner._thread is not None and not runner._thread.is_alive()


def test_recorded_lines_take_the_indentation_of_the_block() -> None:
    text = "start()\nwith subtest('x'):\n    a = 1\n\n    b = 2\nend()\n"
    assert insert_recorded(text, 3, ["fix()"]).splitlines()[2] == "    fix()"
    assert insert_recorded(text, 4, ["fix()"]).splitlines()[3] == "    fix()"  # a blank line
    assert insert_recorded(text, 6, ["  fix()"]).splitlines()[5] == "fix()"
    assert insert_recorded(text, 99, ["fix()"]).splitlines()[-1] == "fix()"
