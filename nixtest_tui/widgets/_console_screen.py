"""`ConsoleScreen`: a pyte screen that keeps what scrolls away and is fast on boot logs.

pyte's `Screen` is the terminal model; this subclass changes three things:

* Lines leaving the top (and a screen about to be erased or reset) go to a `scrolled` callback
  instead of nowhere: a console being debugged should not lose the boot log because something
  ran `clear`, and a shrinking window pushes lines into history rather than dropping them.
* Runs of printable ASCII, nearly all of a boot log, are drawn a line at a time with shared
  `Char`s. pyte builds a new `Char` per character through `namedtuple._replace` and tops out
  below 1 MB/s; this path is about four times faster. Everything else (UTF-8, line-drawing
  charsets, insert mode, no auto-wrap) still goes through pyte.
* SGR results are cached per (current attributes, parameters), which also keeps the cursor's
  attribute `Char`s shared, so drawing finds its table by identity.
* A full-screen scroll does not mark every row dirty, as pyte does: `dirty` keeps meaning
  "content changed" and moves up with the rows, so a renderer that numbers lines absolutely
  (as `Terminal` does) redraws only the new line, not the whole screen, for each line printed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyte
from pyte import charsets, modes
from pyte.screens import Char, Margins, StaticDefaultDict

PyteLine = StaticDefaultDict[int, Char]

BLANK = Char(" ")
REVERSE_BLANK = Char(" ", reverse=True)
_CACHE_LIMIT = 4096


class _CharTable(dict[str, Char]):
    """Characters drawn with one attribute set, created once and then shared by every cell."""

    def __init__(self, attrs: Char) -> None:
        super().__init__()
        self.attrs = attrs

    def __missing__(self, data: str) -> Char:
        char = self[data] = self.attrs._replace(data=data)
        return char


class ConsoleScreen(pyte.Screen):
    """See the module docstring."""

    def __init__(
        self, columns: int, lines: int, scrolled: Callable[[PyteLine | None, bool], None]
    ) -> None:
        self._scrolled = scrolled
        self._tables: dict[Char, _CharTable] = {}
        self._table: _CharTable = _CharTable(BLANK)
        self._sgr: dict[tuple[Char, bool, tuple[int, ...]], Char] = {}
        super().__init__(columns, lines)

    @property
    def default_char(self) -> Char:
        # pyte builds a new Char for every SGR reset; these two are shared instead.
        return REVERSE_BLANK if modes.DECSCNM in self.mode else BLANK

    def select_graphic_rendition(self, *attrs: int) -> None:
        key = (self.cursor.attrs, modes.DECSCNM in self.mode, attrs)
        result = self._sgr.get(key)
        if result is None:
            super().select_graphic_rendition(*attrs)
            if len(self._sgr) > _CACHE_LIMIT:
                self._sgr.clear()
            result = self._sgr[key] = self.cursor.attrs
        self.cursor.attrs = result

    def draw(self, data: str) -> None:
        if not (
            data.isascii()
            and data.isprintable()
            and not self.charset
            and self.g0_charset is charsets.LAT1_MAP
            and modes.IRM not in self.mode
            and modes.DECAWM in self.mode
        ):
            super().draw(data)
            return
        cursor = self.cursor
        table = self._table
        if table.attrs is not cursor.attrs:
            found = self._tables.get(cursor.attrs)
            if found is None:
                if len(self._tables) > _CACHE_LIMIT:
                    self._tables.clear()
                found = self._tables[cursor.attrs] = _CharTable(cursor.attrs)
            table = self._table = found
        x, count, columns = cursor.x, len(data), self.columns
        if x + count <= columns:  # the usual case: the run fits on this line
            cells = map(table.__getitem__, data)
            self.buffer[cursor.y].update(zip(range(x, x + count), cells, strict=False))
            cursor.x = x + count
        else:
            self._draw_wrapping(data, table)
        self.dirty.add(cursor.y)

    def _draw_wrapping(self, data: str, table: _CharTable) -> None:
        cursor, columns = self.cursor, self.columns
        position, end = 0, len(data)
        while position < end:
            if cursor.x >= columns:
                self.dirty.add(cursor.y)
                cursor.x = 0
                self.linefeed()
            x = cursor.x
            count = min(columns - x, end - position)
            cells = map(table.__getitem__, data[position : position + count])
            self.buffer[cursor.y].update(zip(range(x, x + count), cells, strict=False))
            cursor.x = x + count
            position += count

    def index(self) -> None:
        top, bottom = self.margins or Margins(0, self.lines - 1)
        if self.cursor.y != bottom:
            self.cursor_down()
            return
        buffer = self.buffer
        if top == 0:
            self._scrolled(buffer.get(0), 0 in self.dirty)
        if top == 0 and bottom == self.lines - 1:
            self.dirty = {y - 1 for y in self.dirty if y > 0}
            self.dirty.add(bottom)
        else:  # part of the screen moves, part stays: as pyte, redraw it all
            self.dirty.update(range(self.lines))
        # What pyte does, with the row loop in C: rows move up, the bottom one starts empty.
        moved = map(buffer.__getitem__, range(top + 1, bottom + 1))
        buffer.update(zip(range(top, bottom), moved, strict=True))
        buffer.pop(bottom, None)

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        if how in (2, 3):
            self._save_screen()
        super().erase_in_display(how, *args, **kwargs)

    def reset(self) -> None:
        if self.buffer:
            self._save_screen()
        super().reset()

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """Shrink by pushing top lines into history (keeping the cursor row), not by losing them."""
        lines = lines or self.lines
        if lines >= self.lines:
            super().resize(lines, columns)
            return
        excess = self.cursor.y - (lines - 1)
        if excess > 0:
            for y in range(excess):
                self._scrolled(self.buffer.get(y), True)
            kept = {y - excess: line for y, line in self.buffer.items() if y >= excess}
            self.buffer.clear()
            self.buffer.update(kept)
            self.cursor.y -= excess
        for y in [y for y in self.buffer if y >= lines]:
            del self.buffer[y]
        self.lines = lines
        self.set_margins()
        self.dirty.update(range(lines))

    def _save_screen(self) -> None:
        rows = [self.buffer.get(y) for y in range(self.lines)]
        while rows and not _shows_text(rows[-1]):
            rows.pop()
        for row in rows:
            self._scrolled(row, True)


def _shows_text(line: PyteLine | None) -> bool:
    return line is not None and bool("".join(cell.data for cell in line.values()).strip())
