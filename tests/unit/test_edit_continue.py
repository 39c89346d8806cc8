"""Edit-and-continue: a new script text maps old lines to new ones, a paused run goes on with
the new text from its line's new place (globals kept), breakpoints follow their lines, a text
that does not parse changes nothing, and a running run takes the text at its next pause."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_until
from harness import machineless_driver, next_state

from nixtest_tui.debugger import ScriptRunner
from nixtest_tui.debugger.events import ScriptReloaded
from nixtest_tui.debugger.lines import LineMap, continuations
from nixtest_tui.driver import Driver
from nixtest_tui.driver.events import ScriptStateChanged

OLD = textwrap.dedent("""\
    seen = []
    seen.append(1)
    seen.append(2)
    seen.append(3)
    seen.append(4)
""")
NEW = textwrap.dedent("""\
    # a comment added at the top
    seen = []
    seen.append(1)
    seen.append(2)
    seen.append(30)
    seen.append(40)
    seen.append(50)
""")


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Driver]:
    with machineless_driver(tmp_path, OLD) as running:
        yield running


def test_line_map_follows_inserts_edits_and_deletions() -> None:
    lines = LineMap("a\nb\nc\nd\n", "new\na\nB\nd\n")
    assert [lines.exact(n) for n in (1, 2, 3, 4)] == [2, 3, None, 4]  # b edited, c deleted
    assert lines.nearest(3) == 4  # a paused line that was deleted goes on with the next one
    assert LineMap("a\nb\n", "a\n").nearest(2) == 2  # past the new end


def test_a_paused_run_goes_on_with_lines_inserted_above_it_first() -> None:
    old, new = "a = 1\n\nb = 2\nc = 3\n", "a = 1\n\nadded = 0\nb = 2\nc = 3\n"
    # right after `a` (a jump there lands on the added line), else b's own new place
    assert continuations(old, new, 3) == [2, 4]
    assert continuations(old, old, 3) == [2, 3]


def test_reload_while_paused_goes_on_with_the_new_text(driver: Driver) -> None:
    runner = ScriptRunner(driver, OLD)
    with driver.bus.subscribe(ScriptStateChanged) as events, \
            driver.bus.subscribe(ScriptReloaded) as reloads:
        runner.add_breakpoint(4)
        runner.start()
        assert next_state(events, "paused").line == 4
        assert runner.reload(NEW).status == "applied"
        landed = next_state(events, "paused")
        assert (landed.line, landed.reason) == (5, "reload")  # old line 4, edited, is now 5
        assert runner.text == NEW and set(runner.breakpoints) == {5}
        reloaded = reloads.get(timeout=5)
        assert isinstance(reloaded, ScriptReloaded) and reloaded.text == NEW
        runner.continue_()
        assert next_state(events, "finished", "failed").state == "finished"
        assert runner.start() == ""  # the next run: the new text from the top
        assert next_state(events, "paused").line == 5
        assert runner.evaluate("seen", timeout=10).output == "[1, 2]"
    runner.close(timeout=10)


def test_reload_keeps_the_globals(driver: Driver) -> None:
    runner = ScriptRunner(driver, OLD)
    with driver.bus.subscribe(ScriptStateChanged) as events:
        runner.add_breakpoint(4)
        runner.start()
        assert next_state(events, "paused").line == 4
        runner.reload(NEW)
        assert next_state(events, "paused").line == 5
        assert runner.evaluate("seen", timeout=10).output == "[1, 2]"  # not run again
        runner.step_over()
        assert next_state(events, "paused").line == 6
        assert runner.evaluate("seen", timeout=10).output == "[1, 2, 30]"  # the new line ran
    runner.close(timeout=10)


def test_a_text_that_does_not_parse_changes_nothing(driver: Driver) -> None:
    runner = ScriptRunner(driver, OLD)
    with driver.bus.subscribe(ScriptStateChanged) as events:
        runner.add_breakpoint(3)
        runner.start()
        assert next_state(events, "paused").line == 3
        result = runner.reload(OLD + "seen.append(\n")
        assert result.status == "refused" and "line 6" in result.message
        assert runner.text == OLD and set(runner.breakpoints) == {3}
        assert runner.state == "paused" and runner.paused_line == 3
        runner.continue_()
        assert next_state(events, "finished", "failed").state == "finished"
        assert runner.error is None
    runner.close(timeout=10)


def test_breakpoints_follow_their_lines_and_deleted_ones_drop(driver: Driver) -> None:
    runner = ScriptRunner(driver, OLD)
    with driver.bus.subscribe(ScriptReloaded) as reloads:
        for line in (2, 3, 5):
            runner.add_breakpoint(line)
        new = "seen = []\nextra = 0\nseen.append(1)\nseen.append(3)\nseen.append(4)\n"
        assert runner.reload(new).status == "applied"  # idle: at once, for the next run
        reloaded = reloads.get(timeout=5)
    assert set(runner.breakpoints) == {3, 5}  # 2 -> 3, 5 -> 5; old line 3 was deleted
    assert all(line == b.line for line, b in runner.breakpoints.items())
    assert isinstance(reloaded, ScriptReloaded) and reloaded.dropped == (3,)


def test_a_running_run_takes_the_new_text_at_its_next_pause(driver: Driver) -> None:
    looping = "n = 0\nwhile n >= 0:\n    n += 1\ndone = 'old'\n"
    runner = ScriptRunner(driver, looping)
    with driver.bus.subscribe(ScriptStateChanged) as events:
        runner.start()
        wait_until(lambda: runner.running_line() in (2, 3), what="the loop")
        result = runner.reload("n = 0\nwhile n >= 0:\n    n += 1\ndone = 'new'\n")
        assert result.status == "pending" and "F6" in result.message
        assert runner.text == looping
        runner.pause()
        paused = next_state(events, "paused")  # in the loop: the new text cannot land there
        assert paused.line in (2, 3) and runner.text == looping
        runner.evaluate("n = -10", timeout=10)
        runner.add_breakpoint(4)
        runner.continue_()
        landed = next_state(events, "paused")
        assert (landed.line, landed.reason) == (4, "reload")
        assert "done = 'new'" in runner.text
        runner.step_over()
        assert next_state(events, "paused", "finished").state == "finished"
    runner.close(timeout=10)


def test_paused_in_a_function_the_new_text_waits_for_a_top_level_pause(driver: Driver) -> None:
    script = "def helper():\n    return 1\na = helper()\nb = 2\nc = 3\n"
    runner = ScriptRunner(driver, script)
    with driver.bus.subscribe(ScriptStateChanged) as events:
        runner.add_breakpoint(2)
        runner.start()
        assert next_state(events, "paused").line == 2
        result = runner.reload(script.replace("c = 3", "c = 30"))
        assert result.status == "pending" and "function (line 2)" in result.message
        runner.step_out()  # back on a top-level line: the new text takes over there
        landed = next_state(events, "paused")
        assert (landed.line, landed.reason) == (4, "reload") and "c = 30" in runner.text
        runner.continue_()
        assert next_state(events, "finished", "failed").state == "finished"
    runner.close(timeout=10)
