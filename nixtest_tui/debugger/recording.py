"""Record to script: lines that succeeded in the REPL, inserted where the user points."""

from __future__ import annotations


def insert_recorded(text: str, line: int, recorded: list[str]) -> str:
    """`recorded` inserted before `line` (1-based; past the end appends), indented like the
    block there: the line itself, or for a blank line the next statement (else the previous
    one), so the new lines land inside a `with subtest(...)` the cursor is in."""
    lines = text.splitlines()
    at = max(0, min(line - 1, len(lines)))
    indent = _indent_near(lines, at)
    lines[at:at] = [indent + statement.strip() for statement in recorded]
    return "\n".join(lines) + "\n"


def _indent_near(lines: list[str], at: int) -> str:
    after = [text for text in lines[at:] if text.strip()]
    before = [text for text in reversed(lines[:at]) if text.strip()]
    for candidate in (after[:1] or before[:1]):
        return candidate[: len(candidate) - len(candidate.lstrip())]
    return ""
