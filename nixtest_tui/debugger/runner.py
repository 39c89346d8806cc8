"""`ScriptRunner`: runs a test script in a worker thread, under the debugger.

The runner owns one script text and its life cycle: typed states (`RunState`), typed commands
(`commands.py`), each checked against the state when it arrives. Commands still queued when
the script pauses, finishes or restarts are dropped, never replayed into the next pause or run,
so a burst of keys cannot make a later run skip a breakpoint. Failures pause at the failing
statement (see transform.py), where the user evaluates Python in the frame and then retries
the statement, skips it (which is recorded, logged and published: a skip is not a pass), or
lets it fail.

Threads: every control method may be called from any thread (the UI's); the script, the
evaluations and therefore all machine calls run in the worker thread.
"""

from __future__ import annotations

import queue
import sys
import threading
from types import FrameType

from nixtest_tui.debugger.breakpoint_rules import InvalidBreakpoint
from nixtest_tui.debugger.busy import BusyWatch
from nixtest_tui.debugger.commands import (
    ENDED,
    Action,
    Command,
    Continue,
    Evaluate,
    Jump,
    Resolve,
    Restart,
    RunState,
    Step,
    StepKind,
    Stop,
    refusal,
)
from nixtest_tui.debugger.evaluate import (
    EvalResult,
    evaluate_in,
)
from nixtest_tui.debugger.events import CommandRefused, FailureSkipped, RunStarted
from nixtest_tui.debugger.frames import PausedFrames
from nixtest_tui.debugger.jump import Jumped
from nixtest_tui.debugger.live_edit import LiveEdit, Reload
from nixtest_tui.debugger.model import ScriptModel
from nixtest_tui.debugger.runner_breakpoints import BreakpointControls
from nixtest_tui.debugger.runner_inspect import FrameInspection
from nixtest_tui.debugger.tracer import Breakpoint, Tracer, Unwind
from nixtest_tui.debugger.transform import HOOK, make_retryable, protected_lines
from nixtest_tui.driver import cancel
from nixtest_tui.driver.driver import SCRIPT_FILENAME, Driver
from nixtest_tui.driver.events import EvaluationFinished, PauseRequested, ScriptStateChanged

__all__ = ["Action", "Breakpoint", "InvalidBreakpoint", "RunState", "ScriptRunner"]

NOT_PAUSED = "the script is no longer paused"
ENDING_SECONDS = 10.0  # how long a restart waits for an ended run's thread to return


