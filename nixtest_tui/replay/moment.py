"""What every pane shows at one instant of the run."""

from __future__ import annotations

from dataclasses import dataclass

from nixtest_tui.replay.model import Command, Run, Shot


@dataclass(frozen=True)
class WaitView:
    machine: str | None
    what: str
    target: str
    elapsed: float
    timeout: float | None
    last_result: str


@dataclass(frozen=True)
class SubtestView:
    name: str
    state: str
    duration: float


@dataclass(frozen=True)
class Moment:
    t: float
    script_line: int | None
    subtests: tuple[SubtestView, ...]
    waits: tuple[WaitView, ...]
    commands: tuple[Command, ...]
    machines: dict[str, str]
    blocked: dict[str, bool]
    vlans: dict[int, bool]
    log_count: int
    screenshot: Shot | None


def moment(run: Run, t: float) -> Moment:
    line = run.script_lines.at(t)
    subtests = tuple(SubtestView(s.name, s.state_at(t), _elapsed(s.start, s.end, t))
                     for s in run.subtests)
    waits = tuple(WaitView(w.machine, w.what, w.target, t - w.start, w.timeout,
                           w.last_probe(t)) for w in run.waits if w.active(t))
    commands = tuple(c for c in run.commands if c.active(t))
    machines = {name: str(run.states[name].at(t, "off")) if name in run.states else "off"
                for name in run.trace.machines}
    blocked = {name: bool(steps.at(t, False)) for name, steps in run.links.items()}
    vlans = {nr: bool(steps.at(t, False)) for nr, steps in sorted(run.vlans.items())}
    shots = run.shots_until(t)
    return Moment(t, line if isinstance(line, int) else None, subtests, waits, commands,
                  machines, blocked, vlans, run.log_count(t), shots[-1] if shots else None)


def _elapsed(start: float, end: float | None, t: float) -> float:
    stop = t if end is None else min(end, t)
    return max(0.0, stop - start)
