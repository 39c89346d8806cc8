"""Polling conditions on a fake clock: scheduling, re-entry, verdicts, the three script forms."""

from __future__ import annotations

import importlib
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from conftest import FakeClock

from nixtest_tui.driver.errors import PollingConditionError, RequestedAssertionFailed
from nixtest_tui.driver.logger import Attributes, TerminalLogger
from nixtest_tui.driver.polling import (
    Poll,
    PollingCondition,
    check_polling_conditions,
    make_polling_condition,
)

# the package exports the function `retry`; the tests patch the module
retry_module = importlib.import_module("nixtest_tui.driver.retry")


class RecordingLogger(TerminalLogger):
    """Keeps `(kind, message)` pairs: `info` for lines, `begin`/`end` around nested blocks.

    Built on `TerminalLogger` because its `info` goes through `log`, so only two methods need
    recording; its own output goes to a throwaway stream.
    """

    def __init__(self) -> None:
        super().__init__(io.StringIO(), colour=False)
        self.records: list[tuple[str, str]] = []

    def messages(self, kind: str) -> list[str]:
        return [message for k, message in self.records if k == kind]

    def log(self, message: str, attributes: Attributes | None = None) -> None:
        self.records.append(("info", message))

    @contextmanager
    def nested(self, message: str, attributes: Attributes | None = None) -> Iterator[None]:
        self.records.append(("begin", message))
        try:
            yield
        finally:
            self.records.append(("end", message))


@pytest.fixture
def logger() -> RecordingLogger:
    return RecordingLogger()


class Scripted:
    """A condition returning scripted results (an exception instance is raised)."""

    def __init__(self, *results: Any) -> None:
        self.results = list(results)
        self.calls = 0
        self.__name__ = "scripted"

    def __call__(self) -> Any:
        self.calls += 1
        result = self.results[min(self.calls, len(self.results)) - 1]
        if isinstance(result, BaseException):
            raise result
        return result


# --- PollingCondition ----------------------------------------------------------------------


def test_description_defaults(logger: RecordingLogger) -> None:
    def documented() -> None:
        """machine is still up"""

    def multiline() -> None:
        """
        first line
          indented
        """

    def bare() -> None:
        pass

    assert PollingCondition(documented, logger).description == "machine is still up"
    assert PollingCondition(multiline, logger).description == "first line\n  indented"
    assert PollingCondition(bare, logger).description == "bare"
    assert PollingCondition(documented, logger, description="explicit").description == "explicit"


def test_first_check_logs_block_and_verdict(clock: FakeClock, logger: RecordingLogger) -> None:
    condition = PollingCondition(Scripted(True), logger, description="disk is fine")
    assert condition.overdue
    assert condition.check() is True
    assert logger.records == [
        ("begin", "Checking polling condition 'disk is fine'"),
        ("info", "(not called yet)"),
        ("info", "Polling condition succeeded: disk is fine"),
        ("end", "Checking polling condition 'disk is fine'"),
    ]
    assert condition.last_result is True


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (None, True),
        (True, True),
        ("text", True),
        (1, True),
        (False, False),
        (0, False),
        ("", False),
        (RequestedAssertionFailed("command `x` failed (exit code 1)"), False),
    ],
)
def test_verdicts(clock: FakeClock, logger: RecordingLogger, result: Any, expected: bool) -> None:
    condition = PollingCondition(Scripted(result), logger, description="d")
    assert condition.check() is expected
    verdict = "succeeded" if expected else "failed"
    assert f"Polling condition {verdict}: d" in logger.messages("info")


def test_exception_is_logged_and_counts_as_failure(
    clock: FakeClock, logger: RecordingLogger
) -> None:
    condition = PollingCondition(Scripted(RuntimeError("boom")), logger, description="d")
    assert condition.check() is False
    assert "polling condition raised RuntimeError: boom" in logger.messages("info")


def test_keyboard_interrupt_is_not_swallowed(clock: FakeClock, logger: RecordingLogger) -> None:
    condition = PollingCondition(Scripted(KeyboardInterrupt()), logger)
    with pytest.raises(KeyboardInterrupt):
        condition.check()
    assert not condition.running
    assert logger.records[-1][0] == "end"


def test_interval_and_overdue(clock: FakeClock, logger: RecordingLogger) -> None:
    fun = Scripted(True)
    condition = PollingCondition(fun, logger, interval=timedelta(seconds=2))
    condition.check()
    assert fun.calls == 1 and not condition.overdue
    clock.now += 2.0  # exactly the interval: not yet "more than"
    assert not condition.overdue
    assert condition.check() is True
    assert fun.calls == 1
    clock.now += 0.5
    assert condition.overdue
    condition.check()
    assert fun.calls == 2
    assert "last checked 2.50 seconds ago" in logger.messages("info")
    condition.check(force=True)  # forced: runs although not due
    assert fun.calls == 3


def test_interval_counts_from_the_end_of_a_slow_run(
    clock: FakeClock, logger: RecordingLogger
) -> None:
    def slow() -> bool:
        clock.now += 10
        return True

    condition = PollingCondition(slow, logger, interval=timedelta(seconds=2))
    condition.check()
    assert not condition.overdue


