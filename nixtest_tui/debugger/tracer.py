"""Line tracing of the script's own frames, and the rules for where a run stops.

Only code objects compiled from the script are ever traced, and those only while something
needs line events (a breakpoint in that code, a step, a pause or an unwind request), so the
driver, the stdlib and site-packages run at full speed. The stop rules live here, apart from the
runner's life cycle, because they are the part that needs reading twice: stepping depth, and
the `with` exit that Python reports on the `with` line again (a step out of a helper called
from the last line of a `with` block must not stop "back" on the `with` line).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

from nixtest_tui.debugger.breakpoint_rules import Breakpoint
from nixtest_tui.debugger.commands import StepKind
from nixtest_tui.debugger.model import ScriptModel

__all__ = ["Breakpoint", "Tracer", "Unwind"]


class Unwind(BaseException):
    """Raised into the script to end a run (restart, stop); scripts cannot catch it."""


class Tracer:
    """The trace functions (`on_call` for sys.settrace) and the state they consult."""

    def __init__(self, code: CodeType, model: ScriptModel,
                 on_stop: Callable[[FrameType, str], None],
                 on_log: Callable[[Breakpoint, str, bool], None] | None = None) -> None:
        self.codes = _all_codes(code)
        self.model = model
        self.breakpoints: dict[int, Breakpoint] = {}
        self.mode: StepKind | None = None
        self.step_depth = 0
        self.run_to: int | None = None
        self.pause_requested = False
        self.unwind = False
        self.thread_ident: int | None = None
        self._on_stop = on_stop
        self._on_log = on_log
        self._code_lines = {c: {line for _, _, line in c.co_lines() if line} for c in self.codes}
        self._with_exits = {c: _with_exit_offsets(c, model.with_blocks) for c in self.codes}

    def reset(self) -> None:
        """A new run: nothing from the last one (a step, a pause request) carries over."""
        self.mode, self.run_to, self.pause_requested, self.unwind = None, None, False, False
        for breakpoint_ in self.breakpoints.values():  # "from the 5th hit on" counts per run
            breakpoint_.hits, breakpoint_.error = 0, ""

    def resume(self, kind: StepKind | None, frame: FrameType, line: int | None = None) -> None:
        self.mode = kind
        self.step_depth = self.depth(frame)
        self.run_to = self.model.breakpoint_line(line) if line is not None else None
        if kind is not None:
            self.arm()

    # -- what gets traced ------------------------------------------------------------------------

    def wants_lines(self, code: CodeType) -> bool:
        if self.mode is not None or self.pause_requested or self.unwind:
            return True
        lines = self._code_lines.get(code, set())
        return any(b.enabled and b.line in lines for b in self.breakpoints.values())

    def on_call(self, frame: FrameType, event: str, arg: object) -> Any:
        if frame.f_code not in self.codes:
            return None
        return self.on_line if self.wants_lines(frame.f_code) else None

    def arm(self) -> None:
        """Turn line events on in the script frames already running (from any thread)."""
        frame = sys._current_frames().get(self.thread_ident) if self.thread_ident else None
        while frame is not None:
            if frame.f_code in self.codes and frame.f_trace is None:
                frame.f_trace = self.on_line
            frame = frame.f_back

    def cover(self, code: CodeType, model: ScriptModel) -> None:
        """Trace `code` too: a jump's code, or a reloaded text's (whose `model` replaces ours)."""
        self.model = model
        for found in _all_codes(code):
            self._code_lines[found] = {line for _, _, line in found.co_lines() if line}
            self._with_exits[found] = _with_exit_offsets(found, model.with_blocks)
            self.codes.add(found)

    def depth(self, frame: FrameType | None) -> int:
        depth = 0
        while frame is not None:
            depth += frame.f_code in self.codes
            frame = frame.f_back
        return depth

    def innermost_line(self) -> int | None:
        """The script line the worker executes now, sampled without any tracing cost."""
        frame = sys._current_frames().get(self.thread_ident) if self.thread_ident else None
        while frame is not None and frame.f_code not in self.codes:
            frame = frame.f_back
        return frame.f_lineno if frame is not None else None

    # -- where to stop ---------------------------------------------------------------------------

    def on_line(self, frame: FrameType, event: str, arg: object) -> Any:
        if event == "line" and frame.f_code in self.codes:
            if self.unwind:
                self.unwind = False
                raise Unwind
            reason = self.stop_reason(frame)
            if reason:
                self._on_stop(frame, reason)
        # stop tracing this frame as soon as nothing needs its lines: continue runs at full speed
        return self.on_line if self.wants_lines(frame.f_code) else None

    def stop_reason(self, frame: FrameType) -> str:
        if self._is_with_exit(frame):
            return ""
        if self.pause_requested and sys.exc_info()[1] is None:
            # (while an exception is being handled, on_failure's pause serves the request)
            self.pause_requested = False
            return "user"
        if self._step_done(frame):
            return "run-to" if self.mode is StepKind.RUN_TO else "step"
        breakpoint_ = self.breakpoints.get(frame.f_lineno)
        if breakpoint_ is None or not breakpoint_.enabled:
            return ""
        visit = breakpoint_.visit(frame)
        if visit.log is not None and self._on_log is not None:
            self._on_log(breakpoint_, visit.log, visit.failed)
        return visit.stop

    def _step_done(self, frame: FrameType) -> bool:
        mode = self.mode
        if mode is StepKind.INTO:
            return True
        if mode is StepKind.OVER:
            return self.depth(frame) <= self.step_depth
        if mode is StepKind.OUT:
            return self.depth(frame) < self.step_depth
        return mode is StepKind.RUN_TO and frame.f_lineno == self.run_to

    def _is_with_exit(self, frame: FrameType) -> bool:
        threshold = self._with_exits[frame.f_code].get(frame.f_lineno)
        return threshold is not None and frame.f_lasti >= threshold


def _with_exit_offsets(code: CodeType, blocks: tuple[tuple[int, int], ...]) -> dict[int, int]:
    """Per `with` header line in `code`: the bytecode offset of its body's first instruction.

    Python reports the block's exit (`__exit__`) as a new event on the header line; that event
    comes from an instruction past the body, which is how it is told apart from the entry.
    """
    ranges = [(start, line) for start, _, line in code.co_lines() if line]
    offsets: dict[int, int] = {}
    for header, end in blocks:
        body = [start for start, line in ranges if header < line <= end]
        if body and any(line == header for _, line in ranges):
            offsets[header] = min(body)
    return offsets


def _all_codes(code: CodeType) -> set[CodeType]:
    found, pending = set(), [code]
    while pending:
        current = pending.pop()
        found.add(current)
        pending.extend(c for c in current.co_consts if isinstance(c, CodeType))
    return found
