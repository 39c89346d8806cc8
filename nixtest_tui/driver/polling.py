"""Polling conditions: invariants a test script asks the driver to keep checking in the background.

A script declares one with `@polling_condition` and activates it with `with cond:`. While it is
active, every machine command (`execute`, monitor commands) first calls
`check_polling_conditions`, which re-runs each condition whose interval has elapsed and raises
`PollingConditionError` if one failed, so a broken invariant surfaces at the next command instead
of at the end of the test. `cond.wait()` instead waits for the condition to hold, via `retry`.

The conditions themselves almost always run machine commands, which call back into
`check_polling_conditions`; the re-entry guard in `PollingCondition.check` is what stops that
from recursing, and `maybe_raise` ignores a condition that is still running for the same reason.

The clock is `_monotonic`, looked up at call time, so that tests can drive the interval logic.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import Any, overload

from nixtest_tui.driver.duration import Duration, pick_duration
from nixtest_tui.driver.errors import PollingConditionError
from nixtest_tui.driver.logger import AbstractLogger
from nixtest_tui.driver.retry import DEFAULT_TIMEOUT, retry

DEFAULT_INTERVAL = timedelta(seconds=2)

_monotonic: Callable[[], float] = time.monotonic

Condition = Callable[[], Any]


def _default_description(condition: Condition) -> str:
    doc = getattr(condition, "__doc__", None)
    if doc and doc.strip():
        return inspect.cleandoc(doc)
    return str(getattr(condition, "__name__", repr(condition)))


class PollingCondition:
    """One condition with its schedule and its last verdict.

    `last_result` is `None` until the first run. A failure stays the verdict until the next run,
    so every command issued before the condition is due again also raises: the invariant is known
    to be broken, and nothing has shown otherwise.
    """

    def __init__(
        self,
        condition: Condition,
        logger: AbstractLogger,
        interval: timedelta = DEFAULT_INTERVAL,
        description: str | None = None,
    ) -> None:
        self.condition = condition
        self.logger = logger
        self.interval = interval
        self.description = (
            str(description) if description is not None else _default_description(condition)
        )
        self.last_called: float | None = None
        self.last_result: bool | None = None
        self._running = False

    def __repr__(self) -> str:
        return f"<PollingCondition {self.description!r}>"

    @property
    def running(self) -> bool:
        return self._running

    @property
    def overdue(self) -> bool:
        if self.last_called is None:
            return True
        return _monotonic() - self.last_called > self.interval.total_seconds()

    def check(self, force: bool = False) -> bool:
        """Run the condition if it is due (or `force`d) and not already running.

        When it does not run, the previous verdict is returned (success if it never ran).
        """
        if self._running or not (force or self.overdue):
            return self.last_result is not False
        self._running = True
        try:
            with self.logger.nested(f"Checking polling condition {self.description!r}"):
                if self.last_called is None:
                    self.logger.info("(not called yet)")
                else:
                    since = _monotonic() - self.last_called
                    self.logger.info(f"last checked {since:.2f} seconds ago")
                ok = self._run_condition()
                verdict = "succeeded" if ok else "failed"
                self.logger.info(f"Polling condition {verdict}: {self.description}")
        finally:
            self._running = False
            # Measured from the end of the run, so that a slow condition does not become due
            # again the moment it returns.
            self.last_called = _monotonic()
        self.last_result = ok
        return ok

    def _run_condition(self) -> bool:
        try:
            result = self.condition()
        except Exception as exc:  # a failing command inside the condition is its usual "no"
            self.logger.info(f"polling condition raised {type(exc).__name__}: {exc}")
            return False
        return result is None or bool(result)

    def maybe_raise(self) -> None:
        """Raise if the last run failed, unless a run is in progress (its verdict is pending)."""
        if self.last_result is False and not self._running:
            raise PollingConditionError(f"Polling condition failed: {self.description}")


class Poll:
    """What `@polling_condition` returns: the activating context manager and `.wait()`.

    Calling it still calls the decorated function, so the name remains usable as a plain check.
    """

    def __init__(
        self, fun: Condition, condition: PollingCondition, conditions: list[PollingCondition]
    ) -> None:
        self.fun = fun
        self.condition = condition
        self._conditions = conditions

    def __repr__(self) -> str:
        return f"<Poll {self.condition.description!r}>"

    @property
    def description(self) -> str:
        return self.condition.description

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fun(*args, **kwargs)

    def __enter__(self) -> Poll:
        self._conditions.append(self.condition)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Blocks nest, so the innermost active condition must be ours; anything else means the
        # shared list was modified behind our back and the active set can no longer be trusted.
        popped = self._conditions.pop() if self._conditions else None
        if popped is not self.condition:
            raise AssertionError(
                f"polling condition {self.description!r} left its block, but the innermost "
                f"active condition was {popped!r}"
            )

    def wait(
        self, timeout_seconds: Duration | None = None, timeout: Duration | None = None
    ) -> None:
        """Block until the condition holds; failures before the deadline are not fatal."""
        limit = pick_duration(
            timeout,
            timeout_seconds,
            what="wait()",
            new_name="timeout",
            old_name="timeout_seconds",
            default=DEFAULT_TIMEOUT,
        )
        description = self.description

        def attempt(last_try: bool) -> bool:
            if last_try:
                self.condition.logger.info(f"Last chance for {description}")
            ok = self.condition.check(force=True)
            if not ok and not last_try:
                self.condition.logger.info(f"({description} failure not fatal yet)")
            return ok

        with self.condition.logger.nested(f"waiting for {description}"):
            retry(attempt, timeout=limit)


class PollingConditionFactory:
    """The `polling_condition` symbol: `@polling_condition` or `@polling_condition(...)`.

    A class rather than a closure so that both call forms are typed for script type checkers.
    """

    def __init__(self, conditions: list[PollingCondition], logger: AbstractLogger) -> None:
        self._conditions = conditions
        self._logger = logger

    @overload
    def __call__(
        self,
        fun: Condition,
        *,
        seconds_interval: Duration | None = None,
        interval: Duration | None = None,
        description: str | None = None,
    ) -> Poll: ...

    @overload
    def __call__(
        self,
        fun: None = None,
        *,
        seconds_interval: Duration | None = None,
        interval: Duration | None = None,
        description: str | None = None,
    ) -> Callable[[Condition], Poll]: ...

    def __call__(
        self,
        fun: Condition | None = None,
        *,
        seconds_interval: Duration | None = None,
        interval: Duration | None = None,
        description: str | None = None,
    ) -> Poll | Callable[[Condition], Poll]:
        if fun is not None and not callable(fun):
            raise TypeError(
                "polling_condition() takes the condition function; "
                "pass interval=... and description=... as keywords"
            )
        every = pick_duration(
            interval,
            seconds_interval,
            what="polling_condition()",
            new_name="interval",
            old_name="seconds_interval",
            default=DEFAULT_INTERVAL,
        )
        if every is None:  # unreachable with a default; narrows the type
            every = DEFAULT_INTERVAL

        def wrap(f: Condition) -> Poll:
            condition = PollingCondition(f, self._logger, every, description)
            return Poll(f, condition, self._conditions)

        return wrap if fun is None else wrap(fun)


def make_polling_condition(
    conditions: list[PollingCondition], logger: AbstractLogger
) -> PollingConditionFactory:
    """Bind `polling_condition` to one driver's active list and logger."""
    return PollingConditionFactory(conditions, logger)


def check_polling_conditions(conditions: list[PollingCondition]) -> None:
    """Run before every machine command: check what is due, then raise on any failure.

    All conditions are checked before any raises so that each one's log block appears and its
    verdict is up to date. A snapshot of the list is used because a condition's own commands
    re-enter here.
    """
    active = list(conditions)
    for condition in active:
        condition.check()
    for condition in active:
        condition.maybe_raise()
