"""The script debugger engine: breakpoints, stepping, pause on failure, evaluation. UI-free."""

from nixtest_tui.debugger.model import ScriptModel, Subtest
from nixtest_tui.debugger.runner import Action, Breakpoint, ScriptRunner

__all__ = ["Action", "Breakpoint", "ScriptModel", "ScriptRunner", "Subtest"]
