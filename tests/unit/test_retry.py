"""`retry` on a fake monotonic clock: cadence, final attempt, message, keywords and warnings."""

from __future__ import annotations

import importlib
import warnings
from datetime import timedelta
from typing import Any

import pytest
from conftest import FakeClock

from nixtest_tui.driver.errors import RequestedAssertionFailed
from nixtest_tui.driver.retry import retry

# the package exports the function `retry`; the tests patch the module
retry_module = importlib.import_module("nixtest_tui.driver.retry")


class Recorder:
    """An `fn` for retry that returns the scripted results and records its `last_try` flags."""

    def __init__(self, clock: FakeClock, results: list[Any], cost: float = 0.0) -> None:
        self.clock = clock
        self.results = results
        self.cost = cost
        self.calls: list[bool] = []

    def __call__(self, last_try: bool) -> Any:
        self.calls.append(last_try)
        self.clock.now += self.cost
        return self.results[len(self.calls) - 1] if len(self.calls) <= len(self.results) else None


def test_returns_on_first_truthy_result(clock: FakeClock) -> None:
    fn = Recorder(clock, [False, 0, "", "yes"])
    retry(fn, timeout=timedelta(seconds=10))
    assert fn.calls == [False, False, False, False]
    assert clock.sleeps == [1.0, 1.0, 1.0]


def test_final_attempt_is_told_it_is_the_last(clock: FakeClock) -> None:
    fn = Recorder(clock, [False, False, False, True])
    retry(fn, timeout=timedelta(seconds=3))
    assert fn.calls == [False, False, False, True]


def test_timeout_message_includes_the_final_attempt(clock: FakeClock) -> None:
    fn = Recorder(clock, [], cost=0.25)
    with pytest.raises(RequestedAssertionFailed) as info:
        retry(fn, timeout=timedelta(seconds=3))
    # attempts at 0, 1.25, 2.5 (each costs 0.25 s), sleeps of 1, 1 and the 0.25 s left, then the
    # final attempt from 3.0 to 3.25
    assert fn.calls == [False, False, False, True]
    assert clock.sleeps == [1.0, 1.0, 0.25]
    assert str(info.value) == "action timed out after 3.25 seconds (timeout=3.0)"
    assert isinstance(info.value, AssertionError)


def test_does_not_sleep_past_the_deadline(clock: FakeClock) -> None:
    fn = Recorder(clock, [])
    with pytest.raises(RequestedAssertionFailed, match=r"after 2\.50 seconds \(timeout=2\.5\)$"):
        retry(fn, timeout=timedelta(seconds=2.5))
    assert clock.sleeps == [1.0, 1.0, 0.5]
    assert fn.calls == [False, False, False, True]


def test_slow_attempt_past_the_deadline_skips_the_sleep(clock: FakeClock) -> None:
    fn = Recorder(clock, [], cost=5.0)
    with pytest.raises(RequestedAssertionFailed, match=r"^action timed out after 10\.00 seconds"):
        retry(fn, timeout=timedelta(seconds=2))
    assert clock.sleeps == []
    assert fn.calls == [False, True]


def test_zero_timeout_makes_only_the_final_attempt(clock: FakeClock) -> None:
    fn = Recorder(clock, [True])
    retry(fn, timeout=timedelta(0))
    assert fn.calls == [True]


def test_default_timeout_is_15_minutes(clock: FakeClock) -> None:
    fn = Recorder(clock, [])
    with pytest.raises(RequestedAssertionFailed, match=r"\(timeout=900\.0\)$"):
        retry(fn)
    assert len(fn.calls) == 901
    assert fn.calls[-1] is True


def test_exception_from_fn_propagates(clock: FakeClock) -> None:
    def boom(last_try: bool) -> bool:
        raise RuntimeError("probe broke")

    with pytest.raises(RuntimeError, match="probe broke"):
        retry(boom, timeout=timedelta(seconds=5))


def test_old_positional_timeout_seconds_warns(clock: FakeClock) -> None:
    fn = Recorder(clock, [])
    with pytest.warns(UserWarning, match=r"^retry\(\): passing a bare int/float as a duration"):
        with pytest.raises(RequestedAssertionFailed, match=r"\(timeout=2\.0\)$"):
            retry(fn, 2)
    assert fn.calls == [False, False, True]


def test_old_keyword_with_timedelta_is_silent(clock: FakeClock) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        retry(Recorder(clock, [True]), timeout_seconds=timedelta(seconds=2))
        retry(Recorder(clock, [True]), timedelta(seconds=2))
        retry(Recorder(clock, [True]), timeout=timedelta(seconds=2))


def test_new_keyword_with_number_warns(clock: FakeClock) -> None:
    with pytest.warns(UserWarning, match=r"^retry\(\): passing a bare int/float"):
        retry(Recorder(clock, [True]), timeout=1.5)


def test_both_keywords_raise(clock: FakeClock) -> None:
    fn = Recorder(clock, [True])
    with pytest.raises(TypeError, match=r"'timeout'.*'timeout_seconds'"):
        retry(fn, 5, timeout=timedelta(seconds=5))
    assert fn.calls == []


def test_bool_timeout_is_refused(clock: FakeClock) -> None:
    with pytest.raises(TypeError, match="bool"):
        retry(Recorder(clock, [True]), timeout=True)


def test_warning_points_at_the_script_line(clock: FakeClock) -> None:
    script = "\nretry(lambda last: True, 30)\n"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(script, "<string>", "exec"), {"retry": retry})
    assert [(w.filename, w.lineno) for w in caught] == [("<string>", 2)]


def test_attempt_timeout_is_accepted_and_checked(clock: FakeClock) -> None:
    fn = Recorder(clock, [False, True])
    retry(fn, timeout=timedelta(seconds=5), attempt_timeout=timedelta(seconds=1))
    assert fn.calls == [False, False]
    with pytest.raises(TypeError):
        retry(fn, timeout=timedelta(seconds=5), attempt_timeout=True)


def test_on_attempt_sees_every_attempt(clock: FakeClock) -> None:
    seen: list[tuple[int, float, Any]] = []
    fn = Recorder(clock, [None, 0, None], cost=0.5)
    with pytest.raises(RequestedAssertionFailed):
        retry(
            fn,
            timeout=timedelta(seconds=2),
            on_attempt=lambda n, elapsed, result: seen.append((n, elapsed, result)),
        )
    assert seen == [(1, 0.5, None), (2, 2.0, 0), (3, 2.5, None)]


def test_on_attempt_sees_the_success(clock: FakeClock) -> None:
    seen: list[tuple[int, float, Any]] = []
    retry(
        Recorder(clock, [False, "ok"]),
        timeout=timedelta(seconds=9),
        on_attempt=lambda n, elapsed, result: seen.append((n, elapsed, result)),
    )
    assert seen == [(1, 0.0, False), (2, 1.0, "ok")]


def test_real_clock_smoke() -> None:
    calls: list[bool] = []

    def fn(last_try: bool) -> bool:
        calls.append(last_try)
        return False

    with pytest.raises(RequestedAssertionFailed, match=r"\(timeout=0\.05\)$"):
        retry(fn, timeout=timedelta(milliseconds=50))
    assert calls == [False, True]
