"""SVG snapshots of the debugger's panes, by keys on a machine-less session, made
deterministic: no object addresses or clock times on screen, no cursor blink."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import until
from machineless import machineless_app
from textual.pilot import Pilot
from textual.widgets import Input, TextArea, Tree

from nixtest_tui.app import NixtestApp
from nixtest_tui.widgets.repl_output import ReplOutput

SCRIPT = textwrap.dedent("""\
    def check(config, items):
        probe = len(items)
        probe += 1
        return probe

    settings = {"port": 80, "hosts": ["a", "b"]}
    with subtest("inner call"):
        total = check(settings, [1, 2, 3])
    done = total
""")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NixtestApp:
    monkeypatch.setattr(Input, "cursor_blink", False)
    monkeypatch.setattr(TextArea, "cursor_blink", False)
    return machineless_app(tmp_path, SCRIPT)


async def settle(pilot: Pilot[Any], check: Callable[[], bool]) -> None:
    await until(check, seconds=30)  # fails, rather than snapshotting whatever is there
    await pilot.pause()


def test_inspect_column_paused_in_a_function_160x40(snap_compare: Any, app: NixtestApp) -> None:
    """A breakpoint on line 2, one step: the function's locals with `probe` new (highlighted),
    both frames in the stack, the breakpoint with its hit count."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot, lambda: app.sub_title.startswith("idle"))
        await pilot.press("down", "b")
        await pilot.press("f5")
        await settle(pilot, lambda: app.sub_title == "paused at line 2 (breakpoint)")
        await pilot.press("f10")
        await settle(pilot, lambda: app.sub_title == "paused at line 3 (step)")
        tree = app.query_one("#variables-tree", Tree)
        await settle(pilot, lambda: any(str(node.label).startswith("probe")
                                        for node in tree.root.children))

    assert snap_compare(app, terminal_size=(160, 40), run_before=run_before)


def test_repl_results_160x40(snap_compare: Any, app: NixtestApp) -> None:
    """A (status, output) tuple as a status line and a block, a failed one in red, a dict
    pretty-printed, and an error with only the user's frames."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot, lambda: app.sub_title.startswith("idle"))
        await pilot.press("down", "b", "f5")
        await settle(pilot, lambda: app.sub_title == "paused at line 2 (breakpoint)")
        await pilot.press("ctrl+t")
        output = app.query_one(ReplOutput)
        for source, expect in (('(0, "Linux server 6.1.0\\nactive")', "exit status 0"),
                               ('(3, "")', "exit status 3"),
                               ("{key: list(range(4)) for key in config}", "'hosts'"),
                               ("items[7]", "IndexError")):
            await pilot.press(*source, "enter")
            await settle(pilot, lambda expect=expect: any(  # type: ignore[misc]
                expect in line.text for line in output.lines))

    assert snap_compare(app, terminal_size=(160, 40), run_before=run_before)
