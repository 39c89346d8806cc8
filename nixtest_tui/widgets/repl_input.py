"""The REPL's input: a Python editor whose Enter runs a complete statement and continues an
incomplete one, with history, reverse-i-search and a completion popup.

Keys reach a focused widget's key handler before any non-priority binding, so everything the
popup or a search needs (up, down, enter, tab, escape, ctrl+r) is decided here first; what is
left goes on to TextArea and then to the bindings up the focus chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.geometry import Offset
from textual.message import Message
from textual.widget import Widget
from textual.widgets import TextArea

from nixtest_tui.widgets.ordered_keys import CodeArea
from nixtest_tui.widgets.repl_editing import (
    INDENT,
    Enter,
    common_prefix,
    next_indent,
    on_enter,
    runnable,
    token_before,
)
from nixtest_tui.widgets.repl_history import History
from nixtest_tui.widgets.repl_popup import CompletionPopup


@dataclass
class _Search:
    draft: str
    query: str = ""
    index: int | None = None
    failed: bool = False


class ReplInput(CodeArea):
    BINDINGS = [
        Binding("tab", "complete", "Complete", show=False),
        Binding("ctrl+r", "search_history", "Search history"),
        Binding("shift+enter,ctrl+j", "newline", "Newline", show=False),
    ]

    class Submitted(Message):
        def __init__(self, source: str) -> None:
            super().__init__()
            self.source = source

    class Searching(Message):
        """A reverse-i-search changed (`query` None: it ended)."""

        def __init__(self, query: str | None, failed: bool) -> None:
            super().__init__()
            self.query = query
            self.failed = failed

    def __init__(self, complete: Callable[[str], list[str]], popup: CompletionPopup,
                 **kwargs: object) -> None:
        super().__init__(language="python", theme="monokai", soft_wrap=True,
                         tab_behavior="focus", **kwargs)  # type: ignore[arg-type]
        self._complete = complete
        self.popup = popup
        self.recall = History()
        self._loaded: str | None = None  # what history put in: an edit after it starts anew
        self._search: _Search | None = None

    # -- keys ------------------------------------------------------------------------------------

    async def _on_key(self, event: events.Key) -> None:
        if self._search is not None and self._search_key(event):
            event.stop()
            event.prevent_default()
        elif self.popup.is_open and self._popup_key(event.key):
            event.stop()
            event.prevent_default()
        elif event.key == "enter":
            event.stop()
            event.prevent_default()
            self._enter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Tab completes only what was typed: in an empty input it moves focus, as anywhere."""
        if action == "complete":
            return bool(self.text.strip())
        return super().check_action(action, parameters)

    def _enter(self) -> None:
        row, _ = self.cursor_location
        if row < self.document.line_count - 1:
            self.action_newline()
            return
        decision = on_enter(self.text)
        if decision is Enter.RUN:
            source = runnable(self.text)
            self.recall.add(source)
            self.clear()
            self.post_message(self.Submitted(source))
        elif decision is Enter.CONTINUE:
            self.action_newline()

    def action_newline(self) -> None:
        row, column = self.cursor_location
        indent = next_indent(self.document.get_line(row)[:column])
        self.insert("\n" + indent, maintain_selection_offset=False)

    # -- history ---------------------------------------------------------------------------------

    def action_cursor_up(self, select: bool = False) -> None:
        if select or self.cursor_location[0] > 0:
            super().action_cursor_up(select)
            return
        entry = self.recall.older(self.text)
        if entry is not None:
            self._load(entry)

    def action_cursor_down(self, select: bool = False) -> None:
        if select or self.cursor_location[0] < self.document.line_count - 1:
            super().action_cursor_down(select)
            return
        entry = self.recall.newer()
        if entry is not None:
            self._load(entry)

    def _load(self, text: str) -> None:
        self._loaded = text
        self.replace(text, (0, 0), self.document.end, maintain_selection_offset=False)
        self.move_cursor(self.document.end)

    def _on_text_area_changed(self, event: TextArea.Changed) -> None:
        if self._loaded is not None and self.text != self._loaded:
            self._loaded = None
            if self._search is None:
                self.recall.reset()
        if self.popup.is_open:
            self._refilter()

    # -- reverse-i-search ------------------------------------------------------------------------

    def action_search_history(self) -> None:
        self._search = _Search(self.text)
        self.post_message(self.Searching("", False))

    def _search_key(self, event: events.Key) -> bool:
        """Whether the search took the key; any key it does not take ends it (keeping the
        match) and then acts as usual, as in a shell."""
        search = self._search
        assert search is not None
        if event.key == "ctrl+r":
            self._find(search, search.query, search.index)
        elif event.key == "backspace":
            self._find(search, search.query[:-1], None)
        elif event.key in ("escape", "ctrl+g"):
            self._end_search()
            self._load(search.draft)
        elif event.key == "enter":
            self._end_search()
        elif event.is_printable and event.character is not None:
            self._find(search, search.query + event.character, None)
        else:
            self._end_search()
            return False
        return True

    def _find(self, search: _Search, query: str, before: int | None) -> None:
        search.query = query
        found = self.recall.search(query, before) if query else None
        search.failed = bool(query) and found is None
        if found is not None:
            search.index = found
            self._load(self.recall.entries[found])
        self.post_message(self.Searching(query, search.failed))

    def _end_search(self) -> None:
        self._search = None
        self.recall.reset()
        self.post_message(self.Searching(None, False))

    # -- completion ------------------------------------------------------------------------------

    def action_complete(self) -> None:
        row, column = self.cursor_location
        before = self.document.get_line(row)[:column]
        if not before.strip():
            self.insert(INDENT[:len(INDENT) - column % len(INDENT)] or INDENT,
                        maintain_selection_offset=False)
            return
        options = self._complete(before)
        token = token_before(before)
        if len(options) == 1:
            self._replace_token(token, options[0])
            return
        prefix = common_prefix(options)
        if len(prefix) > len(token):
            self._replace_token(token, prefix)
        if options:
            self._show_popup(options)

    def _popup_key(self, key: str) -> bool:
        if key in ("up", "down"):
            self.popup.move(-1 if key == "up" else 1)
        elif key in ("enter", "tab"):
            chosen = self.popup.chosen
            self.popup.close()
            if chosen is not None:
                row, column = self.cursor_location
                self._replace_token(token_before(self.document.get_line(row)[:column]), chosen)
        elif key == "escape":
            self.popup.close()
        else:
            return False
        return True

    def _refilter(self) -> None:
        """Typing with the popup open narrows it; it closes when nothing is left to pick."""
        row, column = self.cursor_location
        before = self.document.get_line(row)[:column]
        token = token_before(before)
        options = self._complete(before) if token else []
        if options and options != [token]:
            self._show_popup(options)
        else:
            self.popup.close()

    def _replace_token(self, token: str, text: str) -> None:
        row, column = self.cursor_location
        self.replace(text, (row, column - len(token)), (row, column),
                     maintain_selection_offset=False)

    def _show_popup(self, options: list[str]) -> None:
        parent = self.popup.parent
        origin = parent.region.offset if isinstance(parent, Widget) else Offset(0, 0)
        cursor = self.cursor_screen_offset
        room_below = self.screen.size.height - cursor.y - 2  # (and the footer)
        self.popup.show(options, cursor - origin, room_below)
