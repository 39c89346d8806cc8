"""Run from here: a paused run goes on from another top-level line (or a line in a subtest's
body) in the same globals, without restarting anything; other lines are refused with what to
do instead; leaving a subtest that way is not a failure; the driver log says where it jumped."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import next_state

from nixtest_tui.debugger import ScriptRunner
from nixtest_tui.debugger.jump import source_from
from nixtest_tui.driver import Driver
from nixtest_tui.driver.config import DriverConfiguration
from nixtest_tui.driver.events import EventBus, LogMessage, NestFinished, ScriptStateChanged
from nixtest_tui.driver.logger import CompositeLogger, EventLogger, TerminalLogger

SCRIPT = textwrap.dedent("""\
    trail = []
    trail.append("a")
    with subtest("block"):
        trail.append("b")
        trail.append("c")
        for i in range(2):
            trail.append(i)
    trail.append("d")
    def helper():
        trail.append("h")
    trail.append("e")
""")


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Driver]:
    """A machine-less driver whose log reaches the bus (subtest ends, the jump line)."""
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    bus = EventBus()
    logger = CompositeLogger([EventLogger(bus), TerminalLogger(io.StringIO(), colour=False)])
    config = DriverConfiguration(vms={}, test_script=script)
    with Driver(config, tmp_path, logger, bus=bus, tmp_dir=tmp_path) as running:
        yield running


def trail(runner: ScriptRunner) -> object:
    return runner.evaluate("trail", timeout=10).output


def test_jump_ahead_skips_statements(driver: Driver) -> None:
    runner = ScriptRunner(driver)
    with driver.bus.subscribe(ScriptStateChanged) as events:
        runner.add_breakpoint(2)
        runner.start()
        assert next_state(events, "paused").line == 2
        assert runner.jump(8) == ""
        landed = next_state(events, "paused")
        assert (landed.line, landed.reason) == (8, "jump")
        assert trail(runner) == "[]"  # line 2 never ran
        runner.continue_()
        assert next_state(events, "finished", "failed").state == "finished"
    runner.close(timeout=10)


def test_jump_back_reruns_a_block_with_globals_kept(driver: Driver) -> None:
    runner = ScriptRunner(driver)
    with driver.bus.subscribe(ScriptStateChanged) as events, \
            driver.bus.subscribe(LogMessage) as log:
        runner.add_breakpoint(8)
        runner.start()
        assert next_state(events, "paused").line == 8
        assert trail(runner) == "['a', 'b', 'c', 0, 1]"
        runner.evaluate("marker = 'kept'", timeout=10)
        assert runner.jump(3) == ""
        assert next_state(events, "paused").line == 3
        runner.continue_()  # the block again, then the breakpoint on 8 stops the run again
        assert next_state(events, "paused").line == 8
        assert trail(runner) == "['a', 'b', 'c', 0, 1, 'b', 'c', 0, 1]"
        assert runner.evaluate("marker", timeout=10).output == "'kept'"
        logged = []
        while (event := log.get(timeout=0.1)) is not None:
            assert isinstance(event, LogMessage)
            logged.append(event.message)
    assert "──── jumped from line 8 to line 3 ────" in logged
    runner.close(timeout=10)


def test_jump_into_a_subtest_runs_only_the_rest_of_its_body(driver: Driver) -> None:
    runner = ScriptRunner(driver)
    with driver.bus.subscribe(ScriptStateChanged) as events:
        runner.add_breakpoint(2)
        runner.start()
        assert next_state(events, "paused").line == 2
        assert runner.jump(5) == ""
        assert next_state(events, "paused").line == 5
        runner.add_breakpoint(11)
        runner.continue_()
        assert next_state(events, "paused").line == 11  # a breakpoint in the jumped-to code
        assert trail(runner) == "['c', 0, 1, 'd']"
    runner.close(timeout=10)


def test_refused_targets_say_what_to_do(driver: Driver) -> None:
    runner = ScriptRunner(driver)
    assert runner.jump(3) == "the script is not running (F5 runs it)"
    with driver.bus.subscribe(ScriptStateChanged) as events:
        runner.add_breakpoint(2)
        runner.start()
        assert next_state(events, "paused").line == 2
        inside_loop = runner.jump(7)
        assert "inside the loop at line 6" in inside_loop and "jump to line 6" in inside_loop
        assert "body of helper" in runner.jump(10)
        assert "no statement on or after line 40" in runner.jump(40)
        assert runner.state == "paused" and runner.paused_line == 2  # nothing moved
        assert runner.jump(9) == ""  # the def itself is a top-level statement
        assert next_state(events, "paused").line == 9
    runner.close(timeout=10)


def test_refused_while_running_and_at_a_failure(driver: Driver) -> None:
    runner = ScriptRunner(driver, "n = 0\nwhile n >= 0:\n    n += 1\n")
    runner.start()
    assert runner.jump(1) == "the script is running (F6 pauses it)"
    runner.close(timeout=10)
    runner = ScriptRunner(driver, "x = 1\nt.assertEqual(x, 2)\nx = 3\n")
    with driver.bus.subscribe(ScriptStateChanged) as events:
        runner.start()
        assert next_state(events, "paused").reason == "failure"
        assert "paused on a failure" in runner.jump(3)
    runner.close(timeout=10)


def test_leaving_a_subtest_by_a_jump_is_not_a_failure(driver: Driver) -> None:
    runner = ScriptRunner(driver)
    with driver.bus.subscribe(ScriptStateChanged) as events, \
            driver.bus.subscribe(NestFinished) as nests:
        runner.add_breakpoint(5)
        runner.start()
        assert next_state(events, "paused").line == 5
        runner.jump(11)
        assert next_state(events, "paused").line == 11
        runner.continue_()
        assert next_state(events, "finished", "failed").state == "finished"
        ends = []
        while (event := nests.get(timeout=0.1)) is not None:
            assert isinstance(event, NestFinished)
            ends.append(event)
    assert [(e.message, e.ok) for e in ends] == [("subtest: block", True)]
    assert ends[0].left and ends[0].error == "left: jumped from line 5 to line 11"
    runner.close(timeout=10)


def test_source_from_keeps_line_numbers_and_subtest_headers() -> None:
    target, source = source_from(SCRIPT, 4)  # a comment-free line in the subtest's body
    lines = source.splitlines()
    assert target == 4 and len(lines) == len(SCRIPT.splitlines())
    assert lines[:2] == ["", ""] and lines[2] == 'with subtest("block"):'
    assert lines[3:] == SCRIPT.splitlines()[3:]


def test_a_jump_from_inside_a_function_leaves_its_frame(driver: Driver) -> None:
    script = textwrap.dedent("""\
        def helper():
            trail.append("in")
            trail.append("out")
        trail = []
        helper()
        trail.append("after")
        done = True
    """)
    runner = ScriptRunner(driver, script)
    with driver.bus.subscribe(ScriptStateChanged) as events:
        runner.add_breakpoint(3)
        runner.start()
        assert next_state(events, "paused").line == 3
        assert runner.jump(6) == ""
        assert next_state(events, "paused").line == 6
        runner.step_over()
        assert next_state(events, "paused").line == 7
        assert trail(runner) == "['in', 'after']"  # the rest of helper never ran
    runner.close(timeout=10)
