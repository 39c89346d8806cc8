"""Watch expressions in a paused frame of a real machine-less run: values, errors, and a watch
blocked in a cancellable driver wait that is cut off at its timeout without stopping the next
pause's watches."""

from __future__ import annotations

import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest
from conftest import wait_until
from harness import machineless_driver, next_state

from nixtest_tui.debugger import ScriptRunner
from nixtest_tui.debugger.watches import (
    InvalidWatch,
    WatchList,
    evaluate_watch,
    guest_seconds,
    summarize,
)
from nixtest_tui.driver.driver import Driver
from nixtest_tui.driver.events import ScriptStateChanged

SCRIPT = textwrap.dedent("""\
    from nixtest_tui.driver import cancel

    def blocking():
        cancel.sleep(120)  # what a machine call's wait does: only a cancellation ends it
        return "late"

    def helper(n):
        doubled = n * 2
        return doubled

    value = 1
    for i in range(3):
        value += helper(i)
""")


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Driver]:
    with machineless_driver(tmp_path, SCRIPT) as running:
        yield running


def paused_at(driver: Driver, line: int) -> tuple[ScriptRunner, FrameType]:
    """A runner paused at a breakpoint on `line`, and its paused frame."""
    runner = ScriptRunner(driver)
    events = driver.bus.subscribe(ScriptStateChanged)
    runner.add_breakpoint(line)
    runner.start()
    next_state(events, "paused")
    frame = runner.paused_frame
    assert frame is not None
    return runner, frame


def test_values_errors_and_a_blocked_watch_cut_off_at_its_timeout(driver: Driver) -> None:
    runner = ScriptRunner(driver)
    events = driver.bus.subscribe(ScriptStateChanged)
    watches = WatchList()
    watches.add("blocking()", timeout=0.5)  # first: the watches after it must still run
    # a new thread may get the ident of the cancelled one: no request may be left for it
    watches.add("cancel.sleep(0) or (value, i)")
    watches.add("1 / i")
    runner.add_breakpoint(13)
    runner.start()
    for i, value in enumerate((1, 1, 3)):
        assert next_state(events, "paused").line == 13
        frame = runner.paused_frame
        assert frame is not None
        results = [evaluate_watch(frame, watch) for watch in watches]
        assert results[0].timed_out and results[0].error == "timed out after 0.5 s"
        assert results[1].value == f"({value}, {i})" and results[1].ok
        assert results[2].error == (
            "ZeroDivisionError: division by zero" if i == 0 else "") and not results[2].timed_out
        assert [w.last for w in watches] == results
        wait_until(lambda: not any(t.name.startswith("watch:") for t in threading.enumerate()),
                   10, "the cancelled wait returning (it would sleep for 120 s)")
        runner.continue_()
    assert next_state(events, "finished", "failed").state == "finished"


def test_a_resumed_script_abandons_a_running_watch(driver: Driver) -> None:
    """The script going on cuts a watch off before its timeout (its guest call cancelled);
    the watch keeps showing its last value."""
    runner, frame = paused_at(driver, 13)
    watches = WatchList()
    watch = watches.add("value")
    assert evaluate_watch(frame, watch).value == "1"
    watch.expression, watch.timeout = "blocking()", 600.0
    went_on = threading.Event()
    went_on.set()
    result = evaluate_watch(frame, watch, went_on)
    assert result.error == "abandoned: the script went on"
    assert watch.last is not None and watch.last.value == "1"
    wait_until(lambda: not any(t.name.startswith("watch:") for t in threading.enumerate()),
               10, "the cancelled wait returning")
    runner.stop(10)


def test_watch_in_a_function_frame_sees_its_locals(driver: Driver) -> None:
    runner, frame = paused_at(driver, 9)  # return doubled
    watches = WatchList()
    watches.add("n, doubled")
    assert evaluate_watch(frame, watches.watches[0]).value == "(0, 0)"
    runner.stop(10)


