"""The two retry loops: the script's `retry` symbol, and the loop behind every `wait_*` helper.

`script_retry` is what test scripts call as `retry(fn, timeout=...)`, in the shape of upstream
master's newest tests (nixpkgs' `nixos-test-driver/retry.nix`): `fn` receives the seconds left
before the deadline, or `None` when `timeout=None`, which means no limit at all; no call starts
after the deadline, so there is no extra "last try"; a call that started in time and succeeds
late still counts; a timeout of zero or less calls `fn` not once. Omitting `timeout` still means
15 minutes. Older scripts whose `fn` takes `last_try` keep working, except that the argument is
now a positive number, so code under `if last_try:` runs on every attempt.

`retry` is the loop of the `wait_*` helpers. It keeps the older contract (1 s cadence, then one
final attempt after the deadline, told that it is the last) because the helpers use that final
attempt for diagnostics: every OCR variant, the window list, the tty contents, "Last chance for"
of a polling condition.

Both measure on the monotonic clock; `_sleep` and `_monotonic` are looked up at call time so
that tests can replace them with a fake clock instead of waiting in real time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from enum import Enum
from typing import Any, Literal

from nixtest_tui.driver import cancel
from nixtest_tui.driver.duration import Duration, pick_duration, to_timedelta, warn_deprecated
from nixtest_tui.driver.errors import RequestedAssertionFailed

DEFAULT_TIMEOUT = timedelta(minutes=15)
CADENCE = 1.0

_sleep: Callable[[float], None] = cancel.sleep  # a cancellation request interrupts it
_monotonic: Callable[[], float] = time.monotonic

AttemptHook = Callable[[int, float, Any], None]


def retry(
    fn: Callable[[bool], Any],
    timeout_seconds: Duration | None = None,
    timeout: Duration | None = None,
    *,
    attempt_timeout: Duration | None = None,
    on_attempt: AttemptHook | None = None,
) -> None:
    """Call `fn(last_try)` until it returns something truthy, or raise when time runs out.

    `timeout_seconds` stays the second positional parameter so that old scripts' `retry(f, 60)`
    keep working (with a deprecation warning). `attempt_timeout` is accepted, and type-checked,
    only so that scripts written against upstream's in-flight #554716 do not fail with a
    `TypeError`; a plain callable cannot be bounded from here, so it has no effect.
    `on_attempt(number, elapsed, result)` runs after every attempt, the final one included; it is
    how progress reaches the event stream, so it must be cheap and must not raise.
    """
    limit = pick_duration(
        timeout,
        timeout_seconds,
        what="retry()",
        new_name="timeout",
        old_name="timeout_seconds",
        default=DEFAULT_TIMEOUT,
    )
    if limit is None:  # unreachable with a default, but keeps the type narrow without assert
        limit = DEFAULT_TIMEOUT
    if attempt_timeout is not None:
        to_timedelta(attempt_timeout, "retry()")
    limit_s = limit.total_seconds()

    start = _monotonic()
    attempt = 0
    while _monotonic() - start < limit_s:
        attempt += 1
        result = fn(False)
        if on_attempt is not None:
            on_attempt(attempt, _monotonic() - start, result)
        if result:
            return
        remaining = limit_s - (_monotonic() - start)
        if remaining > 0:
            _sleep(min(CADENCE, remaining))

    attempt += 1
    result = fn(True)
    elapsed = _monotonic() - start
    if on_attempt is not None:
        on_attempt(attempt, elapsed, result)
    if not result:
        raise RequestedAssertionFailed(
            f"action timed out after {elapsed:.2f} seconds (timeout={limit_s})"
        )


class _Omitted(Enum):
    """Tells "no `timeout` given" (15 minutes) from `timeout=None` (no limit)."""

    TIMEOUT = "15 minutes"


def _script_limit(timeout_seconds: Duration | None,
                  timeout: Duration | None | Literal[_Omitted.TIMEOUT]) -> timedelta | None:
    if timeout_seconds is not None:
        if timeout is not _Omitted.TIMEOUT:
            raise TypeError("retry(): pass either 'timeout' or 'timeout_seconds', not both")
        if not isinstance(timeout_seconds, timedelta):
            warn_deprecated("retry(): The 'timeout_seconds' argument is deprecated. "
                            "Use 'timeout' instead.")
        return to_timedelta(timeout_seconds, "retry()", warn=False)
    if timeout is _Omitted.TIMEOUT:
        return DEFAULT_TIMEOUT
    if timeout is None:
        return None
    return to_timedelta(timeout, "retry()")


def script_retry(
    fn: Callable[[float | None], Any],
    timeout_seconds: Duration | None = None,
    timeout: Duration | None | Literal[_Omitted.TIMEOUT] = _Omitted.TIMEOUT,
    *,
    attempt_timeout: Duration | None = None,
) -> None:
    """Call `fn(seconds_left)` until it returns something truthy, or raise once time is up.

    `timeout_seconds` stays the second positional parameter so that old scripts' `retry(f, 60)`
    keep working (with upstream's deprecation warning). `attempt_timeout` (upstream's in-flight
    #554716) is accepted and type-checked so that such scripts do not fail with a `TypeError`;
    a plain callable cannot be bounded from here, so it has no effect.
    """
    limit = _script_limit(timeout_seconds, timeout)
    if attempt_timeout is not None:
        to_timedelta(attempt_timeout, "retry()")
    start = _monotonic()
    deadline = float("inf") if limit is None else start + limit.total_seconds()
    while (left := deadline - _monotonic()) > 0:
        if fn(None if limit is None else left):
            return
        left = deadline - _monotonic()
        if left > 0:
            _sleep(min(CADENCE, left))
    shown = None if limit is None else limit.total_seconds()
    raise RequestedAssertionFailed(
        f"action timed out after {_monotonic() - start:.2f} seconds (timeout={shown})"
    )
