"""The script debugger engine: breakpoints, stepping, pause on failure, evaluation. UI-free."""

from nixtest_tui.debugger.commands import Action, RunState
from nixtest_tui.debugger.model import ScriptModel, Subtest
from nixtest_tui.debugger.runner import ScriptRunner
from nixtest_tui.debugger.tracer import Breakpoint

__all__ = ["Action", "Breakpoint", "RunState", "ScriptModel", "ScriptRunner", "Subtest"]
