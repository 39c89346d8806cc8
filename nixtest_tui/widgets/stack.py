"""The stack pane (issue 20): skeleton wired into the app; filled in by its owner."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Static

from nixtest_tui.debugger import ScriptRunner
from nixtest_tui.driver.events import Event


class StackPane(Static):
    DEFAULT_CSS = """
    StackPane { height: 1fr; border: round $panel; background: $surface; }
    StackPane:focus-within { border: round $accent; }
    """

    def __init__(self, runner: Callable[[], ScriptRunner | None], **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.runner = runner
        self.border_title = "stack"

    def handle(self, event: Event) -> None:
        """Every bus event, on the UI loop (app._deliver); pauses arrive as ScriptStateChanged."""
