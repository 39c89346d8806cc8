"""The REPL's history: walking it with up/down, filtered by what was typed first (as
ptpython and IPython do), and reverse-i-search."""

from __future__ import annotations


class History:
    """Entries oldest first. A walk starts from a draft (the text typed before the first up)
    and visits only the entries that start with it; walking past the newest gives the draft
    back."""

    def __init__(self) -> None:
        self.entries: list[str] = []
        self._draft: str | None = None
        self._position = 0

    def add(self, source: str) -> None:
        if not self.entries or self.entries[-1] != source:
            self.entries.append(source)
        self.reset()

    def reset(self) -> None:
        self._draft, self._position = None, len(self.entries)

    @property
    def walking(self) -> bool:
        return self._draft is not None

    def older(self, current: str) -> str | None:
        """The previous entry matching the draft, or None (nothing older matches)."""
        if self._draft is None:
            self._draft, self._position = current, len(self.entries)
        for index in range(self._position - 1, -1, -1):
            if self._matches(index):
                self._position = index
                return self.entries[index]
        return None

    def newer(self) -> str | None:
        """The next entry matching the draft; the draft itself past the newest; None when not
        walking."""
        if self._draft is None:
            return None
        for index in range(self._position + 1, len(self.entries)):
            if self._matches(index):
                self._position = index
                return self.entries[index]
        draft = self._draft
        self.reset()
        return draft

    def _matches(self, index: int) -> bool:
        entry = self.entries[index]
        return entry.startswith(self._draft or "") and entry != self._draft

    def search(self, query: str, before: int | None = None) -> int | None:
        """The index of the newest entry containing `query`, older than `before`."""
        start = len(self.entries) if before is None else before
        for index in range(start - 1, -1, -1):
            if query in self.entries[index]:
                return index
        return None
