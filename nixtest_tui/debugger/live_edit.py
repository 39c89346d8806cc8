"""Run from here and edit-and-continue: the runner's part that changes which code runs next.

Both work the same way (jump.py): the paused run's `exec` is ended by `Jumped`, and code
compiled from a chosen line on runs in the same globals, so variables keep their values and
machines keep running. A reloaded text is checked and compiled before anything changes (a text
that does not parse is refused with its line, the old one keeps running), then lands:

* idle or ended: at once, for the next run;
* paused (not on a failure) on a line the new text can go on from: at once, as a jump to the
  paused line's place in the new text (lines.py), where the run pauses again;
* otherwise (running, paused on a failure or inside a loop): at the next pause that can take
  it, or when the run ends. Until then the old text runs and is shown.
"""

from __future__ import annotations

import queue
import sys
import threading
from dataclasses import dataclass
from types import CodeType
from typing import Literal, Protocol

from nixtest_tui.debugger.breakpoint_rules import Breakpoint
from nixtest_tui.debugger.commands import ENDED, Command, Jump, RunState, StepKind
from nixtest_tui.debugger.events import CommandRefused, ScriptReloaded
from nixtest_tui.debugger.frames import PausedFrames
from nixtest_tui.debugger.jump import Jumped, JumpRefused, compile_from
from nixtest_tui.debugger.lines import LineMap, continuations
from nixtest_tui.debugger.model import ScriptModel
from nixtest_tui.debugger.tracer import Tracer
from nixtest_tui.debugger.transform import make_retryable, protected_lines
from nixtest_tui.driver.driver import SCRIPT_FILENAME, Driver

ReloadStatus = Literal["applied", "pending", "refused"]


@dataclass(frozen=True)
class Version:
    """A script text, parsed and compiled: all a runner needs to run it."""

    text: str
    model: ScriptModel
    code: CodeType
    protected: set[int]

    @staticmethod
    def of(text: str) -> Version:
        """Raises SyntaxError (or ValueError) for a text that does not parse."""
        return Version(text, ScriptModel.parse(text), make_retryable(text, SCRIPT_FILENAME),
                       protected_lines(text))


@dataclass(frozen=True)
class Reload:
    """What a reload did: `status`, and for "pending" and "refused" a message saying why."""

    status: ReloadStatus
    message: str = ""