def test_skipped_check_returns_the_previous_verdict(
    clock: FakeClock, logger: RecordingLogger
) -> None:
    condition = PollingCondition(Scripted(False), logger)
    assert condition.check() is False
    assert condition.check() is False  # not due: not run again, verdict unchanged
    assert PollingCondition(Scripted(False), logger).last_result is None


def test_reentry_guard(clock: FakeClock, logger: RecordingLogger) -> None:
    conditions: list[PollingCondition] = []
    calls = 0

    def runs_commands() -> bool:
        nonlocal calls
        calls += 1
        check_polling_conditions(conditions)  # what machine.execute does first
        check_polling_conditions(conditions)
        return calls > 1  # fails the first time, so maybe_raise sees a failed verdict later

    condition = PollingCondition(runs_commands, logger, description="nested")
    conditions.append(condition)
    assert condition.check() is False
    assert calls == 1
    clock.now += 3
    # While running, its own stale failure must not be raised from inside its own commands.
    assert condition.check() is True
    assert calls == 2
    assert logger.messages("begin").count("Checking polling condition 'nested'") == 2


def test_maybe_raise(clock: FakeClock, logger: RecordingLogger) -> None:
    condition = PollingCondition(Scripted(False, True), logger, description="net up")
    condition.maybe_raise()  # never run: nothing to report
    condition.check()
    with pytest.raises(PollingConditionError) as info:
        condition.maybe_raise()
    assert str(info.value) == "Polling condition failed: net up"
    clock.now += 1
    with pytest.raises(PollingConditionError):  # still the verdict until the next run
        condition.maybe_raise()
    clock.now += 2
    condition.check()
    condition.maybe_raise()


# --- check_polling_conditions ----------------------------------------------------------------


def test_check_polling_conditions_checks_all_before_raising(
    clock: FakeClock, logger: RecordingLogger
) -> None:
    first, second = Scripted(False), Scripted(True)
    conditions = [
        PollingCondition(first, logger, description="first"),
        PollingCondition(second, logger, description="second"),
    ]
    with pytest.raises(PollingConditionError, match="^Polling condition failed: first$"):
        check_polling_conditions(conditions)
    assert first.calls == second.calls == 1


def test_failure_propagates_through_a_machine_command(
    clock: FakeClock, logger: RecordingLogger
) -> None:
    conditions: list[PollingCondition] = []
    polling_condition = make_polling_condition(conditions, logger)
    state = {"alive": True}
    executed: list[str] = []

    def execute(command: str) -> None:
        check_polling_conditions(conditions)
        executed.append(command)

    @polling_condition
    def alive() -> bool:
        """service is alive"""
        execute("pgrep service")
        return state["alive"]

    execute("before")
    with alive:
        execute("one")
        state["alive"] = False
        execute("two")  # not due yet
        clock.now += 3
        with pytest.raises(PollingConditionError, match="^Polling condition failed: service is "):
            execute("three")
    execute("after")  # inactive again
    assert executed == ["before", "pgrep service", "one", "two", "pgrep service", "after"]
    assert conditions == []


# --- Poll and polling_condition --------------------------------------------------------------


def test_bare_decorator_and_call_forwarding(logger: RecordingLogger) -> None:
    conditions: list[PollingCondition] = []
    polling_condition = make_polling_condition(conditions, logger)

    @polling_condition
    def answer() -> int:
        return 42

    assert isinstance(answer, Poll)
    assert answer() == 42
    assert answer.description == "answer"
    assert answer.condition.interval == timedelta(seconds=2)
    assert conditions == []


