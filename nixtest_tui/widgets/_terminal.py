"""The serial console's terminal model: a pyte screen with a bounded, immutable scrollback.

`Terminal` is what `SerialConsole` renders, kept free of Textual so it can be tested and
benchmarked on its own::

    terminal = Terminal(columns=160, rows=40, scrollback=10_000)
    terminal.feed(b"[  OK  ] Started \\x1b[1mbackdoor.service\\x1b[0m.\\r\\n")
    terminal.plain_text()            # '[  OK  ] Started backdoor.service.'
    terminal.take_dirty()            # lines (absolute numbers) changed since the last call

Lines are numbered absolutely: history line ``first_line + i`` is ``history[i]`` and screen
row ``r`` is line ``history_end + r``. A line keeps its number when it scrolls off the screen
into the history, so search results and selections stay put while the guest keeps printing.

The history never holds pyte's per-cell dicts (kilobytes a line) but each line encoded as a
string (`_cell_codes`, about a hundred bytes, invisible to the garbage collector). A history line
never changes again, so the widget renders it to a `HistoryLine` (plain text and Rich segments)
only when it is shown, and caches the strip for good. Measured on a boot log, storing a line
this way costs a third of rendering it, and most lines of a flood are never shown.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import chain, groupby
from operator import itemgetter
from typing import NamedTuple

from pyte.screens import Char
from rich.color import Color, ColorParseError
from rich.segment import Segment
from rich.style import Style

from nixtest_tui.widgets._cell_codes import CellCodes
from nixtest_tui.widgets._console_screen import ConsoleScreen, PyteLine
from nixtest_tui.widgets._fast_stream import FastByteStream

log = logging.getLogger(__name__)

Stored = str | tuple[Char, ...]
"""A history line: its cells encoded by `CellCodes` (or, rarely, as they are)."""
Attrs = tuple[str, str, bool, bool, bool, bool, bool, bool]


class HistoryLine(NamedTuple):
    """One rendered console line; immutable, so its strip can be cached forever."""

    text: str
    """Plain text, trailing blanks removed (what search and copy see)."""
    segments: tuple[Segment, ...]
    """Styled runs; segment styles carry only the console's own colours and attributes."""
    cells: int
    """Width in terminal cells (a wide character counts two)."""


BLANK = HistoryLine("", (), 0)
_DATA = itemgetter(0)
_ATTRS: Callable[[Char], Attrs] = itemgetter(1, 2, 3, 4, 5, 6, 7, 8)
_DEFAULT_ATTRS: Attrs = _ATTRS(Char(" "))
_NAMED = {
    "black": "black",
    "red": "red",
    "green": "green",
    "brown": "yellow",  # pyte's name for SGR 33
    "yellow": "yellow",
    "blue": "blue",
    "magenta": "magenta",
    "cyan": "cyan",
    "white": "white",
}


def _color(name: str) -> Color | None:
    """Named colours stay ANSI colours, so Textual maps them through the theme's palette."""
    if name == "default":
        return None
    if name.startswith("bright") and name[6:] in _NAMED:
        return Color.parse(f"bright_{_NAMED[name[6:]]}")
    if name in _NAMED:
        return Color.parse(_NAMED[name])
    try:
        return Color.parse(f"#{name}") if len(name) == 6 else None
    except ColorParseError:
        return None


@lru_cache(maxsize=4096)
def style_for(attrs: Attrs) -> Style | None:
    """Rich style of one pyte attribute set; shared, so history lines reuse a few objects."""
    if attrs == _DEFAULT_ATTRS:
        return None
    fg, bg, bold, italics, underscore, strikethrough, reverse, blink = attrs
    return Style(
        color=_color(fg),
        bgcolor=_color(bg),
        # None rather than False: an unset attribute must not override the widget's base style.
        bold=bold or None,
        italic=italics or None,
        underline=underscore or None,
        strike=strikethrough or None,
        reverse=reverse or None,
        blink=blink or None,
    )


def cells_of(line: PyteLine | None) -> list[Char]:
    """A pyte line's cells in order, trailing blanks dropped."""
    if not line:
        return []
    cells = list(map(line.__getitem__, range(max(line) + 1)))
    blank = line.default
    while cells and cells[-1] == blank:
        cells.pop()
    return cells


def render_cells(cells: Sequence[Char]) -> HistoryLine:
    """Cells as runs of equal attributes; C-level helpers keep it cheap."""
    if not cells:
        return BLANK
    text = "".join(map(_DATA, cells))
    if len(text) == len(cells):  # one character per cell: cut runs out of `text`
        segments, position = [], 0
        for attrs, run in groupby(map(_ATTRS, cells)):
            end = position + len(list(run))
            segments.append(Segment(text[position:end], style_for(attrs)))
            position = end
        return HistoryLine(text.rstrip(), tuple(segments), len(cells))
    runs = groupby(cells, _ATTRS)  # wide or combining characters
    joined = tuple(Segment("".join(map(_DATA, run)), style_for(attrs)) for attrs, run in runs)
    return HistoryLine(text.rstrip(), joined, len(cells))