def test_only_expressions_and_sane_timeouts() -> None:
    watches = WatchList()
    with pytest.raises(InvalidWatch, match="cannot run statements"):
        watches.add("x = 1")
    with pytest.raises(InvalidWatch, match="needs an expression"):
        watches.add("   ")
    watch = watches.add(" server.succeed('true') ")
    assert watch.expression == "server.succeed('true')" and watch.timeout == 5.0
    with pytest.raises(InvalidWatch, match="number of seconds"):
        watches.set_timeout(0, "soon")
    with pytest.raises(InvalidWatch, match="more than 0"):
        watches.set_timeout(0, "0")
    assert watches.set_timeout(0, "2.5").timeout == 2.5
    watches.edit(0, "len(machines)")
    assert [w.expression for w in watches] == ["len(machines)"]
    watches.remove(0)
    assert len(watches) == 0


def test_summary_is_one_bounded_line() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert summarize((0, "a\nb")) == "(0, 'a\\nb')"
    assert summarize("x" * 1000).endswith("…") and len(summarize("x" * 1000)) == 300
    assert summarize(Broken()) == "<repr failed: RuntimeError: no repr>"


def test_watches_never_undo_an_assignment_made_in_the_repl(driver: Driver) -> None:
    """Watches read a function frame's locals while the REPL assigns to them: each read
    refreshes the frame's locals dict from the frame, which between the REPL's assignment and
    its write-back would undo it. 1,000 assignments, each read back, with watches all along."""
    runner, frame = paused_at(driver, 9)  # return doubled
    watch = WatchList().add("doubled")
    done = threading.Event()

    def watching() -> None:
        while not done.is_set():
            evaluate_watch(frame, watch, frame_lock=runner.frame_lock)

    watcher = threading.Thread(target=watching)
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can: the race shows
    watcher.start()
    try:
        for k in range(1000):
            runner.evaluate(f"doubled = {k}")
            assert runner.evaluate("doubled").value == k
    finally:
        done.set()
        watcher.join(10)
        sys.setswitchinterval(switching)
    runner.stop(10)


def test_a_watch_waits_for_the_repl_only_up_to_its_timeout(driver: Driver) -> None:
    runner, frame = paused_at(driver, 13)
    watch = WatchList().add("value", timeout=0.3)
    with runner.frame_lock:  # what a REPL line blocked in a guest command does
        result = evaluate_watch(frame, watch, frame_lock=runner.frame_lock)
    assert result.timed_out and "REPL" in result.error
    assert evaluate_watch(frame, watch, frame_lock=runner.frame_lock).value == "1"
    runner.stop(10)


def test_a_watch_bounds_the_guest_timeout_of_its_commands_only() -> None:
    """Inside a watch's guest deadline a command's guest `timeout` is cut to what is left;
    outside it, and in other threads, the caller's limit stands."""
    from datetime import timedelta

    from nixtest_tui.driver import cancel

    fifteen_minutes = timedelta(minutes=15)
    assert cancel.bounded(fifteen_minutes) == fifteen_minutes
    assert cancel.bounded(None) is None
    with cancel.guest_deadline(guest_seconds(5.0)):
        bounded = cancel.bounded(fifteen_minutes)
        assert bounded is not None and 3.0 < bounded.total_seconds() <= 4.0
        unlimited = cancel.bounded(None)
        assert unlimited is not None and unlimited <= bounded  # (time passes)
        assert cancel.bounded(timedelta(seconds=1)) == timedelta(seconds=1)
        elsewhere: list[timedelta | None] = []
        thread = threading.Thread(target=lambda: elsewhere.append(cancel.bounded(None)))
        thread.start()
        thread.join()
        assert elsewhere == [None]
    assert cancel.bounded(None) is None
    with cancel.guest_deadline(-1.0):  # already past: the command still gets a moment
        assert cancel.bounded(None) == timedelta(seconds=cancel.MIN_GUEST_SECONDS)
