"""The one error a post-mortem reader raises."""

from __future__ import annotations


class TraceError(Exception):
    """The trace cannot be read: missing, not a trace, or from a newer nixtest-tui. The
    message names the file and says what to give instead."""
