"""`ConsoleView`: the scrolling Line-API part of `SerialConsole` (history + pyte screen).

The view draws a `Terminal` it is handed and never parses bytes itself. Its virtual height is
the history length plus the screen rows, as last adopted by `sync()`; between two syncs the
model may have moved on, which is fine because `SerialConsole` syncs at most ~30 times a second
and every sync refreshes whatever changed. Overlays (selection, search match, cursor) are plain
attributes set by the parent, applied on top of cached strips at render time.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.geometry import Offset, Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from nixtest_tui.widgets._terminal import Terminal


class OverlayStyles(NamedTuple):
    """Styles of the parent's component classes, pushed down when its CSS changes."""

    match: Style = Style(reverse=True, bold=True)
    match_line: Style = Style()
    selection: Style = Style(reverse=True)
    cursor: Style = Style(reverse=True)


def overlay(strip: Strip, style: Style, start: int, end: int, base: Style) -> Strip:
    """Paint `style` over cells [start, end), on top of the console's own colours."""
    if end <= start:
        return strip
    if strip.cell_length < end:
        strip = strip.extend_cell_length(end, base)
    before, middle, after = strip.divide([start, end, strip.cell_length])
    painted = Strip(Segment.apply_style(list(middle), post_style=style), middle.cell_length)
    return Strip.join([before, painted, after])


class _Frame(NamedTuple):
    width: int
    selection: Selection | None
    offsets: bool = True


