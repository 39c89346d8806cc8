"""`retry`, the loop behind every `wait_*` helper and the script-level `retry` symbol.

The semantics are upstream's (after nixpkgs #474139): the deadline is measured on the monotonic
clock, attempts come at a 1 s cadence, and once the deadline has passed there is always one more
attempt, told that it is the last one so that it can log or collect diagnostics. The timeout error
reports the time including that final attempt, because that is how long the caller really waited.

`_sleep` and `_monotonic` are looked up at call time so that tests can replace them with a fake
clock instead of waiting in real time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from nixtest_tui.driver import cancel
from nixtest_tui.driver.duration import Duration, pick_duration, to_timedelta
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
