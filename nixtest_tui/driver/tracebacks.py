"""Tracebacks that show only the user's own code.

A failure deep in the driver (a machine call, the retry helper, the evaluation machinery) is
the user's failure, raised at a line the user wrote: the frames in between are noise to them.
One rule serves the headless log and the debugger's REPL, so both read the same.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping


def user_traceback(exc: BaseException, sources: Mapping[str, str]) -> str:
    """Frames whose file is a key of `sources` (each with its line from that text), then
    `Type: message`; frames of any other file are left out."""
    lines = ["Traceback (most recent call last):"]
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename not in sources or frame.lineno is None:
            continue
        lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        source = sources[frame.filename].splitlines()
        if 0 < frame.lineno <= len(source):
            lines.append(f"    {source[frame.lineno - 1].strip()}")
    lines += ["", f"{type(exc).__name__}: {exc}"]
    return "\n".join(lines)
