"""A debugger session you can trust, driven by keys through Pilot: no key carries over between
runs, typing in the REPL never drives the script, record-to-script keeps the session working,
a skipped failure never looks like a pass, and stepping, restarts and durations say what
happened. The scripts are plain Python (no machines), so only the debugger is under test."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import until
from machineless import machineless_app, screenshot_dir
from textual import events
from textual.widgets import Input, TabbedContent

from nixtest_tui.app import NixtestApp
from nixtest_tui.driver.config import DriverConfiguration
from nixtest_tui.session import Session
from nixtest_tui.widgets.driver_log import DriverLog
from nixtest_tui.widgets.repl import ReplPane
from nixtest_tui.widgets.script_pane import ScriptPane
from nixtest_tui.widgets.subtests import SubtestList

PLAIN = textwrap.dedent("""\
    counter = 0
    with subtest("first"):
        counter += 1
        counter += 1
    with subtest("second"):
        counter += 10
        counter += 10
    done = True
""")


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Input, "cursor_blink", False)


async def ready(app: NixtestApp) -> None:
    await until(lambda: app.sub_title.startswith("idle"), 30)


def burst(app: NixtestApp, *keys: str) -> None:
    """Keys queued at once, like a key held down: none waits for the app to react."""
    for key in keys:
        app.post_message(events.Key(key, key if len(key) == 1 else None))


async def go_to_line(app: NixtestApp, pilot: object, line: int) -> None:
    pane = app.query_one(ScriptPane)
    pane.focus()
    pane.cursor_line = line


def log_text(app: NixtestApp) -> str:
    return "\n".join(str(line.text) for line in app.query_one(DriverLog).lines)


async def test_repeated_continue_is_not_replayed_into_the_next_run(tmp_path: Path) -> None:
    """F5 pressed three times at a breakpoint runs to the end once; the next ctrl+r still
    stops at the breakpoint; keys pressed after the end start nothing, and a burst of c and n
    while resuming never becomes a step or a new run later."""
    app = machineless_app(tmp_path, PLAIN)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app)
        await go_to_line(app, pilot, 3)
        await pilot.press("b", "f5")
        await until(lambda: app.sub_title == "paused at line 3 (breakpoint)")
        burst(app, "f5", "f5", "f5")  # all three land before the UI hears of the resume
        await until(lambda: app.sub_title == "finished")
        await pilot.press("ctrl+r")
        await until(lambda: app.sub_title == "paused at line 3 (breakpoint)")
        await pilot.press("c")
        await until(lambda: app.sub_title == "finished")
        burst(app, "n", "n", "n", "c", "c")  # after the end: all refused, nothing starts
        await pilot.press("f5")
        await until(lambda: app.sub_title == "paused at line 3 (breakpoint)", 30)
        burst(app, "c", "n", "n", "c")  # the first c resumes; the others find it resuming
        await until(lambda: app.sub_title == "finished")
        await pilot.press("ctrl+r")
        await until(lambda: app.sub_title == "paused at line 3 (breakpoint)", 30)
        await pilot.press("ctrl+q")


async def test_typing_python_in_the_repl_never_drives_the_script(tmp_path: Path) -> None:
    """Tab from the tab bar lands in the REPL input; a whole statement full of debugger
    letters is evaluated, the script stays where it was; Escape leaves the input and the
    letters drive the debugger again; Tab in an empty input moves on instead of completing."""
    app = machineless_app(tmp_path, PLAIN)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app)
        await go_to_line(app, pilot, 3)
        await pilot.press("b", "f5")
        await until(lambda: app.sub_title == "paused at line 3 (breakpoint)")
        tabs = app.query_one(TabbedContent)
        tabs.active = "tab-repl"
        tabs.query_one("Tabs").focus()
        await pilot.press("tab")
        assert app.focused is app.query_one("#repl-input")
        statement = 'server_reply = "sncrokxFpq".upper(); print(server_reply, counter)'
        await pilot.press(*statement, "enter")
        output = app.query_one("#repl-output")
        await until(lambda: "SNCROKXFPQ 0" in "\n".join(str(s.text) for s in output.lines))  # type: ignore[attr-defined]
        assert app.sub_title == "paused at line 3 (breakpoint)"
        assert app.query_one(ScriptPane).current_line == 3
        assert app.is_running
        app.save_screenshot(str(screenshot_dir(tmp_path) / "repl-focus.svg"))
        await pilot.press("tab")  # the input is empty now: focus moves on, nothing completes
        assert app.focused is not app.query_one("#repl-input")
        await pilot.press("ctrl+t")
        assert app.focused is app.query_one("#repl-input")
        await pilot.press("escape")
        assert app.focused is app.query_one(ScriptPane)
        await pilot.press("n")
        await until(lambda: app.sub_title == "paused at line 4 (step)")
        await pilot.press("ctrl+q")


async def test_record_to_script_keeps_the_session_working(tmp_path: Path) -> None:
    """F8 while paused inserts the recorded line at the cursor with the block's indentation,
    ends the paused run, keeps the breakpoints on their statements, and F5, n and ctrl+r
    work afterwards; the old runner leaves no subscription on the bus."""
    app = machineless_app(tmp_path, PLAIN)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app)
        await go_to_line(app, pilot, 6)
        await pilot.press("b", "f5")
        await until(lambda: app.sub_title == "paused at line 6 (breakpoint)")
        bus = app.session.bus
        subscribers = len(bus._subscribers)  # the bridge's and the runner's
        await pilot.press("ctrl+t", *"extra = counter * 100", "enter")
        repl = app.query_one(ReplPane)
        await until(lambda: repl.recorded == ["extra = counter * 100"])
        await pilot.press("ctrl+g")
        await go_to_line(app, pilot, 4)
        await pilot.press("f8")
        pane = app.query_one(ScriptPane)
        await until(lambda: "extra" in pane.text)
        lines = pane.text.splitlines()
        assert lines[3] == "    extra = counter * 100" and lines[4] == "    counter += 1"
        assert pane.breakpoints == {7}  # the breakpoint moved with its statement
        await until(lambda: app.sub_title.startswith("stopped"))
        await pilot.press("f5")
        await until(lambda: app.sub_title == "paused at line 7 (breakpoint)")
        assert app.session.evaluate("extra").output == "100"  # counter was 1 there
        await pilot.press("f10")
        await until(lambda: app.sub_title == "paused at line 8 (step)")
        await pilot.press("ctrl+r")
        await until(lambda: app.sub_title == "paused at line 7 (breakpoint)")
        await pilot.press("c")
        await until(lambda: app.sub_title == "finished")
        await pilot.press("f8")  # nothing recorded any more: the session is untouched
        await pilot.press("f5")
        await until(lambda: app.sub_title == "paused at line 7 (breakpoint)")
        await pilot.press("c")
        await until(lambda: app.sub_title == "finished")
        # after the end too: a line recorded in the idle namespace, F8, and F5 runs again
        await pilot.press("ctrl+t", *"late = 1", "enter")
        await until(lambda: repl.recorded == ["late = 1"])
        await pilot.press("ctrl+g")
        await go_to_line(app, pilot, 1)
        await pilot.press("f8")
        await until(lambda: pane.text.startswith("late = 1\n"))
        assert pane.breakpoints == {8}
        await pilot.press("f5")
        await until(lambda: app.sub_title == "paused at line 8 (breakpoint)")
        assert app.session.evaluate("late").output == "1"
        assert len(bus._subscribers) == subscribers
        await pilot.press("ctrl+q")


FAILING = textwrap.dedent("""\
    with subtest("a failing step"):
        value = 1
        t.assertTrue(value == 2)
        after = True
    with subtest("a passing step"):
        fine = True
