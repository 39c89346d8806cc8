"""Keys that arrive together act in the order they came, in every text input of ours: the
keys are posted to the app in one go, as a terminal's batch (slow SSH, a script driving tmux)
delivers them, not pressed one at a time with a pause between, as Pilot's `press` does."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import until
from machineless import machineless_app
from textual import events
from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import Input, TextArea

from nixtest_tui.widgets.ordered_keys import CodeArea, OrderedKeys, TextInput
from nixtest_tui.widgets.shell import ShellInput

BATCH = [("x", "x"), ("y", "y"), ("z", "z"), ("backspace", None), ("w", "w"),
         ("left", None), ("v", "v")]


class OneInput(App[None]):
    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def value(widget: Widget) -> str:
    return widget.value if isinstance(widget, Input) else widget.text  # type: ignore[attr-defined]


@pytest.mark.parametrize("make", [TextInput, CodeArea], ids=["TextInput", "CodeArea"])
async def test_a_batch_of_keys_edits_in_order(make: type[Widget]) -> None:
    app = OneInput(make())
    async with app.run_test() as pilot:
        app.widget.focus()
        await pilot.pause()
        for key, character in BATCH:  # all queued before any is handled
            app.post_message(events.Key(key, character))
        await until(lambda: len(value(app.widget)) >= 3, 10)
        await pilot.pause()
        assert value(app.widget) == "xyvw"


async def test_the_shell_input_runs_each_line_of_a_batch_alone() -> None:
    """The shell tab's input is cleared by Enter itself: `echo a⏎echo b⏎` typed in one go
    runs two lines, not `echo a` and then `echo aecho b`."""
    submitted: list[str] = []

    class Submitting(OneInput):
        def on_input_submitted(self, event: Input.Submitted) -> None:
            submitted.append(event.value)

    app = Submitting(ShellInput())
    async with app.run_test() as pilot:
        app.widget.focus()
        await pilot.pause()
        for character in "echo a\recho b\r":
            key = {"\r": "enter", " ": "space"}.get(character, character)
            app.post_message(events.Key(key, character))
        await until(lambda: len(submitted) == 2, 10)
        assert submitted == ["echo a", "echo b"]


async def test_every_text_input_on_the_main_screen_keeps_the_order(tmp_path: Path) -> None:
    """A guard for new widgets: Textual's own Input and TextArea reorder a batch."""
    app = machineless_app(tmp_path, "done = True\n")
    async with app.run_test(size=(200, 50)):
        await until(lambda: app.sub_title.startswith("idle"), 30)
        inputs = list(app.query(Input)) + list(app.query(TextArea))
        assert inputs, "no text input found"
        assert [w for w in inputs if not isinstance(w, OrderedKeys)] == []
