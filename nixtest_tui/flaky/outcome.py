"""One finished run as the hunter sees it: passed or not, why, and its facts for comparing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from nixtest_tui.flaky.facts import Facts, last_error_line, read_facts

TRACE_NAME = "nixtest-trace.jsonl"
LOG_NAME = "output.log"
_VARIABLE_PART = re.compile(r"\d+(?:\.\d+)?")


@dataclass
class RunOutcome:
    number: int
    directory: Path
    status: int
    wall_seconds: float
    cancelled: bool = False
    facts: Facts = field(default_factory=Facts)

    @property
    def passed(self) -> bool:
        return self.status == 0 and not self.cancelled

    @property
    def name(self) -> str:
        return self.directory.name

    @property
    def statement(self) -> str:
        """The failing statement with its line, or "(outside the script)"."""
        line = self.facts.failure_line
        text = self.facts.script_text(line)
        return f"{text} (line {line})" if text else "(outside the script)"

    @property
    def message(self) -> str:
        if self.facts.failure_message:
            return self.facts.failure_message
        return _log_error(self.directory / LOG_NAME) or f"exit status {self.status}"

    @property
    def group_key(self) -> tuple[str, str]:
        """Failures are the same when statement and message match up to the numbers in them
        (durations, counts, PIDs)."""
        return (self.statement, _VARIABLE_PART.sub("N", self.message))


def read_outcome(number: int, directory: Path, status: int, wall_seconds: float,
                 cancelled: bool = False) -> RunOutcome:
    trace = directory / TRACE_NAME
    facts = read_facts(trace) if trace.is_file() else Facts()
    return RunOutcome(number, directory, status, wall_seconds, cancelled, facts)


def _log_error(log: Path) -> str:
    """Without a trace (a run that never started, a Nix build), the last error line."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    errors = [line for line in lines if "error" in line.lower()]
    return last_error_line(errors[-1]) if errors else (last_error_line(lines[-1]) if lines
                                                       else "")
