"""Pass rates with a confidence interval, and the shape of a list of durations.

A bare pass rate over a handful of runs says little (3 of 3 is not "never fails"), so every
rate comes with its Wilson score interval, which stays inside [0, 1] and behaves at 0 and n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959964
BARS = " ▁▂▃▄▅▆▇█"


def wilson_interval(passed: int, total: int, z: float = Z_95) -> tuple[float, float]:
    if total <= 0:
        return (0.0, 1.0)
    p = passed / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - spread), min(1.0, centre + spread))


def percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), without numpy."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def histogram(values: list[float], bins: int = 8) -> list[int]:
    if not values:
        return [0] * bins
    low, high = min(values), max(values)
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for value in values:
        counts[min(int((value - low) / width), bins - 1)] += 1
    return counts


def sparkline(counts: list[int]) -> str:
    top = max(counts, default=0)
    if top == 0:
        return " " * len(counts)
    return "".join(BARS[math.ceil(c * (len(BARS) - 1) / top)] for c in counts)


@dataclass(frozen=True)
class Spread:
    """min/median/p95 of durations in seconds, and a small histogram of them."""

    count: int
    minimum: float
    median: float
    p95: float
    maximum: float
    bins: tuple[int, ...]

    @classmethod
    def of(cls, values: list[float]) -> Spread | None:
        if not values:
            return None
        return cls(len(values), min(values), percentile(values, 0.5), percentile(values, 0.95),
                   max(values), tuple(histogram(values)))

    def describe(self) -> str:
        return (f"min {self.minimum:.1f}s  median {self.median:.1f}s  p95 {self.p95:.1f}s  "
                f"{sparkline(list(self.bins))}")
