"""The script's `retry` symbol, in the shape of nixpkgs' newest `nixos-test-driver/retry.nix`:
`fn` is told the seconds left (or `None` without a limit), no call starts after the deadline,
a late success counts, and a zero timeout calls nothing.

The first tests run nixpkgs' own checks, re-created in our words, on the real clock through a
real driver namespace (`test_driver.errors` import included); the rest pin the details on a fake
clock.
"""

from __future__ import annotations

import importlib
import sys
import time
import warnings
from datetime import timedelta
from typing import Any

import pytest
from conftest import FakeClock

from nixtest_tui.driver import Driver, compat
from nixtest_tui.driver.errors import RequestedAssertionFailed
from nixtest_tui.driver.retry import script_retry

retry_module = importlib.import_module("nixtest_tui.driver.retry")

UPSTREAM_STYLE_SCRIPT = """
import datetime as dt
import time

from test_driver.errors import RequestedAssertionFailed

unbounded = []
retry(lambda remaining: unbounded.append(remaining) or True, timeout=None)
assert unbounded == [None], unbounded

slow_calls = []

def slow_failure(remaining):
    assert remaining is not None and remaining > 0
    slow_calls.append(remaining)
    time.sleep(0.05)
    return False

try:
    retry(slow_failure, timeout=dt.timedelta(seconds=0.01))
except RequestedAssertionFailed:
    pass
else:
    raise AssertionError("a failing fn must time out")
assert len(slow_calls) == 1, slow_calls

late_calls = []

def late_success(remaining):
    assert remaining is not None and remaining > 0
    late_calls.append(remaining)
    time.sleep(0.02)
    return True

retry(late_success, timeout=dt.timedelta(seconds=0.01))
assert len(late_calls) == 1, late_calls

zero_calls = []
try:
    retry(lambda _remaining: zero_calls.append(1) or True, timeout=dt.timedelta(0))
except RequestedAssertionFailed:
    pass
else:
    raise AssertionError("a zero timeout must raise")
assert zero_calls == [], zero_calls
"""


def test_nixpkgs_retry_test_passes() -> None:
    """nixpkgs' `retry.nix` checks, as a script would run them (real clock, real imports)."""
    compat.install_test_driver_alias(Driver)
    try:
        namespace: dict[str, Any] = {"retry": script_retry}
        exec(compile(UPSTREAM_STYLE_SCRIPT, "<string>", "exec"), namespace)  # noqa: S102
    finally:
        compat.remove_test_driver_alias()
    assert namespace["slow_calls"][0] <= 0.01


def test_the_driver_hands_scripts_this_retry() -> None:
    compat.install_test_driver_alias(Driver)
    try:
        assert importlib.import_module("test_driver.machine").retry is script_retry
    finally:
        compat.remove_test_driver_alias()
    assert "test_driver" not in sys.modules  # the alias is gone once nothing uses it


class Probe:
    """An `fn` that returns scripted results, costs `cost` seconds, and records what it got."""

    def __init__(self, clock: FakeClock, results: list[Any], cost: float = 0.0) -> None:
        self.clock = clock
        self.results = results
        self.cost = cost
        self.told: list[float | None] = []

    def __call__(self, remaining: float | None) -> Any:
        self.told.append(remaining)
        self.clock.now += self.cost
        n = len(self.told)
        return self.results[n - 1] if n <= len(self.results) else False


def test_fn_is_told_the_seconds_left(clock: FakeClock) -> None:
    probe = Probe(clock, [False, False, True], cost=0.25)
    script_retry(probe, timeout=timedelta(seconds=10))
    assert probe.told == [10.0, 8.75, 7.5]
    assert clock.sleeps == [1.0, 1.0]


def test_no_call_after_the_deadline(clock: FakeClock) -> None:
    probe = Probe(clock, [], cost=0.5)
    with pytest.raises(RequestedAssertionFailed) as raised:
        script_retry(probe, timeout=timedelta(seconds=3))
    # calls at 0, 1.5 and 3.0 would be the last one: it is at the deadline, so it is not made
    assert probe.told == [3.0, 1.5]
    assert str(raised.value) == "action timed out after 3.00 seconds (timeout=3.0)"


def test_the_last_sleep_stops_at_the_deadline(clock: FakeClock) -> None:
    probe = Probe(clock, [], cost=0.5)
    with pytest.raises(RequestedAssertionFailed):
        script_retry(probe, timeout=timedelta(seconds=2.25))
    # calls at 0 and 1.5; the second ends at 2.0, so the pause is the 0.25 s left, then no call
    assert clock.sleeps == [1.0, 0.25] and probe.told == [2.25, 0.75]


