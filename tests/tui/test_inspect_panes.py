"""The variables and stack panes, driven by keys through Pilot on a machine-less session:
variables at a breakpoint, a value changed by a step highlighted, a dict opened, an outer frame
chosen in the stack moving the script pane and the REPL's evaluation frame, and the line and
machine call a running script is blocked in."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from conftest import until
from machineless import machineless_app, screenshot_dir
from rich.text import Text
from textual.widget import Widget
from textual.widgets import Input, Tree

from nixtest_tui.app import NixtestApp
from nixtest_tui.debugger.frames import Variable
from nixtest_tui.driver.events import WaitFinished, WaitStarted
from nixtest_tui.widgets.script_pane import ScriptPane
from nixtest_tui.widgets.stack import StackPane
from nixtest_tui.widgets.variables import CHANGED, VariablesPane

SIZE = (200, 50)


SCRIPT = textwrap.dedent("""\
    def check(config, items):
        probe = len(items)
        probe += 1
        return probe

    settings = {"port": 80, "hosts": ["a", "b"]}
    outer_value = 7
    with subtest("inner call"):
        total = check(settings, [1, 2, 3])
    done = total
""")


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Input, "cursor_blink", False)


async def paused_in_check(app: NixtestApp, pilot: object) -> None:
    """A breakpoint on `probe = len(items)` set with `b`, and F5."""
    await until(lambda: app.sub_title.startswith("idle"), 30)
    pane = app.query_one(ScriptPane)
    pane.focus()
    pane.cursor_line = 2
    await pilot.press("b", "f5")  # type: ignore[attr-defined]
    await until(lambda: app.sub_title == "paused at line 2 (breakpoint)")


def nodes(app: NixtestApp) -> dict[str, Variable]:
    """The variables tree's visible nodes, by name (children named by their path)."""
    tree: Tree[Variable] = app.query_one("#variables-tree", Tree)
    found: dict[str, Variable] = {}
    pending = list(tree.root.children)
    while pending:
        node = pending.pop(0)
        if node.data is not None:
            found[".".join(node.data.path[1:])] = node.data
        if node.is_expanded:
            pending.extend(node.children)
    return found


def label_of(app: NixtestApp, name: str) -> str:
    tree: Tree[Variable] = app.query_one("#variables-tree", Tree)
    for node in tree.root.children:
        if node.data is not None and node.data.name == name:
            return str(node.label)
    return ""


def highlighted(app: NixtestApp, name: str) -> bool:
    """Whether the tree draws `name` with the changed style (what the user sees)."""
    tree: Tree[Variable] = app.query_one("#variables-tree", Tree)
    for node in tree.root.children:
        if node.data is not None and node.data.name == name:
            label = node.label
            assert isinstance(label, Text)
            return any(str(span.style) == CHANGED for span in label.spans)
    return False


async def tab_to(app: NixtestApp, pilot: object, widget: Widget) -> None:
    """Tab until `widget` has focus, as a person would (a bounded number of presses)."""
    for _ in range(30):
        if app.focused is widget:
            return
        await pilot.press("tab")  # type: ignore[attr-defined]
    assert app.focused is widget, f"tab never reached {widget}"


def repl_text(app: NixtestApp) -> str:
    output = app.query_one("#repl-output")
    return "\n".join(str(s.text) for s in output.lines)  # type: ignore[attr-defined]


