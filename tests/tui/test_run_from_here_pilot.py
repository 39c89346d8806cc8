"""Run from here and edit-and-continue, by keys: `j` on a line of the paused script goes on from
there; an edit of the file on disk reloads the pane and the paused run goes on with the new
lines; `e` opens an editor whose ctrl+s saves and applies, and whose text survives a refusal.
The scripts are plain Python (no machines): only the debugger and the panes are under test."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import until
from machineless import machineless_app, screenshot_dir
from textual.widgets import Input, TextArea

from nixtest_tui.app import NixtestApp
from nixtest_tui.widgets.driver_log import DriverLog
from nixtest_tui.widgets.script_editor import ScriptEditor
from nixtest_tui.widgets.script_pane import ScriptPane
from nixtest_tui.widgets.subtests import SubtestList

SCRIPT = textwrap.dedent("""\
    counter = 0
    with subtest("first"):
        counter += 1
        log.log(f"first ran, counter={counter}")
    with subtest("second"):
        counter += 10
        log.log(f"second ran, counter={counter}")
    log.log(f"done, counter={counter}")
""")


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Input, "cursor_blink", False)
    monkeypatch.setattr(TextArea, "cursor_blink", False)


def toasts(app: NixtestApp) -> str:
    """The notifications on screen now (on the screen in front: the editor's, if open)."""
    return "\n".join(str(toast.render()) for toast in app.screen.query("Toast"))


def log_text(app: NixtestApp) -> str:
    return "\n".join(str(line.text) for line in app.query_one(DriverLog).lines)


async def pause_at(app: NixtestApp, pilot: object, line: int) -> None:
    """From idle, with the script pane focused and its cursor on line 1: b on `line`, F5."""
    await until(lambda: app.sub_title.startswith("idle"), 30)
    assert isinstance(app.focused, ScriptPane) and app.focused.cursor_line == 1
    await pilot.press(*["down"] * (line - 1), "b", "f5")  # type: ignore[attr-defined]
    await until(lambda: app.sub_title == f"paused at line {line} (breakpoint)")


async def test_j_goes_on_from_the_cursor_line(tmp_path: Path) -> None:
    """Paused in the first subtest, `j` on the last line skips the rest of it and the whole
    second one; c runs from there in the same globals; leaving the subtest is no failure."""
    app = machineless_app(tmp_path, SCRIPT)
    async with app.run_test(size=(200, 50), notifications=True) as pilot:
        await pause_at(app, pilot, 3)
        await pilot.press("down", "down", "down", "down", "down", "j")
        await until(lambda: app.sub_title == "paused at line 8 (jump)")
        pane = app.query_one(ScriptPane)
        assert pane.current_line == 8
        await until(lambda: "jumped from line 3 to line 8" in log_text(app))
        app.save_screenshot("run-from-here.svg", str(screenshot_dir(tmp_path)))
        await pilot.press("c")
        await until(lambda: app.sub_title == "finished")
        log = log_text(app)
        assert "jumped from line 3 to line 8" in log
        assert "done, counter=0" in log and "first ran" not in log and "second ran" not in log
        assert app.query_one(SubtestList).state_of("first") == "left"  # not failed, not passed
        await pilot.press("ctrl+q")


async def test_j_refuses_a_line_inside_a_loop_and_says_where_to_go(tmp_path: Path) -> None:
    app = machineless_app(tmp_path, "total = 0\nfor i in range(3):\n    total += i\ndone = 1\n")
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pause_at(app, pilot, 1)
        await pilot.press("down", "down", "j")
        await until(lambda: "inside the loop at line 2" in toasts(app))
        assert app.sub_title == "paused at line 1 (breakpoint)"
        await pilot.press("ctrl+q")


async def test_a_file_edited_on_disk_reloads_and_the_paused_run_goes_on(tmp_path: Path) -> None:
    app = machineless_app(tmp_path, SCRIPT)
    path = tmp_path / "test-script"
    async with app.run_test(size=(200, 50), notifications=True) as pilot:
        await pause_at(app, pilot, 6)
        edited = SCRIPT.replace(
            '    counter += 10\n    log.log(f"second ran,',
            '    log.log("a line added above the paused one")\n'
            '    counter += 10\n    log.log(f"second ran (edited),')
        path.write_text(edited)
        pane = app.query_one(ScriptPane)
        # the line added above the paused one has not run yet: the run goes on with it
        await until(lambda: app.sub_title == "paused at line 6 (reload)", 30)
        assert pane.text == edited and pane.current_line == 6
        assert pane.breakpoints == {7}  # the breakpoint moved with its line
        assert app.query_one(SubtestList).state_of("first") == "passed"  # the same run
        await pilot.press("c")
        await until(lambda: app.sub_title == "paused at line 7 (breakpoint)")
        await pilot.press("c")
        await until(lambda: app.sub_title == "finished")
        log = log_text(app)
        assert "a line added above the paused one" in log
        assert "second ran (edited), counter=11" in log  # a line not yet run: the new text
        await pilot.press("ctrl+q")


async def test_the_editor_saves_applies_and_keeps_a_text_that_does_not_parse(
        tmp_path: Path) -> None:
    app = machineless_app(tmp_path, SCRIPT)
    path = tmp_path / "test-script"
    async with app.run_test(size=(200, 50), notifications=True) as pilot:
        await pause_at(app, pilot, 6)
        await pilot.press("e")
        await until(lambda: isinstance(app.screen, ScriptEditor))
        area = app.screen.query_one(TextArea)
        assert app.focused is area and area.cursor_location == (5, 0)
        await pilot.press("end", "enter", *"    counter += 1000")  # (no auto-indent)
        app.save_screenshot("edit.svg", str(screenshot_dir(tmp_path)))
        await pilot.press("enter", "(", "ctrl+s")  # an open parenthesis: does not parse
        await until(lambda: "does not parse (line 8: '(' was never closed)" in toasts(app))
        assert isinstance(app.screen, ScriptEditor) and area.text.count("(") > SCRIPT.count("(")
        assert path.read_text() == SCRIPT  # nothing written
        await pilot.press("backspace", "backspace", "ctrl+s")
        await until(lambda: not isinstance(app.screen, ScriptEditor))
        await until(lambda: app.sub_title == "paused at line 6 (reload)")
        assert "    counter += 1000\n" in path.read_text()
        assert "counter += 1000" in app.query_one(ScriptPane).text
        await pilot.press("c")
        await until(lambda: app.sub_title == "finished")
        assert "second ran, counter=1011" in log_text(app)
        await pilot.press("ctrl+q")
