"""Cancelling what a thread is waiting on, from another thread (the debugger's "cancel").

The script runs in a worker thread; the UI asks to cancel the wait it is blocked in. Waits
check for a request at every tick (retry's sleep between attempts, the backdoor's read loop)
and raise `Cancelled`, a `RequestedAssertionFailed`, so the script sees it exactly like a
timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from nixtest_tui.driver.errors import RequestedAssertionFailed


class Cancelled(RequestedAssertionFailed):
    """The user cancelled the call the script was waiting in."""


_lock = threading.Lock()
_requests: dict[int, str] = {}
_wakeups: dict[int, threading.Event] = {}


def _event(thread_id: int) -> threading.Event:
    with _lock:
        return _wakeups.setdefault(thread_id, threading.Event())


def request(thread_id: int, reason: str = "cancelled by the user") -> None:
    with _lock:
        _requests[thread_id] = reason
    _event(thread_id).set()


def clear(thread_id: int) -> None:
    with _lock:
        _requests.pop(thread_id, None)
    _event(thread_id).clear()


def pending(thread_id: int | None = None) -> bool:
    with _lock:
        return (threading.get_ident() if thread_id is None else thread_id) in _requests


def check() -> None:
    """Raise `Cancelled` if the current thread was asked to stop waiting (once)."""
    ident = threading.get_ident()
    with _lock:
        reason = _requests.pop(ident, None)
    if reason is not None:
        _event(ident).clear()
        raise Cancelled(reason)


def sleep(seconds: float) -> None:
    """`time.sleep` that a cancellation request interrupts."""
    if seconds <= 0:
        check()
        return
    _event(threading.get_ident()).wait(seconds)
    check()


# -- guest deadlines ------------------------------------------------------------------------------
#
# A cancelled machine call returns at once, but the command it sent keeps running in the guest,
# and the machine's next command waits for it. A thread that knows when it will be cut off (a
# debugger watch) says so here, and the commands it sends run under the guest's `timeout`,
# ending in the guest by then.

_deadlines: dict[int, float] = {}


@contextmanager
def guest_deadline(seconds: float) -> Iterator[None]:
    """Commands this thread sends to a guest meanwhile end there within `seconds`."""
    ident = threading.get_ident()
    with _lock:
        _deadlines[ident] = time.monotonic() + seconds
    try:
        yield
    finally:
        with _lock:
            _deadlines.pop(ident, None)


def bounded(limit: timedelta | None) -> timedelta | None:
    """A command's guest timeout, shortened to the current thread's guest deadline."""
    with _lock:
        deadline = _deadlines.get(threading.get_ident())
    if deadline is None:
        return limit
    left = timedelta(seconds=max(deadline - time.monotonic(), MIN_GUEST_SECONDS))
    return left if limit is None or limit > left else limit


MIN_GUEST_SECONDS = 0.1  # a command sent after its deadline still gets a moment in the guest

__all__ = ["Cancelled", "bounded", "check", "clear", "guest_deadline", "pending", "request",
           "sleep"]