class ConsoleView(ScrollView, can_focus=False):
    """Renders `Terminal` lines; follows the bottom until the user scrolls away from it."""

    DEFAULT_CSS = """
    ConsoleView {
        background: $surface;
        color: $foreground;
        overflow-x: auto;
        overflow-y: scroll;
        scrollbar-size-vertical: 1;
    }
    """

    class FollowChanged(Message):
        """The view started or stopped following new output."""

        def __init__(self, following: bool) -> None:
            super().__init__()
            self.following = following

    def __init__(self, terminal: Terminal) -> None:
        super().__init__()
        self._terminal = terminal
        self._cache: LRUCache[int, Strip] = LRUCache(256)
        """Base strips by absolute line number: still valid after the line scrolled."""
        self._top = terminal.first_line
        self._history_len = len(terminal.history)
        self._cursor: tuple[int, int] | None = None
        self._auto_scrolling = False
        self.following = True
        """Whether new output scrolls the view; cleared when the user scrolls up."""
        self.new_lines = 0
        """Lines that scrolled into history since the view froze."""
        self.selection: tuple[int, int] | None = None
        """Selected absolute lines, inclusive, in either order."""
        self.match: tuple[int, int, int] | None = None
        """Search hit: absolute line, first cell, end cell."""
        self.show_cursor = False
        self.overlay_styles = OverlayStyles()
        self._base_style: Style | None = None
        self._frame: _Frame | None = None
        # Known from the start, so the horizontal scrollbar is settled before the first resize.
        self.virtual_size = Size(terminal.columns, terminal.rows)

    # Section: mapping between absolute line numbers and the view

    @property
    def top_line(self) -> int:
        """Absolute number of the first line in view."""
        return self._top + round(self.scroll_y)

    @property
    def visible_lines(self) -> range:
        height = self.scrollable_content_region.height
        return range(self.top_line, self.top_line + max(1, height))

    def reveal(self, line: int) -> None:
        """Scroll (and so freeze) to show an absolute line, centred if it was out of view."""
        if line in self.visible_lines:
            return
        height = self.scrollable_content_region.height
        self.scroll_to(y=max(0, line - self._top - height // 2), animate=False)

    def follow(self) -> None:
        """Jump to the bottom and keep following."""
        self._set_following(True)
        self._scroll_to_end()
        self.refresh()

    # Section: search and selection (absolute line numbers, so output can keep coming)

    def find(self, query: str, forward: bool) -> bool:
        """Move the match to the next (or previous) line containing `query`; "" clears it."""
        terminal = self._terminal
        found = None
        if query:
            if self.match is not None:
                start = self.match[0] + (1 if forward else -1)
            else:
                start = self.top_line if forward else self.visible_lines[-1]
            found = terminal.find(query, start, forward)
        self.match = None
        if found is not None:
            line, index = found
            text = terminal.text(line)
            start = cell_len(text[:index])
            self.match = (line, start, start + cell_len(text[index : index + len(query)]))
            self.reveal(line)
        self.refresh_overlays()
        return found is not None

    def toggle_selection(self) -> None:
        """Drop the selection, or start one on the last line in view that shows text."""
        if self.selection is not None:
            self.selection = None
        else:
            shown = [n for n in self.visible_lines if self._terminal.text(n)]
            line = shown[-1] if shown else self.top_line
            self.selection = (line, line)
            self._set_following(False)  # keep the lines being selected in view
            self.reveal(line)
        self.refresh_overlays()

    def extend_selection(self, delta: int) -> None:
        if self.selection is None:
            return
        terminal = self._terminal
        last = terminal.history_end + terminal.rows - 1
        end = max(terminal.first_line, min(self.selection[1] + delta, last))
        self.selection = (self.selection[0], end)
        self.reveal(end)
        self.refresh_overlays()

    def selected_text(self) -> str | None:
        if self.selection is None:
            return None
        low, high = sorted(self.selection)
        return "\n".join(self._terminal.texts(low, high + 1))

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """Text under a mouse selection (Textual's: drag to select, ctrl+c copies).

        Its offsets carry absolute line numbers (see `render_line`), so it stays on its text
        while the history is trimmed under it.
        """
        start, end = selection
        first = self._terminal.first_line if start is None else start.y
        last = self._terminal.end_line if end is None else end.y + 1
        relative = Selection(
            None if start is None else Offset(start.x, 0),
            None if end is None else Offset(end.x, end.y - first),
        )
        return relative.extract("\n".join(self._terminal.texts(first, last))), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        if selection is not None:
            self._set_following(False)  # keep what is being selected in place
        self.refresh()

    # Section: adopting the model's changes

    def sync(self) -> None:
        """Adopt the terminal's new extent and refresh only what changed.

        Strips are cached by absolute line number, which a line keeps while it scrolls, so
        after a scroll only the lines pyte reports changed are rendered again; the rest of the
        repaint comes from the cache.
        """
        terminal = self._terminal
        self._fit_rows()
        dirty = terminal.take_dirty()
        old_top, old_end = self._top, self._top + self._history_len
        self._top, self._history_len = terminal.first_line, len(terminal.history)
        scrolled = self._top + self._history_len - old_end
        trimmed = self._top - old_top
        self._set_virtual_height(self._history_len + terminal.rows)
        for line in dirty:
            self._cache.discard(line)
        self._sync_cursor()
        if self.following:
            self._scroll_to_end()
        else:
            self.new_lines += scrolled
            if trimmed:
                self._scroll_quietly(max(0, self.scroll_y - trimmed))
        top = self.top_line
        bottom = top + self.scrollable_content_region.height
        if (scrolled or trimmed) and (self.following or bottom > old_end):
            self.refresh()
        else:
            for line in sorted(dirty):
                if top <= line < bottom:
                    self.refresh_line(line - self._top)

    def _set_virtual_height(self, height: int) -> None:
        """Grow the scrollable area without a screen layout.

        `virtual_size` is a layout reactive: assigning it re-arranges and repaints the whole
        screen, tens of milliseconds in the full app, at every sync while the history fills.
        Only this widget's scrollbars depend on it, so update those alone.
        """
        size = Size(self._terminal.columns, height)
        if size != self.virtual_size:
            self.set_reactive(ScrollView.virtual_size, size)
            self._scroll_update(size)

    def _sync_cursor(self) -> None:
        screen = self._terminal.screen
        cursor = None
        if self.show_cursor and not screen.cursor.hidden:
            x = min(screen.cursor.x, screen.columns - 1)
            cursor = (self._terminal.history_end + screen.cursor.y, x)
        if cursor != self._cursor:
            for old in (self._cursor, cursor):
                if old is not None:
                    self.refresh_line(old[0] - self._top)
            self._cursor = cursor

    def _scroll_to_end(self) -> None:
        self._scroll_quietly(self.max_scroll_y)

    def _scroll_quietly(self, y: float) -> None:
        self._auto_scrolling = True
        try:
            self.scroll_to(y=y, animate=False)
        finally:
            self._auto_scrolling = False

    def _set_following(self, following: bool) -> None:
        if following != self.following:
            self.following = following
            self.new_lines = 0
            self.post_message(self.FollowChanged(following))
            if following and self.text_selection is not None:  # it would scroll away
                selections = self.screen.selections
                self.screen.selections = {w: s for w, s in selections.items() if w is not self}

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if not self._auto_scrolling:
            self._set_following(round(new_value) >= self.max_scroll_y)

    def on_resize(self, event: events.Resize) -> None:
        self.sync()

    def _fit_rows(self) -> None:
        """Give pyte as many rows as are visible; checked at every sync, since a scrollbar
        appearing shrinks the viewport without a resize event."""
        rows = self.scrollable_content_region.height
        if rows > 0 and rows != self._terminal.rows:
            self._terminal.resize(rows)
            self._cache.clear()

    # Section: rendering

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()
        self._base_style = None

    @property
    def base_style(self) -> Style:
        """The theme's console colours; cached, as `rich_style` is recomputed on every call."""
        if self._base_style is None:
            self._base_style = self.rich_style
        return self._base_style

    def refresh_overlays(self) -> None:
        """Repaint after the parent changed selection, match or cursor visibility."""
        self._sync_cursor()
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        # What every line needs, worked out once per repaint rather than once per line.
        selection = self.text_selection
        self._frame = _Frame(
            self.scrollable_content_region.width,
            selection,
            self.mouse_hover or selection is not None,
        )
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def watch_mouse_hover(self, hover: bool) -> None:
        self.refresh()  # lines gain (or lose) the offsets that mouse selection needs

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        line = self._top + scroll_y + y
        frame = self._frame or _Frame(self.scrollable_content_region.width, self.text_selection)
        base = self.base_style
        strip = self._decorate(self._base_strip(line, base), line, base, frame.width)
        if frame.selection and (span := frame.selection.get_span(line)):
            # The background only: the theme's selection foreground can hide the text.
            style = Style(bgcolor=self.screen.get_component_rich_style("screen--selection").bgcolor)
            end = max(frame.width, self._terminal.columns) if span[1] == -1 else span[1]
            strip = overlay(strip, style, span[0], end, base)
        strip = strip.crop_extend(scroll_x, scroll_x + frame.width, base)
        # Offsets for mouse selection: the absolute line number, which survives scrolling.
        # They cost a new style per segment, so lines get them only while the mouse is here.
        return strip.apply_offsets(scroll_x, line) if frame.offsets else strip

    def _base_strip(self, line: int, base: Style) -> Strip:
        strip = self._cache.get(line)
        if strip is None:
            # The line as the model has it now; if it changes, the next sync drops this strip.
            rendered = self._terminal.line(line)
            if rendered.cells:
                strip = Strip(rendered.segments, rendered.cells).apply_style(base)
            else:
                strip = Strip.blank(0, base)
            self._cache[line] = strip
        return strip

    def _decorate(self, strip: Strip, line: int, base: Style, width: int) -> Strip:
        styles = self.overlay_styles
        width = max(self._terminal.columns, width)
        if self.selection is not None:
            low, high = sorted(self.selection)
            if low <= line <= high:
                strip = overlay(strip, styles.selection, 0, width, base)
        if self.match is not None and self.match[0] == line:
            _, start, end = self.match
            strip = overlay(strip, styles.match_line, 0, width, base)
            strip = overlay(strip, styles.match, start, end, base)
        if self._cursor is not None and self._cursor[0] == line:
            x = self._cursor[1]
            strip = overlay(strip, styles.cursor, x, x + 1, base)
        return strip