def render_line(line: PyteLine | None) -> HistoryLine:
    return render_cells(cells_of(line))


class Terminal:
    """Raw serial bytes in; a screen, a bounded history and plain text out.

    Lines leaving the screen are stored, not rendered (see `_cell_codes`): rendering costs ten
    times as much and happens when a line is shown (its strip is then cached) or copied, which
    is rare for lines that scroll past at megabytes a second.
    """

    def __init__(self, columns: int = 160, rows: int = 24, scrollback: int = 10_000) -> None:
        self.history: deque[Stored] = deque(maxlen=max(1, scrollback))
        self._codes = CellCodes()
        self._changed: set[int] = set()  # changed on screen, then scrolled off: see take_dirty
        self.first_line = 0
        """Absolute number of `history[0]`: how many lines have fallen off the top so far."""
        self.screen = ConsoleScreen(columns, rows, self._scrolled)
        self._stream = FastByteStream(self.screen)

    @property
    def columns(self) -> int:
        return self.screen.columns

    @property
    def rows(self) -> int:
        return self.screen.lines

    @property
    def history_end(self) -> int:
        """Absolute number of screen row 0."""
        return self.first_line + len(self.history)

    def _scrolled(self, line: PyteLine | None, changed: bool) -> None:
        if changed:
            self._changed.add(self.history_end)
        if len(self.history) == self.history.maxlen:
            self.first_line += 1
        cells = cells_of(line)
        codes = self._codes.encode(cells)
        self.history.append(tuple(cells) if codes is None else codes)

    def feed(self, data: bytes) -> None:
        """Parse bytes; a sequence upsetting pyte costs the rest of this chunk, not the console."""
        try:
            self._stream.feed(data)
        except Exception:  # pyte raises on a few malformed sequences; keep the console alive
            log.exception("serial console: pyte could not parse %d bytes", len(data))

    def resize(self, rows: int) -> None:
        self.screen.resize(lines=max(1, rows))

    def take_dirty(self) -> set[int]:
        """Lines changed since the last call, by absolute number (pyte's `dirty` contract: the
        reader clears). A line that only moved, from the screen into history, is not in it."""
        end, rows = self.history_end, self.screen.lines
        dirty = {end + row for row in self.screen.dirty if row < rows}
        dirty |= self._changed
        self.screen.dirty.clear()
        self._changed.clear()
        return dirty

    def screen_line(self, row: int) -> HistoryLine:
        return render_line(self.screen.buffer.get(row)) if 0 <= row < self.rows else BLANK

    def line(self, number: int) -> HistoryLine:
        """Any line by absolute number, rendered; blank outside what is kept."""
        if self.first_line <= number < self.history_end:
            cells = self.history[number - self.first_line]
            return render_cells(self._codes.decode(cells) if isinstance(cells, str) else cells)
        return self.screen_line(number - self.history_end)

    def text(self, number: int) -> str:
        """Plain text of any line, without rendering history lines."""
        if self.first_line <= number < self.history_end:
            cells = self.history[number - self.first_line]
            if isinstance(cells, str):
                return self._codes.text(cells).rstrip()
            return "".join(map(_DATA, cells)).rstrip()
        return self.screen_line(number - self.history_end).text

    def content_rows(self) -> int:
        """Screen rows up to the last one showing text."""
        for row in range(self.rows - 1, -1, -1):
            if self.screen_line(row).text:
                return row + 1
        return 0

    @property
    def line_count(self) -> int:
        return len(self.history) + self.content_rows()

    @property
    def end_line(self) -> int:
        """One past the last line with content."""
        return self.history_end + self.content_rows()

    def texts(self, start: int, stop: int) -> Iterator[str]:
        for number in range(max(start, self.first_line), stop):
            yield self.text(number)

    def plain_text(self, last: int | None = None) -> str:
        end = self.end_line
        start = self.first_line if last is None else max(self.first_line, end - last)
        return "\n".join(self.texts(start, end))

    def find(self, query: str, start: int, forward: bool = True) -> tuple[int, int] | None:
        """First line from `start` on (wrapping) containing `query`, any case: (line, index)."""
        needle = query.lower()
        first, end = self.first_line, self.end_line
        if not needle or end <= first:
            return None
        if not first <= start < end:  # past either end: wrap around
            start = first if forward else end - 1
        order: Iterable[int]
        if forward:
            order = chain(range(start, end), range(first, start))
        else:
            order = chain(range(start, first - 1, -1), range(end - 1, start, -1))
        for number in order:
            index = self.text(number).lower().find(needle)
            if index >= 0:
                return number, index
        return None
