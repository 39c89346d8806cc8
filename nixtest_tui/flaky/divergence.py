"""Where a failing run parts from the passing ones.

Three kinds of evidence, each the first of its kind in the failing run: a command whose exit
status no passing run had at that point (matched by machine, command and how many times it
had run before, so a retried command is compared with its own attempt), a wait that took
longer than it took in every passing run, and a console line whose pattern (numbers blanked)
no passing run printed. The earliest command or wait is the divergence (a console line only
when neither differs: boot messages vary between any two TCG runs, so a new console line is
weaker evidence than a status or a wait); the others are shown too, because the earliest is
sometimes only a symptom (a slow wait before a lost packet).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from nixtest_tui.flaky.facts import Facts, Step, serial_pattern

# a wait must be this much slower than the slowest passing one to count: boot jitter under
# TCG alone, on a busy host, is a second or two
WAIT_SLACK = 1.5
WAIT_MARGIN = 2.0


@dataclass(frozen=True)
class Point:
    """One piece of evidence: what the failing run did and what the passing runs did."""

    kind: str  # "command", "wait", "serial"
    t: float
    line: int | None
    script: str
    machine: str
    failing: str
    passing: str

    def describe(self) -> str:
        where = f"line {self.line}: {self.script}" if self.line else "outside the script"
        return (f"[{self.kind}] t={self.t:.1f}s {where}\n  failing run: {self.failing}\n"
                f"  passing runs: {self.passing}")


@dataclass(frozen=True)
class Divergence:
    first: Point
    points: tuple[Point, ...]


def _keyed(steps: list[Step]) -> list[tuple[tuple[str, str, int], Step]]:
    seen: Counter[tuple[str, str]] = Counter()
    keyed = []
    for step in steps:
        key = (step.machine, step.text)
        keyed.append(((step.machine, step.text, seen[key]), step))
        seen[key] += 1
    return keyed


def first_status_change(failing: Facts, passing: list[Facts]) -> Point | None:
    statuses: dict[tuple[str, str, int], set[int | None]] = {}
    for facts in passing:
        for key, step in _keyed(facts.commands):
            statuses.setdefault(key, set()).add(step.status)
    for key, step in _keyed(failing.commands):
        known = statuses.get(key)
        if known is None or step.status in known:
            continue
        shown = ", ".join(sorted(str(s) for s in known))
        return Point("command", step.t, step.line, failing.script_text(step.line),
                     step.machine, f"{step.machine}: `{step.text}` exited {step.status}",
                     f"exited {shown} at this point ({len(passing)} runs)")
    return None


def first_slow_wait(failing: Facts, passing: list[Facts]) -> Point | None:
    slowest: dict[tuple[str, str, int], float] = {}
    for facts in passing:
        for key, step in _keyed(facts.waits):
            slowest[key] = max(slowest.get(key, 0.0), step.duration)
    for key, step in _keyed(failing.waits):
        limit = slowest.get(key)
        if limit is None or step.duration <= max(limit * WAIT_SLACK, limit + WAIT_MARGIN):
            continue
        ended = "gave up" if step.status else "succeeded"
        return Point("wait", step.t, step.line, failing.script_text(step.line), step.machine,
                     f"{step.machine}: wait for {step.text} {ended} after {step.duration:.1f}s",
                     f"at most {limit:.1f}s")
    return None


def first_new_serial_line(failing: Facts, passing: list[Facts]) -> Point | None:
    if not passing:
        return None
    known = {(machine, serial_pattern(line)) for facts in passing
             for _, machine, line in facts.serial}
    lines = _line_at(failing)
    for t, machine, line in failing.serial:
        if (machine, serial_pattern(line)) in known or not line.strip():
            continue
        at = lines(t)
        return Point("serial", t, at, failing.script_text(at), machine, f"{machine} # {line}",
                     "never printed a line like it")
    return None


def _line_at(facts: Facts) -> Callable[[float], int | None]:
    steps = sorted([*facts.commands, *facts.waits], key=lambda s: s.t)

    def line(t: float) -> int | None:
        current = None
        for step in steps:
            if step.t > t:
                break
            current = step.line
        return current

    return line


def first_divergence(failing: Facts, passing: list[Facts]) -> Divergence | None:
    if not passing:
        return None
    finders = (first_status_change, first_slow_wait, first_new_serial_line)
    points = tuple(p for p in (find(failing, passing) for find in finders) if p is not None)
    if not points:
        return None
    steps = [p for p in points if p.kind != "serial"] or list(points)
    return Divergence(min(steps, key=lambda p: p.t), points)
