"""Pass rates with Wilson intervals and duration spreads, against values worked out by hand."""

from __future__ import annotations

import pytest

from nixtest_tui.flaky.stats import Spread, histogram, percentile, sparkline, wilson_interval


def test_wilson_interval_matches_the_textbook_values() -> None:
    # 8 of 10 at 95 %: 0.4902 .. 0.9433 (Wilson 1927, as tabulated by Newcombe 1998)
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


@pytest.mark.parametrize("passed,total", [(0, 5), (5, 5), (0, 1), (1, 1), (50, 100)])
def test_wilson_interval_stays_in_bounds_and_contains_the_rate(passed: int, total: int) -> None:
    low, high = wilson_interval(passed, total)
    assert 0.0 <= low <= passed / total <= high <= 1.0
    assert high - low > 0


def test_three_passes_of_three_are_far_from_certain() -> None:
    low, _ = wilson_interval(3, 3)
    assert low < 0.5


def test_no_runs_means_knowing_nothing() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_percentiles_interpolate_between_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0, 5.0]
    assert percentile(values, 0.5) == 3.0
    assert percentile(values, 0.95) == pytest.approx(4.8)
    assert percentile([7.0], 0.95) == 7.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_histogram_counts_every_value_once() -> None:
    values = [1.0, 1.1, 1.2, 5.0, 9.9, 10.0]
    counts = histogram(values, bins=3)
    assert counts == [3, 1, 2]
    assert sum(histogram([3.0, 3.0], bins=4)) == 2


def test_sparkline_scales_to_the_tallest_bin() -> None:
    assert sparkline([0, 4, 2]) == " █▄"
    assert sparkline([0, 0]) == "  "


def test_spread_describes_min_median_p95() -> None:
    spread = Spread.of([2.0, 4.0, 6.0])
    assert spread is not None
    assert (spread.minimum, spread.median, spread.maximum) == (2.0, 4.0, 6.0)
    assert "min 2.0s" in spread.describe() and "median 4.0s" in spread.describe()
    assert Spread.of([]) is None
