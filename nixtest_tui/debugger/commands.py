"""The runner's states and the commands it takes, as types.

Why typed: a command is valid only in the states that accept it, and the runner checks that
when the command arrives. A key pressed while the script runs, or after it ended, is refused
then and there instead of waiting in a queue to be replayed into a later pause or run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum
from types import CodeType

from nixtest_tui.debugger.evaluate import EvalResult


class RunState(StrEnum):
    """Where the script runner is; the values are what `ScriptStateChanged.state` carries."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"


ENDED = frozenset({RunState.IDLE, RunState.FINISHED, RunState.FAILED, RunState.STOPPED})
"""States in which no script thread runs: a run may start."""


class Action(StrEnum):
    """What to do with a failed statement."""

    RETRY = "retry"
    SKIP = "skip"
    FAIL = "raise"


class StepKind(StrEnum):
    INTO = "into"
    OVER = "over"
    OUT = "out"
    RUN_TO = "run-to"


@dataclass(frozen=True)
class Continue:
    """Resume until the next breakpoint."""


@dataclass(frozen=True)
class Step:
    kind: StepKind
    line: int | None = None  # for RUN_TO


@dataclass(frozen=True)
class Resolve:
    """The user's decision on the statement the script is paused on."""

    action: Action


@dataclass
class Evaluate:
    """Python to run in the paused frame; `done` is set when `result` is there."""

    source: str
    done: threading.Event = field(default_factory=threading.Event)
    result: EvalResult | None = None

    def answer(self, result: EvalResult) -> None:
        self.result = result
        self.done.set()


@dataclass(frozen=True)
class Restart:
    """Run again from the top; `reboot` releases the machines first."""

    reboot: bool = False


@dataclass(frozen=True)
class Stop:
    """End the run for good (quit, a replaced script)."""


@dataclass(frozen=True)
class Jump:
    """Go on from `line` in the same globals: `code` is the script from there (jump.py), and
    `note` what the driver log says about it. A reloaded script's text arrives this way too."""

    line: int
    code: CodeType | None = field(default=None, compare=False, repr=False)
    note: str = ""
    reason: str = "jump"  # the landing pause's reason


Command = Continue | Step | Resolve | Evaluate | Restart | Stop | Jump


def refusal(command: Command, state: RunState, at_failure: bool, resuming: bool) -> str:
    """Why `command` cannot be taken now ("" when it can): the rules in one place."""
    if isinstance(command, Restart | Stop):
        return ""
    if state is not RunState.PAUSED:
        return {RunState.RUNNING: "the script is running (F6 pauses it)"}.get(
            state, "the script is not running (F5 runs it)")
    if resuming:
        return "the script is already resuming"
    if isinstance(command, Resolve) and not at_failure:
        return "retry, skip and fail apply to a failed statement only"
    if isinstance(command, Continue | Step | Jump) and at_failure:
        return "the script is paused on a failure: r retries, k skips, F lets it fail"
    return ""