def syntax_problem(text: str) -> str:
    """"" for a text that parses, else where and why it does not."""
    try:
        compile(text, SCRIPT_FILENAME, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except ValueError as exc:  # (a NUL byte)
        return str(exc)
    return ""


class Runner(Protocol):
    """The parts of ScriptRunner this module works on (it cannot import runner.py: a cycle)."""

    driver: Driver
    text: str
    model: ScriptModel
    state: RunState
    failure: BaseException | None
    paused_line: int | None
    _lock: threading.Lock
    _commands: queue.Queue[Command]
    _finished: threading.Event
    _resuming: bool
    _code: CodeType
    _protected: set[int]
    _tracer: Tracer
    _frames: PausedFrames

    @property
    def _ending(self) -> object: ...

    @property
    def breakpoints(self) -> dict[int, Breakpoint]: ...

    def send(self, command: Command) -> str: ...


class LiveEdit:
    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._pending: Version | None = None
        self._landing: tuple[int, str] | None = None

    # -- the UI's requests (any thread) ----------------------------------------------------------

    def jump(self, line: int) -> str:
        """Go on from `line` (where the pause goes next); "" or why not."""
        runner = self._runner
        command = Jump(line)  # (refused by the state rules, with their reason)
        if runner.state is RunState.PAUSED and runner.failure is None:
            try:
                target, code = compile_from(runner.text, line)
            except JumpRefused as exc:
                runner.driver.bus.publish(CommandRefused(command="Jump", reason=str(exc)))
                return str(exc)
            note = f"jumped from line {runner.paused_line} to line {target}"
            command = Jump(target, code, note)
        return runner.send(command)

    def reload(self, text: str) -> Reload:
        runner = self._runner
        try:
            version = Version.of(text)
        except (SyntaxError, ValueError):
            return Reload("refused", f"the script does not parse ({syntax_problem(text)}); "
                                     "the old text stays in use")
        with runner._lock:
            if text == runner.text:
                self._pending = None
                return Reload("applied")
            if runner.state in ENDED and runner._finished.is_set():
                dropped = self._swap(version)
            elif (runner.state is RunState.PAUSED and runner.failure is None
                  and not runner._resuming and runner.paused_line is not None
                  and (command := self._landing_in(version, runner.paused_line)) is not None):
                dropped = self._swap(version)
                runner._resuming = True
                runner._commands.put(command)
            else:
                self._pending = version
                return Reload("pending", self._why_pending())
        self._publish(version, dropped)
        return Reload("applied")

    def _why_pending(self) -> str:
        runner = self._runner
        if runner.state is RunState.RUNNING:
            return "the script is running: the new text takes over at its next pause (F6)"
        if runner.failure is not None:
            return ("the script is paused on a failure: the new text takes over at the next "
                    "pause after r, k or F")
        if runner.state is RunState.PAUSED:
            return (f"paused inside a block or function (line {runner.paused_line}): the new "
                    "text takes over at the next pause on a top-level or subtest line, or when "
                    "the run ends")
        return "the new text takes over when the run has ended"

    # -- the worker thread -----------------------------------------------------------------------

    def run(self, code: CodeType, symbols: dict[str, object]) -> None:
        """Run `code`, then after each jump the code it asked for, in the same globals."""
        runner = self._runner
        self._landing = None
        while True:
            sys.settrace(runner._tracer.on_call)  # (an exception in a trace function unsets it)
            try:
                exec(code, symbols, None)  # noqa: S102 - running the test script is the job
                return
            except Jumped as jumped:
                if runner._ending is not None:
                    raise
                code = self._land(jumped.command)

    def _land(self, command: Jump) -> CodeType:
        """Pause where the jump lands (a run-to its line); say so in the driver log."""
        runner, tracer = self._runner, self._runner._tracer
        assert command.code is not None
        runner.driver.logger.log(f"──── {command.note} ────")
        tracer.cover(command.code, runner.model)
        tracer.mode, tracer.run_to = StepKind.RUN_TO, command.line
        self._landing = (command.line, command.reason)
        return command.code

    def at_stop(self, line: int, reason: str) -> str:
        """(at a stop of the tracer) The reason to show for it; but first a pending text takes
        over here if it can, by raising Jumped: the old text then never pauses again."""
        landing, self._landing = self._landing, None
        if landing is not None and reason == "run-to" and line == landing[0]:
            reason = landing[1]
        if self._pending is not None:
            self._take_over_at(line)
        return reason

    def _take_over_at(self, line: int) -> None:
        runner = self._runner
        with runner._lock:
            version = self._pending
            command = self._landing_in(version, line) if version is not None else None
            if version is None or command is None:
                return
            dropped = self._swap(version)
        self._publish(version, dropped)
        raise Jumped(command)

    def settle(self) -> None:
        """A run has ended: a text still waiting takes over for the next one."""
        runner = self._runner
        with runner._lock:
            version = self._pending
            if version is None:
                return
            dropped = self._swap(version)
        self._publish(version, dropped)

    # -- (with the runner's lock) ----------------------------------------------------------------

    def _landing_in(self, version: Version, line: int) -> Jump | None:
        """The jump that goes on from old `line`'s place in `version`, if one can land there."""
        for mapped in continuations(self._runner.text, version.text, line):
            note = f"script reloaded: going on at line {{}} (was line {line})"
            if version.model.breakpoint_line(mapped) is None:  # nothing left: the run ends
                return Jump(mapped, compile("", SCRIPT_FILENAME, "exec"), note.format(mapped),
                            "reload")
            try:
                target, code = compile_from(version.text, mapped)
            except JumpRefused:
                continue
            return Jump(target, code, note.format(target), "reload")
        return None

    def _swap(self, version: Version) -> tuple[int, ...]:
        """Make `version` the runner's text; returns the breakpoints dropped with their line."""
        runner = self._runner
        self._pending = None
        lines = LineMap(runner.text, version.text)
        runner.text, runner.model = version.text, version.model
        runner._code, runner._protected = version.code, version.protected
        runner._tracer.cover(version.code, version.model)
        runner._frames.text = version.text  # (the stack pane's source lines)
        breakpoints = runner.breakpoints
        moved, dropped = {}, []
        for line, breakpoint_ in sorted(breakpoints.items()):
            new = lines.exact(line)
            placed = version.model.breakpoint_line(new) if new is not None else None
            if placed is None or placed in moved:
                dropped.append(line)
                continue
            breakpoint_.line = placed
            moved[placed] = breakpoint_
        breakpoints.clear()
        breakpoints.update(moved)
        return tuple(dropped)

    def _publish(self, version: Version, dropped: tuple[int, ...]) -> None:
        self._runner.driver.bus.publish(ScriptReloaded(text=version.text, dropped=dropped))