""")


async def test_a_skipped_failure_is_shown_as_skipped_everywhere(tmp_path: Path) -> None:
    """k on a failure: the subtest shows ↷ skipped (not ✓), the log says what was skipped,
    and the final status counts the skipped failures."""
    app = machineless_app(tmp_path, FAILING)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app)
        await pilot.press("f5")
        await until(lambda: app.sub_title.startswith("paused at line 3 (failure)"))
        await pilot.press("k")
        await until(lambda: app.sub_title == "finished with 1 skipped failure")
        subtests = app.query_one(SubtestList)
        assert subtests.state_of("a failing step") == "skipped"
        assert subtests.state_of("a passing step") == "passed"
        assert "↷ a failing step" in str(subtests.render())
        assert "✓ a failing step" not in str(subtests.render())
        assert "skipped by the user: t.assertTrue(value == 2) (" in log_text(app)
        assert "!!! skipped by the user" in log_text(app)
        assert "↷ subtest: a failing step" in log_text(app)  # the log's block, too
        assert "✓ subtest: a failing step" not in log_text(app)
        app.save_screenshot(str(screenshot_dir(tmp_path) / "skipped-failure.svg"))
        await pilot.press("ctrl+q")


RETRIED = textwrap.dedent("""\
    with subtest("a flaky step, retried"):
        attempts = []

        def ready(last_try):
            attempts.append(1)
            return len(attempts) > 1

        retry(ready)

    with subtest("the next step"):
        done = True
