"""The runner's breakpoint controls: set, change and remove breakpoints; log points.

A mixin of `ScriptRunner` (runner.py), kept apart so that each file reads as one concern.
Breakpoints live in the tracer; any thread may change them, the worker thread sees the change
at its next line (`Tracer.arm`)."""

from __future__ import annotations

from nixtest_tui.debugger.breakpoint_rules import InvalidBreakpoint, apply_changes, checked_changes
from nixtest_tui.debugger.events import LogPointHit
from nixtest_tui.debugger.model import ScriptModel
from nixtest_tui.debugger.tracer import Breakpoint, Tracer
from nixtest_tui.driver.driver import Driver


class BreakpointControls:
    driver: Driver
    model: ScriptModel
    _tracer: Tracer

    @property
    def breakpoints(self) -> dict[int, Breakpoint]:
        return self._tracer.breakpoints

    def add_breakpoint(self, line: int, condition: str | None = None,
                       hit_condition: str | None = None, log_message: str | None = None
                       ) -> Breakpoint | None:
        """Set a breakpoint; a line that holds no statement moves to the next one. A condition
        or log message that cannot compile raises InvalidBreakpoint (a ValueError)."""
        changes = checked_changes(condition=condition, hit_condition=hit_condition,
                                  log_message=log_message, enabled=True)
        target = self.model.breakpoint_line(line)
        if target is None:
            return None
        breakpoint_ = self.breakpoints.setdefault(target, Breakpoint(target))
        apply_changes(breakpoint_, changes)
        self._tracer.arm()
        return breakpoint_

    def update_breakpoint(self, line: int, **changes: str | bool | None) -> str:
        """Change `enabled`, `condition`, `hit_condition` or `log_message`; "" or why not."""
        breakpoint_ = self.breakpoints.get(line)
        if breakpoint_ is None:
            return f"no breakpoint on line {line}"
        try:
            apply_changes(breakpoint_, checked_changes(**changes))
        except InvalidBreakpoint as exc:
            return str(exc)
        self._tracer.arm()
        return ""

    def remove_breakpoint(self, line: int) -> None:
        self.breakpoints.pop(line, None)

    def _log_point(self, breakpoint_: Breakpoint, message: str, failed: bool) -> None:
        """(worker thread) A log point's line ran: its message goes to the log, not a pause."""
        self.driver.logger.log(f"log point, line {breakpoint_.line}: {message}")
        self.driver.bus.publish(LogPointHit(line=breakpoint_.line, hits=breakpoint_.hits,
                                            message="" if failed else message,
                                            error=message if failed else ""))
