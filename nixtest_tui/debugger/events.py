"""Events the debugger publishes on the driver's bus, next to the driver's own."""

from __future__ import annotations

from dataclasses import dataclass

from nixtest_tui.driver.events import Event


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """A run of the script begins; `run` counts from 1 in a session (restarts add one)."""

    run: int


@dataclass(frozen=True, kw_only=True)
class FailureSkipped(Event):
    """The user skipped a failed statement: the run goes on, but it did not pass."""

    line: int
    statement: str
    error: str


@dataclass(frozen=True, kw_only=True)
class CommandRefused(Event):
    """A debugger command arrived in a state that does not take it, and was dropped."""

    command: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class LogPointHit(Event):
    """A log point's line ran: `message` was written to the log instead of pausing; a
    template that failed says so in `error` (and the run pauses there)."""

    line: int
    message: str
    hits: int
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class ScriptReloaded(Event):
    """The runner uses a new script text from now on (edit-and-continue): breakpoints moved
    with their lines, and those whose line was deleted were dropped (`dropped`, old lines)."""

    text: str
    dropped: tuple[int, ...] = ()
