"""The completion popup: a list at the REPL's cursor. It never takes focus (typing goes on
in the input, which forwards up/down/enter/tab/escape to it while it is open)."""

from __future__ import annotations

from textual.geometry import Offset
from textual.widgets import OptionList
from textual.widgets.option_list import Option

MAX_ROWS = 10


class CompletionPopup(OptionList):
    DEFAULT_CSS = """
    CompletionPopup {
        overlay: screen;
        position: absolute;
        display: none;
        width: auto;
        min-width: 16;
        max-width: 60;
        height: auto;
        max-height: 12;
        border: round $accent;
        padding: 0;
        background: $panel;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.can_focus = False
        self.completions: list[str] = []

    @property
    def is_open(self) -> bool:
        return bool(self.display)

    def show(self, completions: list[str], cursor: Offset, room_below: int) -> None:
        """List `completions` (full dotted names; the list shows the last part) under the
        cursor (given relative to the popup's parent), or over it when the screen ends
        first: the REPL's input is usually the bottom line."""
        self.completions = completions
        self.clear_options()
        self.add_options(Option(name.rsplit(".", 1)[-1], id=name) for name in completions)
        self.highlighted = 0
        height = min(len(completions), MAX_ROWS) + 2  # (the border)
        y = cursor.y + 1 if height <= room_below else cursor.y - height
        self.styles.offset = (max(cursor.x - 1, 0), y)
        self.display = True

    def close(self) -> None:
        self.display = False
        self.completions = []

    def move(self, delta: int) -> None:
        if not self.completions:
            return
        current = self.highlighted or 0
        self.highlighted = (current + delta) % len(self.completions)

    @property
    def chosen(self) -> str | None:
        if self.highlighted is None or not self.completions:
            return None
        return self.completions[self.highlighted]
