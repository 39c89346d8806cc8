"""Old line numbers to new ones, across an edit of the script (edit-and-continue).

Why a diff and not an offset: an edit may insert above, delete below and change a line in the
middle at once; breakpoints and the paused line must each land on *their* line. Lines the diff
pairs as equal map one to one; a changed block maps line by line as far as the new block
reaches (the user edited that statement: it is still "the same line"); deleted lines map to
nothing for a breakpoint, and to the line that now follows them for the paused position.
"""

from __future__ import annotations

from difflib import SequenceMatcher


class LineMap:
    def __init__(self, old: str, new: str) -> None:
        matcher = SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
        self._blocks = matcher.get_opcodes()
        self._new_count = len(new.splitlines())

    def exact(self, line: int) -> int | None:
        """Where old `line` is in the new text, or None when it was deleted."""
        for tag, i1, i2, j1, j2 in self._blocks:
            if i1 <= line - 1 < i2:
                offset = line - 1 - i1
                if tag == "equal" or (tag == "replace" and offset < j2 - j1):
                    return j1 + offset + 1
                return None
        return None

    def nearest(self, line: int) -> int:
        """Where to go on from old `line`: its new line, else the first line after the lines
        that replaced or deleted it (past the end: one past the last line)."""
        exact = self.exact(line)
        if exact is not None:
            return exact
        for _tag, i1, i2, _j1, j2 in self._blocks:
            if i1 <= line - 1 < i2:
                return j2 + 1
        return self._new_count + 1


def continuations(old: str, new: str, line: int) -> list[int]:
    """Where a run paused on old `line` (not run yet) may go on in `new`, best first.

    First right after the new place of the last code line before it: lines inserted between
    the two have not run either, so they run (a step the user found missing). Then the paused
    line's own new place, for when the first would land somewhere a jump cannot (the end of a
    loop body, say)."""
    source = old.splitlines()
    before = line - 1
    while before > 0 and not _is_code(source[before - 1]):
        before -= 1
    lines = LineMap(old, new)
    after = 0 if before == 0 else lines.exact(before)
    nearest = lines.nearest(line)
    return [*([after + 1] if after is not None and after + 1 != nearest else []), nearest]


def _is_code(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and not stripped.startswith("#")