def test_a_slow_success_after_the_deadline_counts(clock: FakeClock) -> None:
    probe = Probe(clock, [True], cost=60.0)
    script_retry(probe, timeout=timedelta(seconds=1))
    assert probe.told == [1.0]


@pytest.mark.parametrize("limit", [timedelta(0), timedelta(seconds=-5)])
def test_no_time_means_no_call(clock: FakeClock, limit: timedelta) -> None:
    probe = Probe(clock, [True])
    with pytest.raises(RequestedAssertionFailed, match=r"after 0\.00 seconds"):
        script_retry(probe, timeout=limit)
    assert probe.told == []


def test_none_means_no_limit_at_all(clock: FakeClock) -> None:
    """Well past 15 minutes, the default, and still going."""
    probe = Probe(clock, [False] * 2000 + [True], cost=1.0)
    script_retry(probe, timeout=None)
    assert len(probe.told) == 2001 and set(probe.told) == {None}
    assert clock.now - 500.0 > 3600


def test_omitted_timeout_is_15_minutes(clock: FakeClock) -> None:
    probe = Probe(clock, [])
    with pytest.raises(RequestedAssertionFailed, match=r"\(timeout=900\.0\)$"):
        script_retry(probe)
    assert probe.told[0] == 900.0 and len(probe.told) == 900


def test_old_positional_timeout_seconds_warns_in_upstreams_words(clock: FakeClock) -> None:
    probe = Probe(clock, [])
    with pytest.warns(UserWarning) as caught, pytest.raises(RequestedAssertionFailed,
                                                             match=r"\(timeout=2\.0\)$"):
        script_retry(probe, 2)
    assert [str(w.message) for w in caught] == [
        "retry(): The 'timeout_seconds' argument is deprecated. Use 'timeout' instead."
    ]


def test_old_keyword_with_a_timedelta_is_silent(clock: FakeClock) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        script_retry(Probe(clock, [True]), timeout_seconds=timedelta(seconds=5))


def test_both_keywords_raise(clock: FakeClock) -> None:
    with pytest.raises(TypeError, match="not both"):
        script_retry(Probe(clock, [True]), 5, timeout=timedelta(seconds=5))
    with pytest.raises(TypeError, match="not both"):
        script_retry(Probe(clock, [True]), timedelta(seconds=5), timeout=None)


def test_number_timeout_warns_and_works(clock: FakeClock) -> None:
    probe = Probe(clock, [False, True])
    with pytest.warns(UserWarning, match=r"^retry\(\): passing a bare int/float"):
        script_retry(probe, timeout=4)
    assert probe.told == [4.0, 3.0]


def test_bool_timeout_is_refused(clock: FakeClock) -> None:
    with pytest.raises(TypeError, match="bool"):
        script_retry(Probe(clock, [True]), timeout=True)


def test_warning_points_at_the_script_line(clock: FakeClock) -> None:
    script = "\n\nretry(lambda remaining: True, 30)\n"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(script, "<string>", "exec"), {"retry": script_retry})  # noqa: S102
    assert [(w.filename, w.lineno) for w in caught] == [("<string>", 3)]


def test_exception_from_fn_propagates(clock: FakeClock) -> None:
    def broken(_remaining: float | None) -> bool:
        raise KeyError("from fn")

    with pytest.raises(KeyError, match="from fn"):
        script_retry(broken, timeout=timedelta(seconds=5))


def test_old_last_try_scripts_still_run(clock: FakeClock) -> None:
    """A script written for the `last_try` shape keeps working; its flag is now a number."""
    seen: list[Any] = []

    def ready(last_try: Any) -> bool:
        seen.append(last_try)
        return len(seen) == 3

    script_retry(ready, timeout=timedelta(seconds=30))
    assert seen == [30.0, 29.0, 28.0]


def test_attempt_timeout_is_accepted_and_checked(clock: FakeClock) -> None:
    script_retry(Probe(clock, [True]), timeout=timedelta(seconds=5),
                 attempt_timeout=timedelta(seconds=1))
    with pytest.raises(TypeError):
        script_retry(Probe(clock, [True]), timeout=timedelta(seconds=5), attempt_timeout=True)


def test_real_clock_bound() -> None:
    """Against the real clock: a failing fn stops being called at the deadline."""
    calls: list[float | None] = []
    started = time.monotonic()
    with pytest.raises(RequestedAssertionFailed, match=r"\(timeout=0\.3\)$"):
        script_retry(lambda remaining: calls.append(remaining) or False,
                     timeout=timedelta(milliseconds=300))
    assert len(calls) == 1 and calls[0] is not None and 0 < calls[0] <= 0.3
    assert time.monotonic() - started < 30
