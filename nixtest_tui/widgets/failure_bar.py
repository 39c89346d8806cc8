"""Shown while the script is paused on a failed statement: the error and the three choices."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Static


class FailureBar(Horizontal):
    DEFAULT_CSS = """
    FailureBar { height: auto; background: $error 25%; padding: 0 1; display: none; }
    FailureBar.-visible { display: block; }
    FailureBar > Static { width: 1fr; }
    FailureBar > Button { min-width: 10; margin-left: 1; }
    """

    class Chosen(Message):
        """`action` is retry, skip or raise (let the failure propagate)."""

        def __init__(self, action: str) -> None:
            super().__init__()
            self.action = action

    def compose(self) -> ComposeResult:
        yield Static("", id="failure-text")
        yield Button("retry (r)", id="retry", variant="success")
        yield Button("skip (k)", id="skip", variant="warning")
        yield Button("fail (F)", id="raise", variant="error")

    def show_failure(self, line: int | None, error: str) -> None:
        self.query_one("#failure-text", Static).update(f"✗ line {line}: {error}")
        self.add_class("-visible")

    def hide(self) -> None:
        self.remove_class("-visible")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id:
            self.post_message(self.Chosen(event.button.id))
