"""History lines as strings, so that ten thousand of them cost the garbage collector nothing.

A scrolled-off line is a run of pyte `Char`s. Kept as a tuple of them, every history line is a
container the collector has to walk (pyte's `Char` is a namedtuple, which CPython never
untracks), and with four consoles' scrollback a full collection took 60-90 ms, long enough to
be felt as a stuck key. `CellCodes` instead gives every distinct `Char` value one code point,
so a line becomes a `str` (plus its plain text): atomic for the collector, a byte or two per
cell, and made with C-level `map`/`join` calls in a few microseconds. Plain text is not stored:
`str.translate` recovers it about as fast as a search can read it.

Lookups go by object identity first (cells drawn through `ConsoleScreen`'s fast path share
their `Char` objects, so almost every cell hits), by value on a miss.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyte.screens import Char

_ID_CACHE = 50_000
"""Identities remembered (each keeps its `Char` alive) before the identity cache is dropped."""
_CODES = 1 << 16
"""Distinct cell values at most (a few hundred in a real boot log)."""


class CellCodes:
    """A growing, bounded alphabet of `Char` values."""

    def __init__(self) -> None:
        self.chars: list[Char] = [Char(" ")]
        """`chars[code]` is the cell a code point stands for."""
        self._texts: list[str] = [" "]  # `str.translate` table: code point to the cell's text
        self._by_value: dict[Char, str] = {self.chars[0]: "\0"}
        self._by_id: dict[int, str] = {}
        self._alive: list[Char] = []  # keeps ids in `_by_id` from being reused

    def encode(self, cells: Sequence[Char]) -> str | None:
        """The cells as a string, or None once the alphabet is full (the caller keeps cells)."""
        try:
            return "".join(map(self._by_id.__getitem__, map(id, cells)))
        except KeyError:
            pass
        if len(self._by_id) > _ID_CACHE:
            self._by_id.clear()
            self._alive.clear()
        for cell in cells:
            if id(cell) not in self._by_id:
                code = self._by_value.get(cell)
                if code is None:
                    if len(self.chars) >= _CODES:
                        return None
                    code = self._by_value[cell] = chr(len(self.chars))
                    self.chars.append(cell)
                    self._texts.append(cell.data)
                self._by_id[id(cell)] = code
                self._alive.append(cell)
        return "".join(map(self._by_id.__getitem__, map(id, cells)))

    def decode(self, codes: str) -> list[Char]:
        return list(map(self.chars.__getitem__, map(ord, codes)))

    def text(self, codes: str) -> str:
        """The cells' characters, without decoding them (search reads every line)."""
        return codes.translate(self._texts)
