"""The one error type of the flaky hunter."""

from __future__ import annotations


class FlakyError(Exception):
    """A hunt that cannot start or a knob that cannot be read; the message says what to do."""