""")


async def test_step_out_of_a_helper_called_through_retry(tmp_path: Path) -> None:
    """o inside `ready` (called by the driver's retry) pauses on the next script line after
    the call, not on the `with` line the block's exit is reported on."""
    app = machineless_app(tmp_path, RETRIED)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app)
        await go_to_line(app, pilot, 5)
        await pilot.press("b", "f5")
        await until(lambda: app.sub_title == "paused at line 5 (breakpoint)")
        await pilot.press("b", "o")  # (the breakpoint off, or the second attempt stops there)
        await until(lambda: app.sub_title.startswith("paused at line 1")
                    or app.sub_title == "paused at line 10 (step)", 30)
        assert app.sub_title == "paused at line 10 (step)"
        await pilot.press("ctrl+q")


async def test_restart_resets_subtests_and_marks_the_log(tmp_path: Path) -> None:
    """After a finished run, ctrl+r sets every subtest back to pending and the log gets a
    separator between the runs."""
    app = machineless_app(tmp_path, PLAIN)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app)
        await pilot.press("f5")
        await until(lambda: app.sub_title == "finished")
        subtests = app.query_one(SubtestList)
        assert subtests.state_of("first") == "passed"
        await go_to_line(app, pilot, 3)
        await pilot.press("b", "ctrl+r")
        await until(lambda: app.sub_title == "paused at line 3 (breakpoint)")
        assert subtests.state_of("first") == "running"
        assert subtests.state_of("second") == "pending"
        assert "──── run 2: the script from the top ────" in log_text(app)
        await pilot.press("ctrl+q")


async def test_subtest_durations_leave_out_paused_time(tmp_path: Path) -> None:
    """A subtest paused at a breakpoint for a while: its duration excludes the pause, which
    is shown beside it."""
    app = machineless_app(tmp_path, PLAIN)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app)
        await go_to_line(app, pilot, 3)
        await pilot.press("b", "f5")
        await until(lambda: app.sub_title == "paused at line 3 (breakpoint)")
        await pilot.pause(1.5)  # the pause being measured, not a wait for a condition
        await pilot.press("c")
        await until(lambda: app.sub_title == "finished")
        state = next(s for s in app.query_one(SubtestList).states if s.subtest.name == "first")
        assert state.duration is not None and state.duration < 1.0
        assert state.paused >= 1.4
        assert f"(+{state.paused:.1f}s paused)" in str(app.query_one(SubtestList).render())
        await pilot.press("ctrl+q")


async def test_a_session_that_cannot_open_says_why(tmp_path: Path) -> None:
    """A failing worker reaches the one handler: the sub-title says what failed instead of
    staying at "starting the VLANs..."."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    path = tmp_path / "test-script"
    path.write_text(PLAIN)
    config = DriverConfiguration(vms={}, test_script=path)
    app = NixtestApp(Session(config, tmp_path, tmp_dir=blocker / "runtime"))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: "failed" in app.sub_title, 30)
        assert app.sub_title.startswith("opening the session failed: ")
        await pilot.press("ctrl+q")
