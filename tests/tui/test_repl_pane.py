"""The REPL pane through Pilot, by keys: multi-line input, history and its search, the
completion popup, the signature line, how values and errors are shown, folded output."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import until
from machineless import machineless_app, screenshot_dir
from rich.style import Style
from textual.pilot import Pilot
from textual.widgets import Input, Static, TextArea

from nixtest_tui.app import NixtestApp
from nixtest_tui.widgets.repl import ReplPane
from nixtest_tui.widgets.repl_output import ReplOutput
from nixtest_tui.widgets.repl_popup import CompletionPopup

IDLE = "done = True\n"
MACHINE_LIKE = textwrap.dedent('''\
    class Machine:
        def wait_for_unit(self, unit: str, user: str | None = None, timeout: int = 900) -> None:
            """Wait for a systemd unit to get into "active" state.

            Throws exceptions on "failed" and "inactive" states."""

        def succeed(self, *commands: str, timeout: int | None = None) -> str:
            """Execute commands and fail if any of them returns non-zero."""
            return ""

    def ratio(n):
        return 10 / n

    server = Machine()
    units = ["sshd.service", "nginx.service"]
    done = True
''')
PAUSE_LINE = MACHINE_LIKE.splitlines().index("done = True") + 1


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Input, "cursor_blink", False)
    monkeypatch.setattr(TextArea, "cursor_blink", False)


async def open_repl(app: NixtestApp, pilot: Pilot[int]) -> TextArea:
    await until(lambda: app.sub_title.startswith(("idle", "paused")), 30)
    await pilot.press("ctrl+t")
    box = app.query_one("#repl-input", TextArea)
    assert app.focused is box
    return box


async def pause_at_the_end(app: NixtestApp, pilot: Pilot[int]) -> TextArea:
    """A breakpoint on `done = True` (set from the script pane, by keys) and F5."""
    await until(lambda: app.sub_title.startswith("idle"), 30)
    await pilot.press("ctrl+g", *["down"] * (PAUSE_LINE - 1), "b", "f5")
    await until(lambda: app.sub_title == f"paused at line {PAUSE_LINE} (breakpoint)")
    return await open_repl(app, pilot)


def transcript(app: NixtestApp) -> list[str]:
    return [line.text for line in app.query_one(ReplOutput).lines]


def help_line(app: NixtestApp) -> str:
    return str(app.query_one("#repl-help", Static).content)


async def run(pilot: Pilot[int], app: NixtestApp, source: str, expect: str) -> None:
    await pilot.press(*source, "enter")
    await until(lambda: any(expect in line for line in transcript(app)))


async def test_a_for_loop_continues_on_enter_and_runs_on_the_empty_line(tmp_path: Path) -> None:
    app = machineless_app(tmp_path, IDLE)
    async with app.run_test(size=(120, 40)) as pilot:
        box = await open_repl(app, pilot)
        await pilot.press(*"for i in range(3):", "enter")
        assert box.text == "for i in range(3):\n    "
        await pilot.press(*"j = i * 2", "enter")
        assert box.text == "for i in range(3):\n    j = i * 2\n    "
        await pilot.press(*"print(i, j)", "enter")
        assert box.text.count("\n") == 3  # still open: the block's last line is indented
        assert not any("2 4" in line for line in transcript(app))
        await pilot.press("enter")
        await until(lambda: "2 4" in transcript(app))
        lines = transcript(app)
        assert lines[:3] == [">>> for i in range(3):", "...     j = i * 2", "...     print(i, j)"]
        assert lines[3:6] == ["0 0", "1 2", "2 4"]
        assert box.text == ""
        assert app.query_one(ReplPane).recorded == ["for i in range(3):\n    j = i * 2\n"
                                                     "    print(i, j)"]
        await pilot.press(*"if j:", "ctrl+j")  # a forced new line is never a run
        assert box.text == "if j:\n    "
        await pilot.press(*"pass", "enter")
        assert box.text == "if j:\n    pass\n"  # dedented after `pass`


async def test_the_input_highlights_python(tmp_path: Path) -> None:
    """Keywords, strings and numbers each get a colour of their own (tree-sitter)."""
    app = machineless_app(tmp_path, IDLE)
    async with app.run_test(size=(120, 40)) as pilot:
        box = await open_repl(app, pilot)
        await pilot.press(*'for n in "ab": 42')
        await pilot.pause()
        colours = {segment.text: segment.style.color for segment in box.render_line(0)
                   if segment.style is not None and segment.text.strip()}
        assert {"for", '"ab"', "42"} <= set(colours)
        assert len({colours["for"], colours['"ab"'], colours["42"]}) == 3


async def test_history_walks_by_prefix_and_ctrl_r_searches_it(tmp_path: Path) -> None:
    app = machineless_app(tmp_path, IDLE)
    async with app.run_test(size=(120, 40)) as pilot:
        box = await open_repl(app, pilot)
        await run(pilot, app, "alpha = 1", ">>> alpha = 1")
        await run(pilot, app, "beta = 2", ">>> beta = 2")
        await run(pilot, app, "alpha + 10", "11")
        await pilot.press("up")
        assert box.text == "alpha + 10"
        await pilot.press("up")
        assert box.text == "beta = 2"
        await pilot.press("down", "down")
        assert box.text == ""  # past the newest: what was typed (nothing)
        await pilot.press("a", "l", "up")
        assert box.text == "alpha + 10"
        await pilot.press("up")
        assert box.text == "alpha = 1"  # beta = 2 does not start with "al"
        await pilot.press("up")
        assert box.text == "alpha = 1"
        await pilot.press("down", "down")
        assert box.text == "al"
        await pilot.press("ctrl+r", *"be")
        assert box.text == "beta = 2"
        assert "reverse-i-search" in help_line(app) and "`be'" in help_line(app)
        await pilot.press("ctrl+r")  # nothing older contains "be": the match stays
        assert box.text == "beta = 2"
        await pilot.press("escape")  # restores what was typed; the input keeps focus
        assert box.text == "al" and app.focused is box
        await pilot.press("ctrl+r", *"lpha", "ctrl+r")
        assert box.text == "alpha = 1"  # the second ctrl+r: the next older match
        await pilot.press("enter")  # keeps the match, runs nothing
        assert box.text == "alpha = 1" and "search" not in help_line(app)
        assert app.sub_title.startswith("idle")  # ctrl+r did not restart the script
        await pilot.press("0", "enter")
        await until(lambda: ">>> alpha = 10" in transcript(app))
        await run(pilot, app, "alpha * 3", "30")


async def test_tab_fills_the_common_prefix_and_the_popup_picks(tmp_path: Path) -> None:
    app = machineless_app(tmp_path, IDLE)
    async with app.run_test(size=(120, 40)) as pilot:
        box = await open_repl(app, pilot)
        await run(pilot, app, "value_alpha, value_beta = 1, 22", ">>> value_alpha")
        popup = app.query_one(CompletionPopup)
        await pilot.press(*"valu", "tab")
        assert box.text == "value_"
        assert popup.is_open
        assert popup.completions == ["value_alpha", "value_beta"]
        assert app.focused is box  # the popup never takes focus
        await pilot.press("down", "enter")
        assert box.text == "value_beta" and not popup.is_open
        await pilot.press("enter")
        await until(lambda: "22" in transcript(app))
        await pilot.press(*"value_", "tab")
        assert popup.is_open
        await pilot.press("b")  # typing narrows the list
        assert popup.completions == ["value_beta"]
        await pilot.press("escape")
        assert not popup.is_open and app.focused is box  # escape closed only the popup
        await pilot.press("tab")  # a single completion goes in at once
        assert box.text == "value_beta" and not popup.is_open


async def test_the_signature_of_a_machine_method_shows_above_the_input(tmp_path: Path) -> None:
    app = machineless_app(tmp_path, MACHINE_LIKE)
    async with app.run_test(size=(160, 40)) as pilot:
        await pause_at_the_end(app, pilot)
        await pilot.press(*"server.wait_for_unit(")
        await until(lambda: "wait_for_unit(unit: str" in help_line(app))
        assert 'Wait for a systemd unit to get into "active" state.' in help_line(app)
        assert "Throws" not in help_line(app)  # the first paragraph only
        await pilot.press(*'"sshd", ')
        assert "wait_for_unit(unit: str" in help_line(app)  # still inside its parentheses
        await pilot.press(")", "enter")
        await until(lambda: help_line(app) == "")


async def test_a_command_result_shows_as_status_and_block(tmp_path: Path) -> None:
    app = machineless_app(tmp_path, IDLE)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_repl(app, pilot)
        await run(pilot, app, '(0, "a\\nb")', "exit status 0")
        output = app.query_one(ReplOutput)
        lines = transcript(app)
        at = lines.index("✓ exit status 0")
        assert lines[at + 1:at + 3] == ["│ a", "│ b"]
        status = output.lines[at]
        assert any(Style.parse("green").color == segment.style.color
                   for segment in status if segment.style and segment.text.strip())
        await run(pilot, app, '(3, "")', "exit status 3")
        failed = output.lines[transcript(app).index("✗ exit status 3")]
        assert any(Style.parse("red").color == segment.style.color
                   for segment in failed if segment.style and segment.text.strip())
        await run(pilot, app, '{"units": ["sshd.service"] * 12, "up": True}', "'units'")
        pretty = transcript(app)[-16:]
        assert pretty.count("        'sshd.service',") == 11  # too wide for a line: one a line


async def test_a_long_output_is_folded_until_unfolded(tmp_path: Path) -> None:
    app = machineless_app(tmp_path, IDLE)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_repl(app, pilot)
        await run(pilot, app, 'print("\\n".join(f"row{n}" for n in range(100)))', "more lines")
        lines = transcript(app)
        assert "row19" in lines and "row20" not in lines and "row99" not in lines
        assert any(line.startswith("… 80 more lines") for line in lines)
        await pilot.press("ctrl+o")
        await until(lambda: "row99" in transcript(app))
        assert not any("more lines" in line for line in transcript(app))
        await run(pilot, app, 'list(range(200))', "more lines")
        output = app.query_one(ReplOutput)
        fold = next(i for i, line in enumerate(transcript(app)) if "more lines" in line)
        await until(lambda: fold - int(output.scroll_y) < output.size.height)
        await pilot.click(ReplOutput, offset=(2, fold - int(output.scroll_y)))
        await until(lambda: not any("more lines" in line for line in transcript(app)))
        assert "    199" in transcript(app)


async def test_an_error_shows_only_the_users_frames(tmp_path: Path) -> None:
    app = machineless_app(tmp_path, MACHINE_LIKE)
    async with app.run_test(size=(160, 40)) as pilot:
        await pause_at_the_end(app, pilot)
        await run(pilot, app, "retry(lambda left: ratio(0), timeout=5)", "ZeroDivisionError")
        text = "\n".join(transcript(app))
        assert 'File "<evaluation>", line 1, in <module>' in text
        assert 'File "<evaluation>", line 1, in <lambda>' in text
        line = MACHINE_LIKE.splitlines().index("    return 10 / n") + 1
        assert f'File "<string>", line {line}, in ratio' in text and "return 10 / n" in text
        assert "evaluate.py" not in text and "retry.py" not in text
        assert "nixtest_tui" not in text
        assert app.query_one(ReplPane).recorded == []


async def test_screenshot_of_the_repl(tmp_path: Path) -> None:
    app = machineless_app(tmp_path, MACHINE_LIKE)
    async with app.run_test(size=(200, 50)) as pilot:
        await pause_at_the_end(app, pilot)
        await run(pilot, app, '(0, "Linux server 6.1.0 x86_64\\nactive")', "exit status 0")
        await run(pilot, app, '{"units": units, "timeouts": {u: 900 for u in units}}',
                  "'timeouts'")
        await pilot.press(*"for unit in units:", "enter", *"server.", "tab")
        assert app.query_one(CompletionPopup).completions == ["server.succeed",
                                                              "server.wait_for_unit"]
        await pilot.pause()
        app.save_screenshot(str(screenshot_dir(tmp_path) / "repl.svg"))
