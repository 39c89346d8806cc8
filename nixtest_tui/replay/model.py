"""The run as timelines: folded once at open, then asked "what was true at t" by bisection.

Folding the events again for every seek would cost a pass over tens of thousands of events;
instead each aspect a pane shows (script line, subtests, waits, commands, machine states,
links, screenshots, the log) becomes a sorted list or a list of intervals, so a seek is a few
`bisect` calls however long the run was.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from nixtest_tui.replay.reader import Record, Trace

_TRACEBACK_LINE = re.compile(r'File "<string>", line (\d+)')
_SCRIPT_NEST = "run the VM test script"


@dataclass
class Interval:
    start: float
    end: float | None = None

    def active(self, t: float) -> bool:
        return self.start <= t and (self.end is None or t < self.end)

    def duration(self, t: float | None = None) -> float:
        end = self.end if self.end is not None else t
        return max(0.0, (end if end is not None else self.start) - self.start)


@dataclass
class Subtest(Interval):
    name: str = ""
    ok: bool | None = None
    error: str = ""

    def state_at(self, t: float) -> str:
        if t < self.start:
            return "pending"
        if self.end is None or t < self.end:
            return "running"
        return "passed" if self.ok else "failed"


@dataclass
class Wait(Interval):
    machine: str | None = None
    what: str = ""
    target: str = ""
    timeout: float | None = None
    success: bool | None = None
    probes: list[tuple[float, str]] = field(default_factory=list)

    def last_probe(self, t: float) -> str:
        at = bisect.bisect_right([p[0] for p in self.probes], t)
        return self.probes[at - 1][1] if at else ""


@dataclass
class Command(Interval):
    machine: str = ""
    command: str = ""
    status: int | None = None


@dataclass(frozen=True)
class LogEntry:
    t: float
    depth: int
    level: str
    text: str
    machine: str | None


@dataclass(frozen=True)
class Shot:
    t: float
    machine: str
    path: str
    film: bool


@dataclass(frozen=True)
class Failure:
    t: float
    message: str
    line: int | None
    subtest: str | None


@dataclass(frozen=True)
class Mark:
    """One mark on the timeline: kind is subtest, command, wait, failure or screenshot."""

    t: float
    kind: str
    label: str


class Steps:
    """A value that changes at known times: the value in force at t."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.values: list[object] = []

    def add(self, t: float, value: object) -> None:
        self.times.append(t)
        self.values.append(value)

    def at(self, t: float, default: object = None) -> object:
        index = bisect.bisect_right(self.times, t)
        return self.values[index - 1] if index else default


@dataclass
class Run:
    trace: Trace
    script_lines: Steps = field(default_factory=Steps)
    subtests: list[Subtest] = field(default_factory=list)
    waits: list[Wait] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    states: dict[str, Steps] = field(default_factory=dict)
    links: dict[str, Steps] = field(default_factory=dict)
    vlans: dict[int, Steps] = field(default_factory=dict)
    shots: list[Shot] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)
    log_times: list[float] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    script_ok: bool | None = None
    stopped: str = ""

    @property
    def duration(self) -> float:
        return self.trace.duration

    @property
    def result(self) -> str:
        """passed, failed, timed out, stopped, or unfinished (a run killed mid-way)."""
        if "global timeout" in self.stopped:
            return "timed out"
        if self.stopped:
            return "stopped"
        if self.failures or self.script_ok is False:
            return "failed"
        return "passed" if self.script_ok else "unfinished"

    @property
    def failure(self) -> Failure | None:
        """The failure to open on: the one that names a script line, else the first."""
        located = [f for f in self.failures if f.line is not None]
        return located[-1] if located else (self.failures[0] if self.failures else None)

    def failure_time(self) -> float | None:
        """When to show the failure: the last instant its statement was still the line
        running (the error is logged only after the script has left that line)."""
        failure = self.failure
        if failure is None:
            return None
        steps = self.script_lines
        starts = [i for i, (t, line) in enumerate(zip(steps.times, steps.values, strict=True))
                  if t <= failure.t and line == failure.line]
        if failure.line is None or not starts:
            return failure.t
        i = starts[-1]
        if i + 1 >= len(steps.times):
            return failure.t
        times = [e["t"] for e in self.trace.events]
        before_change = bisect.bisect_left(times, steps.times[i + 1]) - 1
        return max(steps.times[i], times[before_change]) if before_change >= 0 else failure.t

    def log_count(self, t: float) -> int:
        return bisect.bisect_right(self.log_times, t)

    def shots_until(self, t: float) -> list[Shot]:
        return [s for s in self.shots if s.t <= t]

    def marks(self) -> Iterator[Mark]:
        for subtest in self.subtests:
            yield Mark(subtest.start, "subtest", subtest.name)
        for command in self.commands:
            yield Mark(command.start, "command", f"{command.machine}: {command.command}")
        for wait in self.waits:
            yield Mark(wait.start, "wait", f"{wait.machine or ''} {wait.what} {wait.target}")
        for failure in self.failures:
            yield Mark(failure.t, "failure", failure.message.splitlines()[-1])
        for shot in self.shots:
            yield Mark(shot.t, "screenshot", f"{shot.machine}: {shot.path}")