async def test_variables_show_a_step_s_change_and_open_a_dict(tmp_path: Path) -> None:
    """At a breakpoint inside a function: its locals; F10 adds `probe` (highlighted as new);
    Enter on `config` opens the dict; the next F10 changes `probe` (highlighted again) and the
    dict stays open; at module level `a` shows and hides the driver's names."""
    app = machineless_app(tmp_path, SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await paused_in_check(app, pilot)
        await until(lambda: set(nodes(app)) == {"config", "items"})
        assert "check() locals" in str(app.query_one("#variables-scope").render())
        assert label_of(app, "items") == "items: [1, 2, 3]  list"
        await pilot.press("f10")
        await until(lambda: app.sub_title == "paused at line 3 (step)")
        await until(lambda: "probe" in nodes(app))
        assert nodes(app)["probe"].summary == "3" and highlighted(app, "probe")
        assert not highlighted(app, "items")
        tree = app.query_one("#variables-tree", Tree)
        await tab_to(app, pilot, tree)
        for _ in range(5):
            if tree.cursor_node is not None and str(tree.cursor_node.label).startswith(
                    "config:"):
                break
            await pilot.press("up")
        await pilot.press("enter")
        await until(lambda: "config.['port']" in nodes(app))
        assert nodes(app)["config.['port']"].summary == "80"
        assert nodes(app)["config.['hosts']"].expandable
        await pilot.press("f10")
        await until(lambda: app.sub_title == "paused at line 4 (step)")
        await until(lambda: nodes(app).get("probe") is not None
                    and nodes(app)["probe"].summary == "4")
        assert highlighted(app, "probe") and not highlighted(app, "config")
        await until(lambda: "config.['port']" in nodes(app))  # still open
        assert app.query_one(VariablesPane).has_focus_within
        app.save_screenshot(str(screenshot_dir(tmp_path) / "variables.svg"))
        await pilot.press("f10")  # out of check(): the user's globals, not the driver's
        await until(lambda: app.sub_title.startswith("paused at line 10"))
        await until(lambda: "settings" in nodes(app) and "total" in nodes(app))
        assert "subtest" not in nodes(app) and nodes(app)["total"].summary == "4"
        await pilot.press("a")
        await until(lambda: "subtest" in nodes(app))
        await pilot.press("a")
        await until(lambda: "subtest" not in nodes(app) and "settings" in nodes(app))
        await pilot.press("f5")
        await until(lambda: app.sub_title == "finished")
        await until(lambda: not nodes(app))
        await pilot.press("ctrl+q")


async def test_an_outer_frame_chosen_in_the_stack_moves_the_script_and_the_repl(
        tmp_path: Path) -> None:
    """The stack lists check() over the module; Enter on the module frame moves the script
    pane to line 9, the variables pane to the globals, and the REPL evaluates there: an
    assignment lands in that frame and the variables pane highlights it."""
    app = machineless_app(tmp_path, SCRIPT)
    async with app.run_test(size=SIZE) as pilot:
        await paused_in_check(app, pilot)
        stack = app.query_one(StackPane)
        await until(lambda: stack.option_count == 2)
        assert "check:2" in str(stack.get_option_at_index(0).prompt)
        assert "<module>:9" in str(stack.get_option_at_index(1).prompt)
        await tab_to(app, pilot, stack)
        await pilot.press("down", "enter")
        script = app.query_one(ScriptPane)
        await until(lambda: script.current_line == 9)
        assert str(stack.get_option_at_index(1).prompt).startswith("▶ <module>")
        await until(lambda: "settings" in nodes(app))
        assert "module globals" in str(app.query_one("#variables-scope").render())
        assert "subtest" not in nodes(app)  # the driver's names stay hidden
        app.save_screenshot(str(screenshot_dir(tmp_path) / "stack.svg"))
        await pilot.press("ctrl+t")
        await pilot.press(*"'items' in locals(), outer_value", "enter")
        await until(lambda: "(False, 7)" in repl_text(app))
        await pilot.press(*"outer_value = 42", "enter")
        await until(lambda: nodes(app).get("outer_value") is not None
                    and nodes(app)["outer_value"].summary == "42")
        assert highlighted(app, "outer_value")
        await pilot.press("f10")  # a new pause looks at the innermost frame again
        await until(lambda: app.sub_title == "paused at line 3 (step)")
        await until(lambda: str(stack.get_option_at_index(0).prompt).startswith("▶ check"))
        await pilot.press(*"'items' in locals(), outer_value", "enter")
        await until(lambda: "(True, 42)" in repl_text(app))
        await pilot.press("ctrl+q")


BLOCKED = textwrap.dedent("""\
    os.read(int(os.environ["NIXTEST_TEST_GATE"]), 1)  # until the test opens the gate
    done = True
""")


async def test_a_running_script_shows_its_line_and_the_machine_call_it_waits_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the script runs the stack pane shows the sampled line and, below it, the wait
    a machine is in (with elapsed/timeout); the wait leaves when it finishes."""
    gate, opener = os.pipe()  # the script (a thread of this process) reads, the test writes
    monkeypatch.setenv("NIXTEST_TEST_GATE", str(gate))
    app = machineless_app(tmp_path, BLOCKED)
    try:
        await watch_the_blocked_script(app, opener)
    finally:
        os.close(opener)  # (on a failure too: the script's read then ends, and so does it)
        os.close(gate)


async def watch_the_blocked_script(app: NixtestApp, opener: int) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.sub_title.startswith("idle"), 30)
        await pilot.press("f5")
        stack = app.query_one(StackPane)

        def shown() -> str:
            return "\n".join(str(stack.get_option_at_index(i).prompt)
                             for i in range(stack.option_count))

        await until(lambda: "running :" in shown())
        bus = app.session.bus
        bus.publish(WaitStarted(machine="server", what="unit", target="echo.service",
                                timeout=900.0))
        await until(lambda: "server.wait_for_unit('echo.service')" in shown())
        assert "/900s" in shown()
        bus.publish(WaitFinished(machine="server", what="unit", target="echo.service",
                                 elapsed=1.0, success=True))
        await until(lambda: "wait_for_unit" not in shown())
        os.write(opener, b"x")
        await until(lambda: app.sub_title == "finished")
        await until(lambda: "not paused (finished)" in shown())
        await pilot.press("ctrl+q")
