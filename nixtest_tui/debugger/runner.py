"""`ScriptRunner`: runs a test script in a worker thread under a cheap, script-only tracer.

Only frames whose code object belongs to the script (module body and the helpers it defines)
are ever traced, and those only while something needs line events (a breakpoint in that code,
a step, a pause request); the driver, the stdlib and site-packages never are. Failures pause
at the failing statement (see transform.py), where the user can evaluate Python in the frame
and then retry the statement, skip it, or let it fail.

Threads: every control method may be called from any thread (the UI's); the script, the
evaluations and therefore all machine calls run in the worker thread.
"""

from __future__ import annotations

import queue
import sys
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from types import CodeType, FrameType
from typing import Any

from nixtest_tui.debugger.evaluate import EvalResult, completions, evaluate_in
from nixtest_tui.debugger.model import ScriptModel
from nixtest_tui.debugger.transform import HOOK, make_retryable, protected_lines
from nixtest_tui.driver import cancel
from nixtest_tui.driver.driver import SCRIPT_FILENAME, Driver
from nixtest_tui.driver.events import (
    CommandFinished,
    CommandStarted,
    EvaluationFinished,
    PauseRequested,
    ScriptStateChanged,
    WaitFinished,
    WaitStarted,
)


class Action(StrEnum):
    """What to do with a failed statement."""

    RETRY = "retry"
    SKIP = "skip"
    FAIL = "raise"


@dataclass
class Breakpoint:
    line: int
    condition: str | None = None
    enabled: bool = True
    hits: int = 0


@dataclass
class _Evaluation:
    source: str
    done: threading.Event = field(default_factory=threading.Event)
    result: EvalResult | None = None


class _Restart(BaseException):
    """Unwinds the script for restart(); not an Exception, so scripts cannot catch it."""