def test_decorator_with_keywords(logger: RecordingLogger) -> None:
    polling_condition = make_polling_condition([], logger)

    @polling_condition(interval=timedelta(seconds=5), description="custom")
    def cond() -> None:
        """ignored docstring"""

    assert isinstance(cond, Poll)
    assert cond.description == "custom"
    assert cond.condition.interval == timedelta(seconds=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = polling_condition(seconds_interval=timedelta(seconds=7))(cond.fun)
    assert quiet.condition.interval == timedelta(seconds=7)


def test_seconds_interval_number_warns(logger: RecordingLogger) -> None:
    polling_condition = make_polling_condition([], logger)
    with pytest.warns(UserWarning, match=r"^polling_condition\(\): passing a bare int/float"):
        decorator = polling_condition(seconds_interval=3)
    assert decorator(lambda: None).condition.interval == timedelta(seconds=3)
    with pytest.warns(UserWarning, match=r"^polling_condition\(\): passing a bare int/float"):
        polling_condition(interval=1.5)


def test_both_interval_keywords_raise(logger: RecordingLogger) -> None:
    polling_condition = make_polling_condition([], logger)
    with pytest.raises(TypeError, match=r"'interval'.*'seconds_interval'"):
        polling_condition(interval=timedelta(seconds=1), seconds_interval=timedelta(seconds=2))


def test_non_callable_positional_is_refused(logger: RecordingLogger) -> None:
    polling_condition = make_polling_condition([], logger)
    with pytest.raises(TypeError, match="keywords"):
        polling_condition(5)  # type: ignore[call-overload]


def test_with_blocks_push_and_pop_in_order_even_on_errors(logger: RecordingLogger) -> None:
    conditions: list[PollingCondition] = []
    polling_condition = make_polling_condition(conditions, logger)
    outer = polling_condition(lambda: True)
    inner = polling_condition(lambda: True)
    with outer as entered:
        assert entered is outer
        assert conditions == [outer.condition]
        with inner:
            assert conditions == [outer.condition, inner.condition]
        assert conditions == [outer.condition]
    assert conditions == []
    with pytest.raises(ValueError), outer:
        raise ValueError("inside")
    assert conditions == []


def test_out_of_order_exit_is_an_assertion(logger: RecordingLogger) -> None:
    conditions: list[PollingCondition] = []
    polling_condition = make_polling_condition(conditions, logger)
    first = polling_condition(lambda: True)
    second = polling_condition(lambda: True)
    first.__enter__()
    second.__enter__()
    with pytest.raises(AssertionError):
        first.__exit__(None, None, None)
    with pytest.raises(AssertionError):
        make_polling_condition([], logger)(lambda: True).__exit__(None, None, None)


# --- Poll.wait -------------------------------------------------------------------------------


def test_wait_until_it_holds(clock: FakeClock, logger: RecordingLogger) -> None:
    fun = Scripted(False, RuntimeError("not yet"), None)
    cond = make_polling_condition([], logger)(fun, description="db ready")
    cond.wait(timeout=timedelta(seconds=30))
    assert fun.calls == 3
    assert logger.records[0] == ("begin", "waiting for db ready")
    assert logger.records[-1] == ("end", "waiting for db ready")
    assert logger.messages("info").count("(db ready failure not fatal yet)") == 2
    assert "Last chance for db ready" not in logger.messages("info")
    assert clock.now == 1002.0


def test_wait_timeout_logs_last_chance(clock: FakeClock, logger: RecordingLogger) -> None:
    fun = Scripted(False)
    cond = make_polling_condition([], logger)(fun, description="db ready")
    with pytest.raises(
        RequestedAssertionFailed, match=r"^action timed out after 3\.00 seconds \(timeout=3\.0\)$"
    ):
        cond.wait(timeout=timedelta(seconds=3))
    infos = logger.messages("info")
    assert fun.calls == 4
    assert infos.count("(db ready failure not fatal yet)") == 3
    last = infos.index("Last chance for db ready")
    assert infos[last + 1 :] == [
        "last checked 1.00 seconds ago",
        "Polling condition failed: db ready",
    ]
    assert logger.records[-1] == ("end", "waiting for db ready")


def test_wait_last_chance_can_succeed(clock: FakeClock, logger: RecordingLogger) -> None:
    fun = Scripted(False, False, True)
    cond = make_polling_condition([], logger)(fun, description="x")
    cond.wait(timeout=timedelta(seconds=2))
    assert "Last chance for x" in logger.messages("info")


def test_wait_default_timeout_is_15_minutes(clock: FakeClock, logger: RecordingLogger) -> None:
    cond = make_polling_condition([], logger)(Scripted(False))
    with pytest.raises(RequestedAssertionFailed, match=r"\(timeout=900\.0\)$"):
        cond.wait()


def test_wait_keywords(clock: FakeClock, logger: RecordingLogger) -> None:
    cond = make_polling_condition([], logger)(Scripted(True))
    with pytest.warns(UserWarning, match=r"^wait\(\): passing a bare int/float"):
        cond.wait(10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cond.wait(timedelta(seconds=10))
    with pytest.raises(TypeError, match=r"'timeout'.*'timeout_seconds'"):
        cond.wait(10, timeout=timedelta(seconds=10))


def test_wait_inside_its_own_block(clock: FakeClock, logger: RecordingLogger) -> None:
    """The condition's own commands re-enter the checks while it is active and failing."""
    conditions: list[PollingCondition] = []
    attempts = 0

    def execute() -> None:
        check_polling_conditions(conditions)

    @make_polling_condition(conditions, logger)
    def ready() -> bool:
        nonlocal attempts
        attempts += 1
        execute()
        return attempts >= 3

    with ready:
        ready.wait(timeout=timedelta(seconds=30))
        execute()  # holds now: no error
    assert attempts == 3


def test_terminal_logger_output(clock: FakeClock) -> None:
    stream = io.StringIO()
    cond = make_polling_condition([], TerminalLogger(stream, colour=False))(
        Scripted(False, True), description="up"
    )
    cond.wait(timeout=timedelta(seconds=5))
    lines = stream.getvalue().splitlines()
    assert lines[:4] == [
        "waiting for up",
        "Checking polling condition 'up'",
        "(not called yet)",
        "Polling condition failed: up",
    ]
    assert lines[4].startswith("(finished: Checking polling condition 'up', in ")
    assert "(up failure not fatal yet)" in lines
    assert lines[-1].startswith("(finished: waiting for up, in ")