class ScriptRunner(BreakpointControls, FrameInspection):
    def __init__(self, driver: Driver, text: str | None = None,
                 pause_on_failure: bool = True, first_run: int = 1) -> None:
        self.driver = driver
        self.text = driver.tests if text is None else text
        self.model = ScriptModel.parse(self.text)
        self.pause_on_failure = pause_on_failure
        self.state = RunState.IDLE
        self.paused_line: int | None = None
        self.paused_reason = ""
        self.failure: BaseException | None = None
        self.error: BaseException | None = None
        self.skipped: list[FailureSkipped] = []
        self.run_number = first_run - 1
        self._code = make_retryable(self.text, SCRIPT_FILENAME)
        self._protected = protected_lines(self.text)
        self._tracer = Tracer(self._code, self.model, self._stop_at, self._log_point)
        self._lock = threading.Lock()
        self._commands: queue.Queue[Command] = queue.Queue()
        self._resuming = False
        self._ending: Restart | Stop | None = None
        self._frame: FrameType | None = None
        self._frames = PausedFrames(self._tracer.codes, self.text, driver.test_symbols)
        self._thread: threading.Thread | None = None
        self._finished = threading.Event()
        self._finished.set()
        self._busy = BusyWatch(driver.bus)
        self._live = LiveEdit(self)  # run from here, edit-and-continue

    @property
    def thread_id(self) -> int | None:
        return self._thread.ident if self._thread else None

    # -- life cycle ------------------------------------------------------------------------------

    def start(self, pause_at_first: bool = False, reboot: bool = False) -> str:
        """Run the script from the top; "" or why not (a run is going on)."""
        with self._lock:
            if self.state not in ENDED or not self._finished.is_set():
                return "the script is already running"
            self._finished.clear()
            self._prepare_run(pause_at_first)
            self.state = RunState.RUNNING  # at once, so that a stop or a second start sees it
            self._thread = threading.Thread(target=self._work, args=(reboot,),
                                            name="script-runner", daemon=True)
            self._thread.start()
        return ""

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def stop(self, timeout: float | None = None) -> bool:
        """End the run (paused or running); True once the worker thread has returned."""
        self.send(Stop())
        return self._finished.wait(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Stop, and leave the bus: nothing of this runner stays subscribed."""
        stopped = self.stop(timeout)
        self._busy.close()
        return stopped

    def _work(self, reboot: bool) -> None:
        self._tracer.thread_ident = threading.get_ident()
        try:
            while True:
                if reboot:
                    for machine in self.driver.machines:
                        machine.release()
                again = self._run_once()
                self._live.settle()  # (a reloaded text waiting for the run's end)
                if again is None:
                    return
                reboot = again.reboot
                with self._lock:
                    self._prepare_run(pause_at_first=False)
        finally:
            self._finished.set()

    def _run_once(self) -> Restart | None:
        """One run from the top; returns the Restart that ended it, if one did."""
        self._begin_run()
        sys.settrace(self._tracer.on_call)
        try:
            self._live.run(self._code, self._symbols())  # the script, and any jumps in it
            self._set_state(RunState.FINISHED)
        except BaseException as exc:  # the script's failure is the product here
            ending = self._ending
            if isinstance(ending, Restart):
                return ending
            if ending is not None or isinstance(exc, Unwind):
                self._set_state(RunState.STOPPED)
            else:
                self.error = exc
                self._set_state(RunState.FAILED, error=f"{type(exc).__name__}: {exc}")
        finally:
            sys.settrace(None)
        return None

    def _prepare_run(self, pause_at_first: bool) -> None:
        """(with the lock) Nothing of the last run carries over: no step, no pause request."""
        self.error, self.failure, self._ending = None, None, None
        self.skipped = []
        self._tracer.reset()
        self._tracer.pause_requested = pause_at_first

    def _begin_run(self) -> None:
        self.run_number += 1
        if self._ending is None:  # (a stop that came before the first line stays pending)
            cancel.clear(threading.get_ident())
        if self.run_number > 1:
            self.driver.logger.log(f"──── run {self.run_number}: the script from the top ────")
        self.driver.bus.publish(RunStarted(run=self.run_number))
        self._set_state(RunState.RUNNING)

    def _symbols(self) -> dict[str, object]:
        symbols = self.driver.test_symbols()
        symbols[HOOK] = self
        return symbols

    def _set_state(self, state: RunState, line: int | None = None, reason: str = "",
                   error: str = "") -> None:
        """Enter `state`; commands still queued belong to the state left, and are dropped."""
        with self._lock:
            self._drop_pending()
            self.state = state
            self._resuming = False
        self.driver.bus.publish(ScriptStateChanged(state=state, line=line, reason=reason,
                                                   error=error))

    def _drop_pending(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            if isinstance(command, Evaluate):
                command.answer(EvalResult(command.source, "", NOT_PAUSED))

    # -- commands --------------------------------------------------------------------------------

    def send(self, command: Command) -> str:
        """Take `command` if the current state accepts it; "" or the reason it was dropped."""
        with self._lock:
            reason = refusal(command, self.state, self.failure is not None, self._resuming)
            if reason:
                if isinstance(command, Evaluate):
                    command.answer(EvalResult(command.source, "", reason))
                self.driver.bus.publish(CommandRefused(command=type(command).__name__,
                                                       reason=reason))
                return reason
            if isinstance(command, Restart | Stop):
                return self._end_run(command)
            if not isinstance(command, Evaluate):
                self._resuming = True
            self._commands.put(command)
            return ""

    def _end_run(self, command: Restart | Stop) -> str:
        """(with the lock) Unwind the run in whatever state it is in."""
        if self.state in ENDED:  # (its thread may still be returning)
            if isinstance(command, Restart):
                threading.Thread(target=self._start_when_ended, args=(command.reboot,),
                                 name="script-restart", daemon=True).start()
            return ""
        self._ending = command
        self._resuming = True
        if self.state is RunState.PAUSED:
            self._commands.put(command)
            return ""
        self._tracer.unwind = True  # at the next script line
        self._tracer.arm()
        if self.thread_id is not None:  # and out of a machine call it may be blocked in
            cancel.request(self.thread_id, "the run was ended by the user")
        return ""

    def _start_when_ended(self, reboot: bool) -> None:
        self._finished.wait(ENDING_SECONDS)
        self.start(reboot=reboot)

    def continue_(self) -> str:
        return self.send(Continue())

    def step_into(self) -> str:
        return self.send(Step(StepKind.INTO))

    def step_over(self) -> str:
        return self.send(Step(StepKind.OVER))

    def step_out(self) -> str:
        return self.send(Step(StepKind.OUT))

    def run_to(self, line: int) -> str:
        return self.send(Step(StepKind.RUN_TO, line))

    def jump(self, line: int) -> str:
        """Go on from `line` (run from here, where the run pauses again); "" or why not."""
        return self._live.jump(line)

    def reload(self, text: str) -> Reload:
        """A new script text: lines not yet run use it (live_edit.py says when)."""
        return self._live.reload(text)

    def resolve_failure(self, action: Action) -> str:
        return self.send(Resolve(action))

    def restart(self, reboot: bool = False) -> str:
        return self.send(Restart(reboot))

    def pause(self) -> str:
        """Pause at the next statement; returns what the script is busy with, if anything."""
        if self.state is not RunState.RUNNING:
            return ""
        self._tracer.pause_requested = True
        self._tracer.arm()
        busy = self._busy.describe()
        self.driver.bus.publish(PauseRequested(busy=busy))
        return busy

    def cancel_wait(self) -> None:
        """Make the machine call the script is blocked in raise `Cancelled` (like a timeout)."""
        if self.state is RunState.RUNNING and self.thread_id is not None:
            cancel.request(self.thread_id)

    # -- evaluation ------------------------------------------------------------------------------

    def evaluate(self, source: str, timeout: float | None = None) -> EvalResult:
        """Run `source` in the paused frame (in the worker thread); needs a paused script."""
        request = Evaluate(source)
        if self.send(request):
            assert request.result is not None
            return request.result
        if not request.done.wait(timeout):
            return EvalResult(source, "", "the evaluation did not finish in time")
        assert request.result is not None
        return request.result

    def running_line(self) -> int | None:
        return self._tracer.innermost_line()

    # -- pausing (worker thread) -----------------------------------------------------------------

    def _stop_at(self, frame: FrameType, reason: str) -> None:
        self._pause(frame, self._live.at_stop(frame.f_lineno, reason))

    def _pause(self, frame: FrameType, reason: str, error: BaseException | None = None
               ) -> Action | None:
        """Block the worker until a resume (or, for failures, a decision) arrives."""
        self._frame, self.paused_line, self.paused_reason = frame, frame.f_lineno, reason
        self._frames.selected = 0  # each pause evaluates in its innermost frame first
        self._tracer.mode = None
        self._set_state(RunState.PAUSED, frame.f_lineno, reason,
                        f"{type(error).__name__}: {error}" if error else "")
        try:
            while True:
                command = self._commands.get()
                if isinstance(command, Evaluate):
                    self._evaluate_now(frame, command)
                elif isinstance(command, Restart | Stop):
                    raise Unwind
                elif isinstance(command, Resolve):
                    return command.action
                elif isinstance(command, Jump):
                    raise Jumped(command)
                else:
                    step = command.kind if isinstance(command, Step) else None
                    line = command.line if isinstance(command, Step) else None
                    self._tracer.resume(step, frame, line)
                    return None
        finally:
            self._frame, self.paused_line = None, None
            if self._ending is None:
                self._set_state(RunState.RUNNING)

    def _evaluate_now(self, frame: FrameType, command: Evaluate) -> None:
        with self._frames.lock:  # (the write-back goes to the frame selected in the stack)
            result = evaluate_in(self.paused_frame or frame, command.source, self.text)
        self.driver.bus.publish(EvaluationFinished(source=command.source, output=result.output,
                                                   error=result.error))
        command.answer(result)

    # -- failures (called by the rewritten script, in the worker thread) -------------------------

    def on_failure(self, error: BaseException, line: int) -> str:
        if (not self.pause_on_failure or not isinstance(error, Exception)
                or self._ending is not None or getattr(error, "__nixtest_resolved__", False)
                or threading.get_ident() != self._tracer.thread_ident):  # (a watch's thread)
            return Action.FAIL.value
        frame = sys._getframe(1)
        if self._handled_by_caller(frame):
            return Action.FAIL.value
        self.failure = error
        self._tracer.pause_requested = False
        try:
            action = self._pause(frame, "failure", error) or Action.FAIL
        finally:
            self.failure = None
        if action is Action.SKIP:
            self._record_skip(line, error)
        elif action is Action.FAIL:
            error.__nixtest_resolved__ = True  # type: ignore[attr-defined]
        return action.value

    def _handled_by_caller(self, frame: FrameType) -> bool:
        """A caller's try block (or a swallowing `with`) may handle this failure on purpose."""
        caller = frame.f_back
        while caller is not None:
            if caller.f_code in self._tracer.codes and caller.f_lineno in self._protected:
                return True
            caller = caller.f_back
        return False

    def _record_skip(self, line: int, error: BaseException) -> None:
        """A skipped failure is not a pass: say so in the log, the events and the result."""
        message = str(error).strip().splitlines()
        described = type(error).__name__ + (f": {message[0]}" if message else "")
        statement = self.model.statement_at(line)
        skipped = FailureSkipped(line=line, statement=statement, error=described)
        self.skipped.append(skipped)
        self.driver.logger.log_test_error(f"skipped by the user: {statement} ({described})")
        self.driver.bus.publish(skipped)
