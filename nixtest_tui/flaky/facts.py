"""What one run did, read from its trace: the material the outcome and divergence work on.

The replay package does the reading and folding; this keeps only what comparing runs needs,
so a hunt of hundreds of runs holds a few lists per run instead of whole traces.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from nixtest_tui.replay import TraceError, open_trace
from nixtest_tui.replay.model import Run, build_run

_SERIAL_LINE = b'"type": "SerialLine"'
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_HEX = re.compile(r"\b(?:0x)?[0-9a-f]{6,}\b")


@dataclass(frozen=True)
class Step:
    """A command or a wait: where in the script it ran, and how it ended."""

    t: float
    line: int | None
    machine: str
    text: str
    status: int | None
    duration: float


@dataclass(frozen=True)
class SubtestResult:
    name: str
    ok: bool | None
    duration: float


@dataclass
class Facts:
    script: list[str] = field(default_factory=list)
    commands: list[Step] = field(default_factory=list)
    waits: list[Step] = field(default_factory=list)
    serial: list[tuple[float, str, str]] = field(default_factory=list)
    subtests: list[SubtestResult] = field(default_factory=list)
    failure_line: int | None = None
    failure_message: str = ""
    failure_subtest: str | None = None
    result: str = "unfinished"
    duration: float = 0.0

    def script_text(self, line: int | None) -> str:
        if line is None or not 1 <= line <= len(self.script):
            return ""
        return self.script[line - 1].strip()


def serial_pattern(line: str) -> str:
    """A console line with its numbers and long hex words blanked: kernel timestamps, PIDs and
    addresses differ between any two runs and would make every line "new"."""
    return _NUMBER.sub("#", _HEX.sub("#", line.strip().lower()))


def read_facts(trace_path: Path) -> Facts:
    try:
        trace = open_trace(trace_path)
    except TraceError:
        return Facts()
    run = build_run(trace)
    facts = Facts(script=(trace.info.script or "").splitlines(), result=run.result,
                  duration=run.duration)
    facts.commands = [_step(run, c.start, c.end, c.machine, c.command, c.status)
                      for c in run.commands]
    facts.waits = [_step(run, w.start, w.end, w.machine or "", f"{w.what} {w.target}",
                         None if w.success is None else int(not w.success))
                   for w in run.waits]
    facts.subtests = [SubtestResult(s.name, s.ok, s.duration(run.duration))
                      for s in run.subtests]
    failure = run.failure
    if failure is not None:
        facts.failure_line = failure.line
        facts.failure_subtest = failure.subtest
        facts.failure_message = last_error_line(failure.message)
    facts.serial = read_serial_lines(trace.path)
    return facts


def _step(run: Run, start: float, end: float | None, machine: str, text: str,
          status: int | None) -> Step:
    line = run.script_lines.at(start)
    return Step(start, line if isinstance(line, int) else None, machine, text, status,
                (end if end is not None else run.duration) - start)


def last_error_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def read_serial_lines(path: Path) -> list[tuple[float, str, str]]:
    """`SerialLine` records, which the replay reader skips (it replays the raw bytes)."""
    found: list[tuple[float, str, str]] = []
    with open(path, "rb") as file:
        for raw in file:
            if _SERIAL_LINE not in raw[:80]:
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            found.append((float(record["t"]), str(record["machine"]), str(record["line"])))
    return found