def build_run(trace: Trace) -> Run:
    run = Run(trace)
    folder = _Folder(run)
    for event in trace.events:
        folder.add(event)
    return run


class _Folder:
    """Turns events into the run's timelines, in one pass."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.depth = 0
        self.open_subtests: list[Subtest] = []
        self.open_waits: dict[tuple[str | None, str, str], Wait] = {}
        self.open_commands: dict[str, Command] = {}

    def add(self, event: Record) -> None:
        handler = getattr(self, "on_" + str(event["type"]), None)
        if handler is not None:
            handler(event, event["t"])

    def on_ScriptLine(self, e: Record, t: float) -> None:
        if e.get("function") == "<module>" or self.run.script_lines.at(t) is None:
            self.run.script_lines.add(t, int(e["line"]))

    def on_NestStarted(self, e: Record, t: float) -> None:
        self._log(t, "nest", e["message"], e.get("machine"))
        self.depth += 1
        if e.get("subtest"):
            name = str(e["message"]).removeprefix("subtest: ")
            subtest = Subtest(t, name=name)
            self.run.subtests.append(subtest)
            self.open_subtests.append(subtest)

    def on_NestFinished(self, e: Record, t: float) -> None:
        self.depth = max(0, self.depth - 1)
        self._log(t, "finished", f"(finished: {e['message']}, in {float(e['duration']):.2f} "
                  "seconds)", e.get("machine"))
        if e.get("subtest") and self.open_subtests:
            subtest = self.open_subtests.pop()
            subtest.end, subtest.ok, subtest.error = t, bool(e.get("ok")), e.get("error") or ""
        if e.get("message") == _SCRIPT_NEST:
            self.run.script_ok = bool(e.get("ok"))

    def on_LogMessage(self, e: Record, t: float) -> None:
        message = str(e["message"])
        level = str(e.get("level", "info"))
        self._log(t, level, message, e.get("machine"))
        if level == "test-error":
            if message.startswith("test stopped:") or "global timeout" in message:
                self.run.stopped = message
                return
            lines = _TRACEBACK_LINE.findall(message)
            line = int(lines[-1]) if lines else None
            current = self.open_subtests[-1].name if self.open_subtests else None
            self.run.failures.append(Failure(t, message, line, current))

    def on_WaitStarted(self, e: Record, t: float) -> None:
        wait = Wait(t, machine=e.get("machine"), what=str(e["what"]), target=str(e["target"]),
                    timeout=e.get("timeout"))
        self.run.waits.append(wait)
        self.open_waits[(wait.machine, wait.what, wait.target)] = wait

    def on_WaitProgress(self, e: Record, t: float) -> None:
        wait = self.open_waits.get((e.get("machine"), str(e["what"]), str(e["target"])))
        if wait is not None:
            wait.probes.append((t, str(e.get("last_result", ""))))

    def on_WaitFinished(self, e: Record, t: float) -> None:
        wait = self.open_waits.pop((e.get("machine"), str(e["what"]), str(e["target"])), None)
        if wait is not None:
            wait.end, wait.success = t, bool(e.get("success"))

    def on_CommandStarted(self, e: Record, t: float) -> None:
        command = Command(t, machine=str(e["machine"]), command=str(e["command"]))
        self.run.commands.append(command)
        self.open_commands[command.machine] = command

    def on_CommandFinished(self, e: Record, t: float) -> None:
        command = self.open_commands.pop(str(e["machine"]), None)
        if command is not None:
            command.end, command.status = t, int(e["status"])

    def on_MachineStateChanged(self, e: Record, t: float) -> None:
        state = str(e["state"])
        if e.get("exit_code") is not None and state == "exited":
            state = f"exited ({e['exit_code']})"
        self.run.states.setdefault(str(e["machine"]), Steps()).add(t, state)

    def on_LinkChanged(self, e: Record, t: float) -> None:
        self.run.links.setdefault(str(e["machine"]), Steps()).add(t, bool(e["blocked"]))

    def on_VLanChanged(self, e: Record, t: float) -> None:
        self.run.vlans.setdefault(int(e["nr"]), Steps()).add(t, bool(e["up"]))

    def on_ScreenshotTaken(self, e: Record, t: float) -> None:
        if e.get("path"):
            self.run.shots.append(Shot(t, str(e["machine"]), str(e["path"]), film=False))

    def on_FilmFrame(self, e: Record, t: float) -> None:
        self.run.shots.append(Shot(t, str(e["machine"]), str(e["path"]), film=True))

    def _log(self, t: float, level: str, text: str, machine: object) -> None:
        who = machine if isinstance(machine, str) else None
        self.run.log.append(LogEntry(t, self.depth, level, text, who))
        self.run.log_times.append(t)
