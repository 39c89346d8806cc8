"""Breakpoint rules with a real machine-less Driver: conditions, hit conditions, log points,
what a broken condition or template does, and that a replaced script keeps all of it."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import next_state

from nixtest_tui.debugger import ScriptRunner
from nixtest_tui.debugger.breakpoint_rules import InvalidBreakpoint, hit_condition_holds
from nixtest_tui.debugger.events import LogPointHit
from nixtest_tui.driver.config import DriverConfiguration
from nixtest_tui.driver.driver import Driver
from nixtest_tui.driver.events import EventBus, LogMessage, ScriptStateChanged, Subscription
from nixtest_tui.driver.logger import CompositeLogger, EventLogger
from nixtest_tui.session import Session

LOOP = textwrap.dedent("""\
    counter = 0
    for i in range(10):
        counter += i
    done = True
""")


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Driver]:
    """A Driver whose log lines arrive on its bus, so a test can read what was logged."""
    script = tmp_path / "script.py"
    script.write_text(LOOP)
    bus = EventBus()
    config = DriverConfiguration(vms={}, test_script=script)
    with Driver(config, tmp_path, CompositeLogger([EventLogger(bus)]), bus=bus,
                tmp_dir=tmp_path) as running:
        yield running


def start(driver: Driver) -> tuple[ScriptRunner, Subscription]:
    runner = ScriptRunner(driver)
    return runner, driver.bus.subscribe(ScriptStateChanged)


def paused_values(runner: ScriptRunner, events: Subscription) -> list[str]:
    """Continue from pause to pause until the run ends; `i` at each pause."""
    seen = []
    while (state := next_state(events, "paused", "finished", "failed")).state == "paused":
        seen.append(runner.evaluate("i").output)
        runner.continue_()
    assert state.state == "finished", state
    return seen


@pytest.mark.parametrize(("rule", "hits"), [
    ("5", [5, 6, 7]), ("== 2", [2]), (">= 3", [3, 4, 5, 6, 7]), ("> 5", [6, 7]),
    ("< 3", [1, 2]), ("<= 2", [1, 2]), ("!= 2", [1, 3, 4, 5, 6, 7]), ("% 3", [3, 6]),
    (None, [1, 2, 3, 4, 5, 6, 7]),
])
def test_hit_conditions(rule: str | None, hits: list[int]) -> None:
    """Which of the hits 1..7 pass each rule."""
    assert [n for n in range(1, 8) if hit_condition_holds(rule, n)] == hits


def test_hit_condition_counts_only_where_the_condition_holds(driver: Driver) -> None:
    """Condition i % 2 == 0 holds at i = 0, 2, 4, 6, 8; `% 2` stops at every second of
    those: i = 2 and 6. Hits count the holding visits: 5 at the end."""
    runner, events = start(driver)
    placed = runner.add_breakpoint(3, condition="i % 2 == 0", hit_condition="% 2")
    assert placed is not None
    runner.start()
    assert paused_values(runner, events) == ["2", "6"]
    assert placed.hits == 5


def test_from_the_nth_hit_on_and_hits_start_again_each_run(driver: Driver) -> None:
    runner, events = start(driver)
    runner.add_breakpoint(3, hit_condition="8")
    runner.start()
    assert paused_values(runner, events) == ["7", "8", "9"]
    runner.start()  # a second run counts from zero again: the 8th hit is i = 7 once more
    assert paused_values(runner, events) == ["7", "8", "9"]


def test_log_point_logs_each_hit_and_never_pauses(driver: Driver) -> None:
    runner, events = start(driver)
    logged = driver.bus.subscribe(LogMessage, LogPointHit)
    runner.add_breakpoint(3, hit_condition="% 4", log_message="i={i} counter={counter!r:>3}")
    runner.start()
    assert next_state(events, "paused", "finished", "failed").state == "finished"
    received = logged.get_nowait()
    lines = [e.message for e in received if isinstance(e, LogMessage)]
    assert [line for line in lines if line.startswith("log point")] == [
        "log point, line 3: i=3 counter=  3", "log point, line 3: i=7 counter= 21"]
    hits = [e for e in received if isinstance(e, LogPointHit)]
    assert [(e.line, e.hits, e.message, e.error) for e in hits] == [
        (3, 4, "i=3 counter=  3", ""), (3, 8, "i=7 counter= 21", "")]


def test_broken_condition_stops_and_says_why(driver: Driver) -> None:
    runner, events = start(driver)
    placed = runner.add_breakpoint(3, condition="countr > 3")
    assert placed is not None
    runner.start()
    paused = next_state(events, "paused")
    assert paused.line == 3
    assert paused.reason == "condition 'countr > 3' failed: NameError: name 'countr' is not defined"
    assert placed.error == paused.reason and placed.hits == 0
    runner.stop(10)


def test_broken_template_logs_the_error_and_stops(driver: Driver) -> None:
    runner, events = start(driver)
    logged = driver.bus.subscribe(LogMessage, LogPointHit)
    runner.add_breakpoint(3, log_message="value {counter / i}")  # i == 0 on the first hit
    runner.start()
    paused = next_state(events, "paused")
    assert paused.reason.startswith("log message 'value {counter / i}' failed: ZeroDivisionError")
    received = logged.get_nowait()
    assert f"log point, line 3: {paused.reason}" in [
        e.message for e in received if isinstance(e, LogMessage)]
    assert [e.error for e in received if isinstance(e, LogPointHit)] == [paused.reason]
    runner.continue_()  # i == 1 from now on: the template works and nothing pauses again
    assert next_state(events, "paused", "finished").state == "finished"


def test_settings_are_checked_when_set(driver: Driver) -> None:
    runner, _ = start(driver)
    with pytest.raises(InvalidBreakpoint, match="not a Python expression"):
        runner.add_breakpoint(3, condition="i >")
    with pytest.raises(InvalidBreakpoint, match="hit condition 'twice'"):
        runner.add_breakpoint(3, hit_condition="twice")
    assert runner.breakpoints == {}
    runner.add_breakpoint(3)
    assert "not a valid template" in runner.update_breakpoint(3, log_message="{i")
    assert "hit condition '% 0'" in runner.update_breakpoint(3, hit_condition="% 0")
    assert runner.update_breakpoint(4, enabled=False) == "no breakpoint on line 4"
    assert runner.update_breakpoint(3, condition="i > 1", log_message="{{literal}} {i}") == ""
    assert runner.update_breakpoint(3, enabled=False) == ""
    kept = runner.breakpoints[3]
    assert (kept.condition, kept.log_message, kept.enabled) == ("i > 1", "{{literal}} {i}", False)
    assert runner.update_breakpoint(3, condition="  ") == "" and kept.condition is None


def test_replace_script_carries_every_setting_over(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(LOOP)
    session = Session(DriverConfiguration(vms={}, test_script=script), tmp_path,
                      tmp_dir=tmp_path)
    session.open()
    try:
        old = session.require_runner()
        old.add_breakpoint(3, condition="i > 1", hit_condition=">= 2", log_message="i={i}")
        old.add_breakpoint(4)
        old.update_breakpoint(4, enabled=False)
        session.replace_script("print('new')\n" + LOOP, inserted_at=1, count=1)
        moved = session.require_runner().breakpoints
        assert sorted(moved) == [4, 5]
        assert (moved[4].condition, moved[4].hit_condition, moved[4].log_message,
                moved[4].enabled) == ("i > 1", ">= 2", "i={i}", True)
        assert not moved[5].enabled
    finally:
        session.close()
