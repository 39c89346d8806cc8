"""The hunt so far: counts, pass rate with its interval, subtests, failure groups, JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from nixtest_tui.flaky.divergence import Divergence, first_divergence
from nixtest_tui.flaky.outcome import RunOutcome
from nixtest_tui.flaky.stats import Spread, wilson_interval


@dataclass(frozen=True)
class SubtestStats:
    name: str
    passed: int
    total: int
    spread: Spread | None


@dataclass(frozen=True)
class FailureGroup:
    statement: str
    message: str
    runs: tuple[RunOutcome, ...]


@dataclass
class Summary:
    planned: int
    outcomes: list[RunOutcome] = field(default_factory=list)
    running: int = 0
    chaos: str = "no chaos"
    isolation: str = ""
    stopped_early: str = ""

    @property
    def finished(self) -> list[RunOutcome]:
        return [o for o in self.outcomes if not o.cancelled]

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.finished)

    @property
    def failed(self) -> int:
        return len(self.finished) - self.passed

    def pass_rate(self) -> tuple[float, float, float]:
        """Rate, and the 95 % Wilson interval around it."""
        total = len(self.finished)
        low, high = wilson_interval(self.passed, total)
        return (self.passed / total if total else 0.0, low, high)

    def subtests(self) -> list[SubtestStats]:
        order: list[str] = []
        results: dict[str, list[tuple[bool, float]]] = {}
        for outcome in self.finished:
            for subtest in outcome.facts.subtests:
                if subtest.name not in results:
                    order.append(subtest.name)
                results.setdefault(subtest.name, []).append((bool(subtest.ok), subtest.duration))
        return [SubtestStats(name, sum(ok for ok, _ in results[name]), len(results[name]),
                             Spread.of([d for ok, d in results[name] if ok]))
                for name in order]

    def groups(self) -> list[FailureGroup]:
        grouped: dict[tuple[str, str], list[RunOutcome]] = {}
        for outcome in self.finished:
            if not outcome.passed:
                grouped.setdefault(outcome.group_key, []).append(outcome)
        found = [FailureGroup(runs[0].statement, runs[0].message, tuple(runs))
                 for runs in grouped.values()]
        return sorted(found, key=lambda g: -len(g.runs))

    def divergence(self, outcome: RunOutcome) -> Divergence | None:
        passing = [o.facts for o in self.finished if o.passed]
        return first_divergence(outcome.facts, passing)

    def exit_status(self) -> int:
        return 0 if self.finished and self.failed == 0 and not self.stopped_early else 1

    def progress_line(self) -> str:
        rate, low, high = self.pass_rate()
        return (f"{len(self.finished)}/{self.planned} done, {self.failed} failed, "
                f"{self.running} running; pass rate {rate:.0%} (95% CI {low:.0%}-{high:.0%})")

    def to_json(self) -> dict[str, object]:
        rate, low, high = self.pass_rate()
        return {
            "planned": self.planned, "finished": len(self.finished), "passed": self.passed,
            "failed": self.failed, "pass_rate": rate, "pass_rate_ci95": [low, high],
            "chaos": self.chaos, "isolation": self.isolation,
            "stopped_early": self.stopped_early or None,
            "runs": [{"run": o.name, "status": o.status, "passed": o.passed,
                      "seconds": round(o.wall_seconds, 2), "cancelled": o.cancelled}
                     for o in self.outcomes],
            "subtests": [{"name": s.name, "passed": s.passed, "total": s.total,
                          "seconds": None if s.spread is None else {
                              "min": s.spread.minimum, "median": s.spread.median,
                              "p95": s.spread.p95, "max": s.spread.maximum,
                              "histogram": list(s.spread.bins)}}
                         for s in self.subtests()],
            "failures": [self._group_json(g) for g in self.groups()],
        }

    def _group_json(self, group: FailureGroup) -> dict[str, object]:
        divergence = self.divergence(group.runs[0])
        return {
            "statement": group.statement, "message": group.message,
            "runs": [o.name for o in group.runs],
            "first_divergence": None if divergence is None else {
                "kind": divergence.first.kind, "t": round(divergence.first.t, 2),
                "line": divergence.first.line, "script": divergence.first.script,
                "failing": divergence.first.failing, "passing": divergence.first.passing},
        }

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
