"""Cancelling what a thread is waiting on, from another thread (the debugger's "cancel").

The script runs in a worker thread; the UI asks to cancel the wait it is blocked in. Waits
check for a request at every tick (retry's sleep between attempts, the backdoor's read loop)
and raise `Cancelled`, a `RequestedAssertionFailed`, so the script sees it exactly like a
timeout.
"""

from __future__ import annotations

import threading

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


__all__ = ["Cancelled", "check", "clear", "pending", "request", "sleep"]
