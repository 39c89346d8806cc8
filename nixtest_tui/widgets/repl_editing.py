"""What Enter, Tab and completion do to the REPL's text: plain functions of the text, so the
rules are tested without a terminal."""

from __future__ import annotations

import codeop
import os
import re
from enum import Enum

INDENT = "    "
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*$")
_DEDENTING = re.compile(r"(return|pass|break|continue|raise)\b")


class Enter(Enum):
    RUN = "run"
    CONTINUE = "continue"
    NOTHING = "nothing"


def on_enter(text: str) -> Enter:
    """Run a complete statement, continue an incomplete one (as the Python prompt does).

    A block stays open while its last line is indented, since `for ...:` and its first line
    already compile and the user has more to add; an empty last line closes it. A syntax error
    runs, so that the user sees it instead of a prompt that silently keeps growing.
    """
    if not text.strip():
        return Enter.NOTHING
    lines = text.split("\n")
    if len(lines) > 1 and not lines[-1].strip():
        return Enter.RUN
    try:
        code = codeop.compile_command(text, "<evaluation>", "exec")
    except (SyntaxError, OverflowError, ValueError):
        return Enter.RUN
    if code is None:
        return Enter.CONTINUE
    if len(lines) > 1 and lines[-1][:1] in (" ", "\t"):
        return Enter.CONTINUE
    return Enter.RUN


def next_indent(line: str) -> str:
    """The indentation for the line after `line`: one level deeper after a `:`, one level
    shallower after a statement that ends its block."""
    indent = line[:len(line) - len(line.lstrip())]
    code = line.split("#", 1)[0].rstrip()
    if code.endswith(":"):
        return indent + INDENT
    if _DEDENTING.match(line.strip()):
        return indent[:-len(INDENT)] if indent.endswith(INDENT) else ""
    return indent


def token_before(text: str) -> str:
    """The dotted name being typed at the end of `text` (what completion replaces)."""
    match = _TOKEN.search(text)
    return match.group(0) if match else ""


def common_prefix(options: list[str]) -> str:
    return os.path.commonprefix(options) if options else ""


def runnable(text: str) -> str:
    """The text as evaluated: without the empty lines around it (one closed a block)."""
    lines = text.rstrip().split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines)
