"""The watches and breakpoints panes driven by keys through Pilot, over a machine-less session:
a watch added by keys updates at every pause and greys while the script runs; a condition and
a hit condition set by keys make the script stop only where both hold; a log point logs
without pausing; space, d and enter act on the selected breakpoint."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import until
from machineless import machineless_app, screenshot_dir
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, OptionList

from nixtest_tui.app import NixtestApp
from nixtest_tui.widgets.breakpoints import BreakpointsPane
from nixtest_tui.widgets.driver_log import DriverLog
from nixtest_tui.widgets.prompt import TextPrompt
from nixtest_tui.widgets.script_pane import ScriptPane
from nixtest_tui.widgets.stack import StackPane
from nixtest_tui.widgets.watches import WatchesPane

SIZE = (200, 50)


LOOP = textwrap.dedent("""\
    counter = 0
    for i in range(10):
        counter += i
    with subtest("after the loop"):
        done = counter == 45
""")


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Input, "cursor_blink", False)


async def ready(app: NixtestApp) -> None:
    await until(lambda: app.sub_title.startswith("idle"), 30)


async def breakpoint_on(app: NixtestApp, pilot: Pilot[int], line: int) -> None:
    """Focus the script (ctrl+g), move the cursor to `line` by keys and press b."""
    await pilot.press("ctrl+g", "home", *["down"] * (line - 1), "b")


async def tab_to(app: NixtestApp, pilot: Pilot[int], pane: Widget) -> None:
    """Tab until the focus is inside `pane`, as a person would."""
    for _ in range(40):
        if app.focused is not None and pane in app.focused.ancestors_with_self:
            return
        await pilot.press("tab")
    raise AssertionError(f"tab never reached {pane}")


async def answer(app: NixtestApp, pilot: Pilot[int], key: str, text: str) -> None:
    """`key` opens the prompt; the old text is cleared, `text` typed and entered."""
    await pilot.press(key)
    await until(lambda: isinstance(app.screen, TextPrompt), 10)
    await pilot.press("ctrl+u", *text, "enter")  # ctrl+u: delete to the line's start
    await until(lambda: not isinstance(app.screen, TextPrompt), 10)


def shown(pane: Widget) -> str:
    listing = pane.query_one(OptionList)
    return "\n".join(str(listing.get_option_at_index(i).prompt)
                     for i in range(listing.option_count))


def log_text(app: NixtestApp) -> str:
    return "\n".join(str(line.text) for line in app.query_one(DriverLog).lines)


async def test_a_watch_added_by_keys_updates_at_every_pause(tmp_path: Path) -> None:
    app = machineless_app(tmp_path, LOOP)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        watches = app.query_one(WatchesPane)
        await breakpoint_on(app, pilot, 3)
        await pilot.press("f5")
        await until(lambda: app.sub_title == "paused at line 3 (breakpoint)")
        await tab_to(app, pilot, watches)
        await answer(app, pilot, "a", "(i, counter * 10)")
        await answer(app, pilot, "a", "counter / i")
        await until(lambda: " = (0, 0)" in shown(watches))
        await until(lambda: "counter / i ! ZeroDivisionError: division by zero" in shown(watches))
        await pilot.press("f5")  # the next pause: both watches evaluated again
        await until(lambda: "= (1, 0)" in shown(watches) and "= 0.0" in shown(watches))
        await pilot.press("f5")
        await until(lambda: "= (2, 10)" in shown(watches) and "= 0.5" in shown(watches))
        app.save_screenshot(str(screenshot_dir(tmp_path) / "watches.svg"))
        await pilot.press("d")  # the selected watch (the one added last) goes
        assert [w.expression for w in watches.watches] == ["(i, counter * 10)"]
        await answer(app, pilot, "t", "0.5")
        assert watches.watches.watches[0].timeout == 0.5
        assert "(timeout 0.5 s)" in shown(watches)
        await answer(app, pilot, "e", "x = 1")  # a statement is refused, the watch kept
        assert [w.expression for w in watches.watches] == ["(i, counter * 10)"]
        await pilot.press("ctrl+g", "f9", "f5")  # no breakpoint any more: runs to the end
        await until(lambda: app.sub_title == "finished")
        assert not watches.paused  # the last values stay, greyed
        prompt = watches.query_one(OptionList).get_option_at_index(0).prompt
        assert "= (2, 10)" in str(prompt) and "dim" in str(prompt.spans[-1].style)  # type: ignore[union-attr]
        await pilot.press("ctrl+q")


async def test_condition_and_hit_condition_set_by_keys(tmp_path: Path) -> None:
    """i % 2 == 1 holds for i = 1, 3, 5, 7, 9; `>= 3` lets the 3rd of those on stop: i = 5,
    7 and 9. A watch on i shows where the script stopped."""
    app = machineless_app(tmp_path, LOOP)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        panel, watches = app.query_one(BreakpointsPane), app.query_one(WatchesPane)
        await breakpoint_on(app, pilot, 3)
        await until(lambda: "  3 counter += i" in shown(panel), 5)
        await tab_to(app, pilot, watches)
        await answer(app, pilot, "a", "i")
        await tab_to(app, pilot, panel)
        await answer(app, pilot, "e", "i % 2 == 1")
        await answer(app, pilot, "h", "> 1")
        await answer(app, pilot, "h", "won't parse")  # refused: the last good one stays
        await answer(app, pilot, "h", ">= 3")
        assert "if i % 2 == 1 · hit >= 3" in shown(panel)
        assert app.query_one(ScriptPane).breakpoint_marks == {3: "◆"}
        seen = []
        await pilot.press("f5")
        for value in ("5", "7", "9"):
            await until(lambda: app.sub_title == "paused at line 3 (breakpoint)")
            await until(lambda: f"= {value}" in shown(watches), 10)  # noqa: B023
            seen.append(value)
            await pilot.press("f5")
        await until(lambda: app.sub_title == "finished")
        assert seen == ["5", "7", "9"]
        await until(lambda: "hits 5" in shown(panel), 5)
        app.save_screenshot(str(screenshot_dir(tmp_path) / "breakpoints.svg"))
        await pilot.press("space")  # disabled: the next run goes straight through
        assert app.query_one(ScriptPane).breakpoint_marks == {3: "○"}
        await pilot.press("f5")
        await until(lambda: app.sub_title == "finished" and "hits 0" in shown(panel))
        await pilot.press("ctrl+q")


async def test_a_log_point_logs_without_pausing(tmp_path: Path) -> None:
    app = machineless_app(tmp_path, LOOP)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        panel = app.query_one(BreakpointsPane)
        await breakpoint_on(app, pilot, 3)
        await breakpoint_on(app, pilot, 5)
        await tab_to(app, pilot, panel)
        await answer(app, pilot, "l", "i={i} counter={counter}")
        assert app.query_one(ScriptPane).breakpoint_marks == {3: "◇", 5: "●"}
        await pilot.press("f5")
        await until(lambda: app.sub_title == "paused at line 5 (breakpoint)")  # not line 3
        log = log_text(app)
        assert all(f"log point, line 3: i={i} counter={sum(range(i + 1)) - i}" in log
                   for i in range(10))
        await until(lambda: "hits 10" in shown(panel), 5)
        await pilot.press("down", "d")  # the selected second breakpoint (line 5) goes
        assert list(app.session.require_runner().breakpoints) == [3]
        assert app.query_one(ScriptPane).breakpoints == {3}
        await pilot.press("enter")  # shows line 3 in the script pane
        assert app.focused is app.query_one(ScriptPane)
        assert app.query_one(ScriptPane).cursor_line == 3
        await pilot.press("f5")
        await until(lambda: app.sub_title == "finished")
        await pilot.press("ctrl+q")


HELPER = textwrap.dedent("""\
    def helper(n):
        doubled = n * 2
        return doubled

    total = helper(21)
""")


async def test_watches_follow_the_frame_chosen_in_the_stack(tmp_path: Path) -> None:
    """Enter on the outer frame in the stack pane: the watches are evaluated there again."""
    app = machineless_app(tmp_path, HELPER)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        watches, stack = app.query_one(WatchesPane), app.query_one(StackPane)
        await breakpoint_on(app, pilot, 3)
        await pilot.press("f5")
        await until(lambda: app.sub_title.startswith("paused at line 3"))
        await tab_to(app, pilot, watches)
        await answer(app, pilot, "a", "doubled")
        await until(lambda: "doubled = 42" in shown(watches))
        await tab_to(app, pilot, stack)
        await pilot.press("down", "enter")  # the module's frame, where nothing is doubled
        await until(lambda: "doubled ! NameError: name 'doubled' is not defined"
                    in shown(watches))
        await pilot.press("ctrl+q")
