"""The REPL's transcript: a RichLog that remembers what it showed, so that a folded output
can be unfolded in place (by ctrl+o in the input, or a click on it)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.widgets import RichLog

from nixtest_tui.widgets.repl_render import Shown

MAX_ENTRIES = 500
"""The transcript keeps this many entries: unfolding rewrites it, and that must stay quick."""


@dataclass
class _Entry:
    shown: Shown
    first_line: int | None = None  # None: written before the log knew its size
    end_line: int | None = None


class ReplOutput(RichLog):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(wrap=True, markup=False, highlight=False, **kwargs)  # type: ignore[arg-type]
        self.can_focus = False
        self._entries: list[_Entry] = []

    def add(self, shown: Shown) -> None:
        entry = _Entry(shown)
        self._entries.append(entry)
        if len(self._entries) > MAX_ENTRIES:
            del self._entries[0]
        self._write(entry, scroll_end=None)

    def _write(self, entry: _Entry, scroll_end: bool | None) -> None:
        known = self._size_known
        entry.first_line = len(self.lines) if known else None
        width = max(self.scrollable_content_region.width, 20) if known else None
        for renderable in entry.shown.renderables():  # (at the log's width: a Group's
            self.write(renderable, width=width, scroll_end=scroll_end)  # would be guessed)
        entry.end_line = len(self.lines) if known else None

    @property
    def folded_count(self) -> int:
        return sum(1 for entry in self._entries if entry.shown.folded and entry.shown.foldable)

    def unfold_last(self) -> bool:
        """Unfold the newest folded output; False if there is none."""
        for entry in reversed(self._entries):
            if entry.shown.folded and entry.shown.foldable:
                self._unfold(entry)
                return True
        return False

    def _unfold(self, entry: _Entry) -> None:
        entry.shown.folded = False
        self.clear()
        for each in self._entries:
            self._write(each, scroll_end=False)
        if entry.first_line is not None:
            self.scroll_to(y=entry.first_line, animate=False)

    def on_click(self, event: events.Click) -> None:
        line = int(self.scroll_y) + event.y
        for entry in self._entries:
            if (entry.first_line is not None and entry.end_line is not None
                    and entry.first_line <= line < entry.end_line
                    and entry.shown.folded and entry.shown.foldable):
                self._unfold(entry)
                return
