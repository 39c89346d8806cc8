"""The debugger engine with a real Driver that has no machines: control flow only."""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import machineless_driver, next_state

from nixtest_tui.debugger import Action, ScriptModel, ScriptRunner
from nixtest_tui.debugger.transform import make_retryable
from nixtest_tui.driver import Driver
from nixtest_tui.driver.events import ScriptStateChanged, Subscription

SCRIPT = textwrap.dedent("""\
    total = 0

    def helper(n):
        doubled = n * 2
        return doubled

    for i in range(3):
        total += helper(i)
    with subtest("check"):
        result = helper(total)
    done = True
""")


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Driver]:
    with machineless_driver(tmp_path, SCRIPT) as running:
        yield running


def run(driver: Driver, text: str | None = None) -> tuple[ScriptRunner, Subscription]:
    runner = ScriptRunner(driver, text)
    events = driver.bus.subscribe(ScriptStateChanged)
    return runner, events


def test_model_lists_subtests_and_moves_breakpoints_to_statements() -> None:
    model = ScriptModel.parse(SCRIPT)
    assert [(s.name, s.line, s.end_line) for s in model.subtests] == [("check", 9, 10)]
    assert model.breakpoint_line(2) == 3  # blank line → the def
    assert model.breakpoint_line(4) == 4
    assert model.breakpoint_line(99) is None
    assert model.subtest_at(10) == model.subtests[0] and model.subtest_at(8) is None


def test_breakpoint_condition_and_evaluation_in_frame(driver: Driver) -> None:
    runner, events = run(driver)
    runner.add_breakpoint(4, condition="n == 2")
    runner.start()
    paused = next_state(events, "paused")
    assert (paused.line, paused.reason) == (4, "breakpoint")
    assert runner.evaluate("n").output == "2"
    assert runner.evaluate("n = 10").ok  # changes a function local
    assert "helper" in runner.completions("hel")
    runner.add_breakpoint(11)
    runner.continue_()
    paused = next_state(events, "paused")  # helper(total) has n == 22: the condition is false
    assert (paused.line, paused.reason) == (11, "breakpoint")
    assert runner.evaluate("total, result").output == "(22, 44)"  # 0 + 2 + 2 * 10
    runner.remove_breakpoint(4)
    runner.continue_()
    assert next_state(events, "finished", "failed").state == "finished"
    assert list(runner.breakpoints) == [11] and runner.breakpoints[11].hits == 1


def test_step_into_over_and_out(driver: Driver) -> None:
    runner, events = run(driver)
    runner.add_breakpoint(8)
    runner.start()
    assert next_state(events, "paused").line == 8
    runner.step_into()
    assert next_state(events, "paused").line == 4  # inside helper
    runner.step_over()
    assert next_state(events, "paused").line == 5
    runner.step_out()
    assert next_state(events, "paused").line in (7, 8)  # back in the loop
    runner.remove_breakpoint(8)
    runner.step_over()
    line = next_state(events, "paused").line
    assert line in (7, 8, 9)
    runner.run_to(11)
    paused = next_state(events, "paused")
    assert (paused.line, paused.reason) == (11, "run-to")
    runner.continue_()
    assert next_state(events, "finished").state == "finished"


def test_failure_pauses_then_retry_after_fixing_state(driver: Driver) -> None:
    text = "attempts = []\nready = False\nwith subtest('flaky'):\n    t.assertTrue(ready)\n"
    runner, events = run(driver, text)
    runner.start()
    paused = next_state(events, "paused")
    assert paused.reason == "failure" and paused.line == 4
    assert "AssertionError" in paused.error or "RequestedAssertionFailed" in paused.error
    assert runner.evaluate("ready = True").ok
    runner.resolve_failure(Action.RETRY)
    assert next_state(events, "finished", "failed").state == "finished"


def test_failure_skip_and_fail(driver: Driver) -> None:
    runner, events = run(driver, "x = 1\nassert_false = t.assertTrue(False)\ny = 2\n")
    runner.start()
    next_state(events, "paused")
    runner.resolve_failure(Action.SKIP)
    assert next_state(events, "finished", "failed").state == "finished"

    runner, events = run(driver, "t.assertEqual(1, 2)\n")
    runner.start()
    next_state(events, "paused")
    runner.resolve_failure(Action.FAIL)
    failed = next_state(events, "finished", "failed")
    assert failed.state == "failed" and "RequestedAssertionFailed" in failed.error


def test_handled_exceptions_do_not_pause(driver: Driver) -> None:
    text = textwrap.dedent("""\
        from test_driver.errors import RequestedAssertionFailed
        def check():
            t.assertEqual(1, 2)
        try:
            check()
        except RequestedAssertionFailed:
            handled = True
        with t.assertRaises(RequestedAssertionFailed):
            t.assertTrue(False)
    """)
    runner, events = run(driver, text)
    runner.start()
    assert next_state(events, "finished", "failed", "paused").state == "finished"


def wait_in_loop(runner: ScriptRunner) -> None:
    deadline = time.monotonic() + 10
    while runner.running_line() not in (3, 4, 5):
        assert time.monotonic() < deadline, "the script never reached its loop"
        time.sleep(0.01)


def test_pause_while_running_and_restart(driver: Driver) -> None:
    text = "import time\ncount = 0\nwhile True:\n    count += 1\n    time.sleep(0.01)\n"
    runner, events = run(driver, text)
    runner.start()
    next_state(events, "running")
    wait_in_loop(runner)
    assert runner.pause() == ""
    paused = next_state(events, "paused")
    assert paused.reason == "user" and paused.line in (3, 4, 5)
    first = int(runner.evaluate("count").output)
    runner.restart()
    next_state(events, "running")
    wait_in_loop(runner)
    runner.pause()
    next_state(events, "paused")
    assert int(runner.evaluate("count").output) <= first + 200  # counted again from zero
    assert runner.close(timeout=10) and runner.state == "stopped"


def test_tracer_never_traces_driver_or_stdlib_frames(driver: Driver) -> None:
    """Count the frames the tracer installs itself on: only script code objects."""
    runner, events = run(driver, "import json\nfor i in range(50):\n    json.dumps({'a': i})\n")
    traced: list[str] = []
    tracer = runner._tracer
    original = tracer.on_call

    def counting(frame, event, arg):  # type: ignore[no-untyped-def]
        result = original(frame, event, arg)
        if result is not None:
            traced.append(frame.f_code.co_filename)
        return result

    tracer.on_call = counting  # type: ignore[method-assign]
    runner.add_breakpoint(3)
    runner.start()
    next_state(events, "paused")
    runner.remove_breakpoint(3)
    runner.continue_()
    next_state(events, "finished")
    assert traced and set(traced) == {"<string>"}


def test_rewrite_keeps_line_numbers_in_tracebacks() -> None:
    tracer = sys.gettrace()
    code = make_retryable("x = 1\n\nint('not a number')\n")

    class Fail:
        def on_failure(self, error: BaseException, line: int) -> str:
            return "raise"

    with pytest.raises(ValueError) as error:
        exec(code, {"__nixtest_debugger__": Fail()})
    frames = [f for f in __import__("traceback").extract_tb(error.value.__traceback__)
              if f.filename == "<string>"]
    assert [f.lineno for f in frames] == [3]
    assert sys.gettrace() is tracer  # running the rewritten code leaves no tracer behind
