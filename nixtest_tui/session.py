"""An interactive session: a Driver entered for a UI, with a ScriptRunner over its script.

UI-free (the TUI is one consumer): opening and closing block (VLANs start, machines are
released), so callers run them off their event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nixtest_tui.debugger import ScriptRunner
from nixtest_tui.debugger.evaluate import EvalResult
from nixtest_tui.driver.base import BaseMachine
from nixtest_tui.driver.config import DriverConfiguration
from nixtest_tui.driver.driver import Driver
from nixtest_tui.driver.events import EventBus
from nixtest_tui.driver.logger import CompositeLogger, EventLogger


class Session:
    def __init__(self, config: DriverConfiguration, out_dir: Path,
                 keep_machine_state: bool = False, tmp_dir: Path | None = None) -> None:
        self.config = config
        self.bus = EventBus()
        self.logger = CompositeLogger([EventLogger(self.bus)])
        self.driver = Driver(config, out_dir, self.logger, keep_machine_state, bus=self.bus,
                             interactive=True, tmp_dir=tmp_dir)
        self.driver.quiet_children = True
        self.script_text = self.driver.tests
        self.runner: ScriptRunner | None = None
        self.opened = False
        self._idle_namespace: dict[str, Any] | None = None

    def open(self) -> None:
        """Start the VLANs and create the machines (they boot lazily, on first use)."""
        self.driver.__enter__()
        self.opened = True
        self.runner = ScriptRunner(self.driver, self.script_text)

    def close(self) -> None:
        if self.opened:
            self.opened = False
            self.driver.__exit__(None, None, None)

    def machine(self, name: str) -> BaseMachine:
        for machine in self.driver.machines:
            if machine.name == name:
                return machine
        raise KeyError(name)

    def replace_script(self, text: str) -> None:
        """A new script text (recorded lines added): the next run uses it."""
        self.script_text = text
        self.runner = ScriptRunner(self.driver, text)

    def evaluate(self, source: str) -> EvalResult:
        """In the paused script's frame if paused, else in the test's global namespace."""
        if self.runner is not None and self.runner.state == "paused":
            return self.runner.evaluate(source)
        from nixtest_tui.debugger.evaluate import evaluate_in_namespace

        return evaluate_in_namespace(self.idle_namespace(), source)

    def completions(self, text: str) -> list[str]:
        if self.runner is not None and self.runner.state == "paused":
            return self.runner.completions(text)
        from nixtest_tui.debugger.evaluate import complete_in_namespace

        return complete_in_namespace(self.idle_namespace(), text)

    def idle_namespace(self) -> dict[str, Any]:
        if self._idle_namespace is None:
            self._idle_namespace = self.driver.test_symbols()
        return self._idle_namespace