class ScriptRunner:
    def __init__(self, driver: Driver, text: str | None = None,
                 pause_on_failure: bool = True) -> None:
        self.driver = driver
        self.text = driver.tests if text is None else text
        self.model = ScriptModel.parse(self.text)
        self.pause_on_failure = pause_on_failure
        self.breakpoints: dict[int, Breakpoint] = {}
        self.state = "idle"
        self.paused_line: int | None = None
        self.paused_reason = ""
        self.failure: BaseException | None = None
        self.error: BaseException | None = None
        self._code = make_retryable(self.text, SCRIPT_FILENAME)
        self._codes = _all_codes(self._code)
        self._protected = protected_lines(self.text)
        self._code_lines = {code: {line for _, _, line in code.co_lines() if line}
                            for code in self._codes}
        self._commands: queue.Queue[Any] = queue.Queue()
        self._mode: str | None = None  # into, over, out, run-to
        self._step_depth = 0
        self._run_to: int | None = None
        self._pause_requested = False
        self._restart: bool | None = None  # None: no restart; else: reboot machines?
        self._frame: FrameType | None = None
        self._thread: threading.Thread | None = None
        self._finished = threading.Event()
        self._busy: dict[str, str] = {}
        self._busy_watch = driver.bus.subscribe(CommandStarted, CommandFinished, WaitStarted,
                                                WaitFinished)

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._finished.clear()
        self._thread = threading.Thread(target=self._work, name="script-runner", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    @property
    def thread_id(self) -> int | None:
        return self._thread.ident if self._thread else None

    def _publish_state(self, state: str, line: int | None = None, reason: str = "",
                       error: str = "") -> None:
        self.state = state
        self.driver.bus.publish(ScriptStateChanged(state=state, line=line, reason=reason,
                                                   error=error))

    def _work(self) -> None:
        reboot: bool | None = False
        while reboot is not None:
            if reboot:
                for machine in self.driver.machines:
                    machine.release()
            reboot = self._run_once()
        self._finished.set()

    def _run_once(self) -> bool | None:
        """Run the script from the top; returns whether to run again (and reboot)."""
        symbols = self.driver.test_symbols()
        symbols[HOOK] = self
        self.error = None
        self._restart = None
        self._mode = None
        if self.thread_id is not None:
            cancel.clear(self.thread_id)
        self._publish_state("running")
        sys.settrace(self._on_call)
        try:
            exec(self._code, symbols, None)  # noqa: S102 - running the test script is the job
            self._publish_state("finished")
        except _Restart:
            return bool(self._restart)
        except BaseException as exc:  # the script's failure is the product here
            if self._restart is not None:  # a cancelled wait on the way to a restart
                return bool(self._restart)
            self.error = exc
            self._publish_state("failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            sys.settrace(None)
        return None

    # -- breakpoints and controls ----------------------------------------------------------------

    def add_breakpoint(self, line: int, condition: str | None = None) -> Breakpoint | None:
        """Set a breakpoint; a line that holds no statement moves to the next one."""
        target = self.model.breakpoint_line(line)
        if target is None:
            return None
        breakpoint_ = self.breakpoints.setdefault(target, Breakpoint(target))
        breakpoint_.condition = condition
        breakpoint_.enabled = True
        self._arm()
        return breakpoint_

    def remove_breakpoint(self, line: int) -> None:
        self.breakpoints.pop(line, None)

    def set_breakpoint_enabled(self, line: int, enabled: bool) -> None:
        if line in self.breakpoints:
            self.breakpoints[line].enabled = enabled
            self._arm()

    def continue_(self) -> None:
        self._resume(None)

    def step_into(self) -> None:
        self._resume("into")

    def step_over(self) -> None:
        self._resume("over")

    def step_out(self) -> None:
        self._resume("out")

    def run_to(self, line: int) -> None:
        self._run_to = self.model.breakpoint_line(line)
        self._resume("run-to")

    def resolve_failure(self, action: Action) -> None:
        self._commands.put(action)

    def pause(self) -> str:
        """Pause at the next statement; returns what the script is busy with, if anything."""
        self._pause_requested = True
        self._arm()
        busy = self._busy_description()
        self.driver.bus.publish(PauseRequested(busy=busy))
        return busy

    def cancel_wait(self) -> None:
        """Make the machine call the script is blocked in raise `Cancelled` (like a timeout)."""
        if self.thread_id is not None:
            cancel.request(self.thread_id)

    def restart(self, reboot: bool = False) -> None:
        """Run the script again from the top, with machines kept running or released."""
        if self.state in ("finished", "failed", "idle") and self._finished.is_set():
            if reboot:
                for machine in self.driver.machines:
                    machine.release()
            self.start()
            return
        self._restart = reboot
        if self.state == "paused":
            self._commands.put("restart")
            return
        self._pause_requested = True  # unwinds at the next script line
        self._arm()
        if self.thread_id is not None:  # and out of a machine call it may be blocked in
            cancel.request(self.thread_id, "restarting the script")

    def _resume(self, mode: str | None) -> None:
        self._commands.put(("resume", mode))

    # -- evaluation --------------------------------------------------------------------------------

    def evaluate(self, source: str, timeout: float | None = None) -> EvalResult:
        """Run `source` in the paused frame (in the worker thread); needs a paused script."""
        if self.state != "paused":
            return EvalResult(source, "", "the script is not paused")
        request = _Evaluation(source)
        self._commands.put(request)
        if not request.done.wait(timeout):
            return EvalResult(source, "", "the evaluation did not finish in time")
        assert request.result is not None
        return request.result

    def running_line(self) -> int | None:
        """The script line the worker is executing now, sampled without any tracing cost."""
        if self._thread is None or self._thread.ident is None:
            return None
        frame = sys._current_frames().get(self._thread.ident)
        while frame is not None and frame.f_code not in self._codes:
            frame = frame.f_back
        return frame.f_lineno if frame is not None else None

    def completions(self, text: str) -> list[str]:
        frame = self._frame
        return completions(frame, text) if frame is not None else []

    # -- tracer (worker thread) --------------------------------------------------------------------

    def _wants_lines(self, code: CodeType) -> bool:
        if self._mode is not None or self._pause_requested or self._restart is not None:
            return True
        lines = self._code_lines.get(code, set())
        return any(b.enabled and b.line in lines for b in self.breakpoints.values())

    def _on_call(self, frame: FrameType, event: str, arg: object) -> Any:
        if frame.f_code not in self._codes:
            return None
        return self._on_line if self._wants_lines(frame.f_code) else None

    def _arm(self) -> None:
        """Turn line events on in the script frames already running (from any thread)."""
        if self._thread is None or self._thread.ident is None:
            return
        frame = sys._current_frames().get(self._thread.ident)
        while frame is not None:
            if frame.f_code in self._codes and frame.f_trace is None:
                frame.f_trace = self._on_line
            frame = frame.f_back

    def _depth(self, frame: FrameType | None) -> int:
        depth = 0
        while frame is not None:
            depth += frame.f_code in self._codes
            frame = frame.f_back
        return depth

    def _on_line(self, frame: FrameType, event: str, arg: object) -> Any:
        if event == "line" and frame.f_code in self._codes:
            if self._restart is not None and self._pause_requested:
                self._pause_requested = False
                raise _Restart
            reason = self._stop_reason(frame)
            if reason:
                self._pause(frame, reason)
        # stop tracing this frame as soon as nothing needs its lines: continue runs at full speed
        return self._on_line if self._wants_lines(frame.f_code) else None

    def _stop_reason(self, frame: FrameType) -> str:
        line = frame.f_lineno
        if self._pause_requested and sys.exc_info()[1] is None:
            # (while an exception is being handled, on_failure's pause serves the request)
            self._pause_requested = False
            return "user"
        mode = self._mode
        if mode == "into":
            return "step"
        if mode == "over" and self._depth(frame) <= self._step_depth:
            return "step"
        if mode == "out" and self._depth(frame) < self._step_depth:
            return "step"
        if mode == "run-to" and line == self._run_to:
            return "run-to"
        breakpoint_ = self.breakpoints.get(line)
        if breakpoint_ and breakpoint_.enabled and self._condition_holds(breakpoint_, frame):
            breakpoint_.hits += 1
            return "breakpoint"
        return ""

    def _condition_holds(self, breakpoint_: Breakpoint, frame: FrameType) -> bool:
        if not breakpoint_.condition:
            return True
        try:
            return bool(eval(breakpoint_.condition, frame.f_globals, frame.f_locals))  # noqa: S307
        except Exception:
            return True  # a broken condition stops, so the user sees it

    def _pause(self, frame: FrameType, reason: str, error: BaseException | None = None
               ) -> Action | None:
        """Block the worker until a resume (or, for failures, a decision) arrives."""
        self._frame = frame
        self.paused_line = frame.f_lineno
        self.paused_reason = reason
        self._mode = None
        self._publish_state("paused", frame.f_lineno, reason,
                            f"{type(error).__name__}: {error}" if error else "")
        try:
            while True:
                command = self._commands.get()
                if isinstance(command, _Evaluation):
                    command.result = evaluate_in(frame, command.source)
                    self.driver.bus.publish(EvaluationFinished(
                        source=command.source, output=command.result.output,
                        error=command.result.error))
                    command.done.set()
                elif command == "restart":
                    self.state = "restarting"  # the new run announces itself
                    raise _Restart
                elif isinstance(command, Action):
                    if error is not None:
                        return command
                elif isinstance(command, tuple) and command[0] == "resume":
                    if error is not None:
                        return Action.FAIL  # resuming a failure means letting it fail
                    self._mode = command[1]
                    self._step_depth = self._depth(frame)
                    if self._mode is not None:
                        self._arm()
                    return None
        finally:
            self._frame = None
            self.paused_line = None
            if self.state == "paused":
                self._publish_state("running")

    # -- failures (called by the rewritten script, in the worker thread) ---------------------------

    def on_failure(self, error: BaseException, line: int) -> str:
        if (not self.pause_on_failure or not isinstance(error, Exception)
                or self._restart is not None or getattr(error, "__nixtest_resolved__", False)):
            return Action.FAIL.value
        frame = sys._getframe(1)
        caller = frame.f_back
        while caller is not None:  # a caller's try block may handle this on purpose
            if caller.f_code in self._codes and caller.f_lineno in self._protected:
                return Action.FAIL.value
            caller = caller.f_back
        self.failure = error
        self._pause_requested = False
        action = self._pause(frame, "failure", error) or Action.FAIL
        if action is Action.FAIL:
            error.__nixtest_resolved__ = True  # type: ignore[attr-defined]
        self.failure = None
        return action.value

    def _busy_description(self) -> str:
        for event in self._busy_watch.get_nowait():
            if isinstance(event, CommandStarted):
                self._busy[event.machine] = f"{event.machine}: `{event.command}`"
            elif isinstance(event, WaitStarted):
                self._busy[f"{event.machine}/wait"] = (
                    f"{event.machine}: waiting for {event.what} {event.target}")
            elif isinstance(event, CommandFinished):
                self._busy.pop(event.machine, None)
            elif isinstance(event, WaitFinished):
                self._busy.pop(f"{event.machine}/wait", None)
        return "; ".join(self._busy.values())


def _all_codes(code: CodeType) -> set[CodeType]:
    found, pending = set(), [code]
    while pending:
        current = pending.pop()
        found.add(current)
        pending.extend(c for c in current.co_consts if isinstance(c, CodeType))
    return found
