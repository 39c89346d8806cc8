"""Watch expressions: evaluated in the paused frame at every pause, each within its timeout.

A watch may call a machine (`server.succeed("systemctl is-active foo")`) and a guest may never
answer, so every evaluation runs in its own daemon thread and is waited for only as long as
its timeout. On a timeout the machine call in that thread is asked to give up (the driver's
cancellation, which its waits check at every tick) and the watch says "timed out"; nothing
waits for that thread again, so the next pause's watches evaluate as usual.

Only expressions are accepted (compile mode "eval"): a watch runs at every pause, and a
statement there would change the script behind the user's back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import FrameType
from typing import Any

from nixtest_tui.debugger.breakpoint_rules import describe
from nixtest_tui.driver import cancel

DEFAULT_TIMEOUT = 5.0
SUMMARY_CHARS = 300
WAIT_SLICE = 0.1  # how often a waiting evaluation looks whether the script went on


class InvalidWatch(ValueError):
    """Not an expression, or a timeout that is not a positive number; the message says why."""


@dataclass(frozen=True)
class WatchResult:
    """One evaluation: the value's summary or an error line, when, and how long it took."""

    value: str = ""
    error: str = ""
    at: datetime = field(default_factory=datetime.now)
    seconds: float = 0.0
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class Watch:
    expression: str
    timeout: float = DEFAULT_TIMEOUT
    last: WatchResult | None = None


def check_expression(expression: str) -> str:
    text = expression.strip()
    if not text:
        raise InvalidWatch("a watch needs an expression")
    try:
        compile(text, "<watch>", "eval")
    except SyntaxError as exc:
        raise InvalidWatch(f"not an expression ({exc.msg}): a watch cannot run statements"
                           ) from None
    return text


def check_timeout(seconds: str | float) -> float:
    try:
        value = float(seconds)
    except ValueError:
        raise InvalidWatch(f"timeout {seconds!r}: write a number of seconds") from None
    if not 0 < value <= 3600:
        raise InvalidWatch("the timeout must be more than 0 and at most 3600 seconds")
    return value


def summarize(value: object) -> str:
    """One line of at most SUMMARY_CHARS: a watch is read at a glance."""
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ is the user's, not ours
        return f"<repr failed: {describe(exc)}>"
    text = text.replace("\n", "↵")
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS - 1] + "…"


class WatchList:
    """The user's watches, which outlive any one run or runner (they belong to the UI)."""

    def __init__(self) -> None:
        self.watches: list[Watch] = []

    def __iter__(self) -> Iterator[Watch]:
        return iter(self.watches)

    def __len__(self) -> int:
        return len(self.watches)

    def add(self, expression: str, timeout: float = DEFAULT_TIMEOUT) -> Watch:
        watch = Watch(check_expression(expression), check_timeout(timeout))
        self.watches.append(watch)
        return watch

    def edit(self, index: int, expression: str) -> Watch:
        watch = self.watches[index]
        watch.expression, watch.last = check_expression(expression), None
        return watch

    def set_timeout(self, index: int, seconds: str | float) -> Watch:
        watch = self.watches[index]
        watch.timeout = check_timeout(seconds)
        return watch

    def remove(self, index: int) -> None:
        del self.watches[index]


def guest_seconds(timeout: float) -> float:
    """How long a watch's guest commands may run: ending a little before the watch is cut off,
    they leave nothing running in the guest for the script's next command to wait on."""
    return timeout - min(1.0, timeout / 4)


def evaluate_watch(frame: FrameType, watch: Watch, abandon: threading.Event | None = None,
                   frame_lock: threading.Lock | None = None) -> WatchResult:
    """(blocking; never on a UI loop) Evaluate `watch` in `frame` within its timeout; setting
    `abandon` (the script resumed) cuts it off early, so no watch talks to a guest while the
    script does.

    The watch sees a copy of the frame's locals, taken under `frame_lock` (the lock the REPL's
    evaluations hold): reading a function frame's locals refreshes them from the frame, which
    in the middle of a REPL assignment would undo it."""
    abandon = abandon or threading.Event()
    started = time.monotonic()
    if frame_lock is not None and not frame_lock.acquire(timeout=watch.timeout):
        return WatchResult(error="timed out: the REPL held the frame", timed_out=True,
                           seconds=time.monotonic() - started)
    try:
        local_scope = dict(frame.f_locals)
    finally:
        if frame_lock is not None:
            frame_lock.release()
    result = _Evaluation(frame.f_globals, local_scope, watch.expression,
                         guest_seconds(watch.timeout)).wait(watch.timeout, abandon)
    if not (result.timed_out and abandon.is_set()):  # (else the last value still stands)
        watch.last = result
    return result


class _Evaluation:
    """One watch in its own daemon thread; a lock orders "finished" against "timed out", so a
    cancellation is never left behind for a later thread that gets the same thread id."""

    def __init__(self, global_scope: dict[str, Any], local_scope: dict[str, Any],
                 expression: str, guest_seconds: float) -> None:
        self.expression = expression
        self.started = time.monotonic()
        self.result: WatchResult | None = None
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._abandoned = False
        self._thread = threading.Thread(target=self._run,
                                        args=(global_scope, local_scope, guest_seconds),
                                        daemon=True,
                                        name=f"watch: {expression[:40]}")
        self._thread.start()

    def _run(self, global_scope: dict[str, Any], local_scope: dict[str, Any],
             guest_seconds: float) -> None:
        cancel.clear(threading.get_ident())
        try:
            code = compile(self.expression, "<watch>", "eval")
            with cancel.guest_deadline(guest_seconds):
                value = eval(code, global_scope, local_scope)  # noqa: S307 - the user's
            result = WatchResult(value=summarize(value), seconds=self._elapsed())
        except BaseException as exc:  # the user's code may raise anything, even SystemExit
            result = WatchResult(error=describe(exc), seconds=self._elapsed())
        with self._lock:
            self.result = result
            if self._abandoned:  # the request was for the call that just ended
                cancel.clear(threading.get_ident())
        self.done.set()

    def _elapsed(self) -> float:
        return time.monotonic() - self.started

    def wait(self, timeout: float, abandon: threading.Event) -> WatchResult:
        while not self.done.wait(min(WAIT_SLICE, max(0.0, timeout - self._elapsed()))):
            if abandon.is_set() or self._elapsed() >= timeout:
                break
        why = ("abandoned: the script went on" if abandon.is_set() and not self.done.is_set()
               else f"timed out after {timeout:g} s")
        with self._lock:
            if self.result is not None:
                return self.result
            self._abandoned = True
            if self._thread.ident is not None:
                cancel.request(self._thread.ident, f"the watch {why}")
        return WatchResult(error=why, seconds=self._elapsed(), timed_out=True)
