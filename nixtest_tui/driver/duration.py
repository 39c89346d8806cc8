"""Durations as test scripts pass them: `timedelta`, or a bare number of seconds (deprecated).

Upstream moved every timeout and delay to `datetime.timedelta` but kept accepting numbers so that
old scripts keep running; a number still works and emits a `UserWarning` whose text users know
from upstream's logs. A `bool` is refused even though it is an `int`: `timeout=True` is always a
mistake, and silently waiting one second would hide it.

Where the warning points: upstream's points at its own `duration.py`, which tells the reader
nothing. Ours points at the first stack frame outside this package (and outside `contextlib`,
whose frames sit between a `with` statement and a generator-based context manager). For a test
script that is the script line that passed the number, shown as `<string>` line N, however many
driver layers (`pick_duration`, `retry`, `wait_*`) lie in between. Python 3.12's
`skip_file_prefixes` does the same, but we support 3.11, so the frames are counted by hand; this
only happens when a warning is actually issued.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from datetime import timedelta
from types import FrameType

Duration = timedelta | int | float

_PACKAGE_DIR = os.path.realpath(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_SKIPPED_FILES = {os.path.realpath(contextlib.__file__)}


def _is_internal(frame: FrameType) -> bool:
    filename = frame.f_code.co_filename
    if filename.startswith("<"):  # exec'd code such as the test script itself
        return False
    path = os.path.realpath(filename)
    return path.startswith(_PACKAGE_DIR + os.sep) or path in _SKIPPED_FILES


def _stacklevel_of_caller() -> int:
    """The `stacklevel` for a `warnings.warn` made in our caller that lands outside the package.

    Level 1 is the frame that calls `warnings.warn` (our caller). If every frame is internal
    (for instance a call from a driver thread), it falls back to 2, the immediate caller.
    """
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and _is_internal(frame):
        frame = frame.f_back
        level += 1
    return level if frame is not None else 2


def warn_deprecated(message: str) -> None:
    """A deprecation `UserWarning` (upstream's category) pointing at the caller's script line."""
    warnings.warn(message, UserWarning, stacklevel=_stacklevel_of_caller())


def warn_if_number(value: Duration | None, what: str) -> None:
    """Upstream's warning for a bare number, without converting it: `succeed()` warns for
    itself and then hands the number on to `execute()`, which warns again, as upstream's do."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        warn_deprecated(f"{what}: passing a bare int/float as a duration is deprecated. "
                        "Use datetime.timedelta instead.")


def to_timedelta(value: Duration, what: str, *, warn: bool = True) -> timedelta:
    """Convert a duration argument; `what` names the API in messages, e.g. `"succeed()"`.

    `warn=False` is for callers that already issued a more specific deprecation warning.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise TypeError(f"{what}: a bool is not a duration; use datetime.timedelta")
    if isinstance(value, int | float):
        if warn:
            warn_deprecated(f"{what}: passing a bare int/float as a duration is deprecated. "
                            "Use datetime.timedelta instead.")
        try:
            return timedelta(seconds=value)
        except (OverflowError, ValueError) as exc:
            raise ValueError(f"{what}: {value!r} seconds is not a usable duration") from exc
    raise TypeError(
        f"{what}: expected a datetime.timedelta (or a number of seconds), "
        f"got {type(value).__name__} {value!r}"
    )


def pick_duration(
    new: Duration | None,
    old: Duration | None,
    *,
    what: str,
    new_name: str,
    old_name: str,
    default: timedelta | None,
) -> timedelta | None:
    """Resolve a renamed duration keyword, e.g. `timeout` and the deprecated `timeout_seconds`.

    The old keyword is often the positional one (`retry(f, 60)`), so it cannot simply be
    dropped. As upstream, the old keyword with a timedelta is accepted silently; with a number it
    warns like any bare number does. Giving both is ambiguous and raises.
    """
    if new is not None and old is not None:
        raise TypeError(f"{what}: pass either {new_name!r} or {old_name!r}, not both")
    if new is not None:
        return to_timedelta(new, what)
    if old is not None:
        return to_timedelta(old, what)
    return default


def seconds(value: timedelta | None) -> float | None:
    """Seconds as a float, keeping `None` ("no limit") as is, for code that talks to processes."""
    return None if value is None else value.total_seconds()
