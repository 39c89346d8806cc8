"""An interactive session: a Driver entered for a UI, and the script runner over its script.

UI-free (the TUI is one consumer). The session owns the runner's life cycle: a replaced script
(recorded lines, a reload) ends the old runner cleanly, carries the breakpoints over and keeps
the same session working. Opening and closing block (VLANs start, machines are released), so
callers run them off their event loop; `close()` stops every machine even while the script
thread is stuck in a start that never completes.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from nixtest_tui.debugger import ScriptRunner
from nixtest_tui.debugger.evaluate import (
    CallableHelp,
    EvalResult,
    complete_in_namespace,
    describe_callable,
    evaluate_in_namespace,
)
from nixtest_tui.debugger.live_edit import Reload, syntax_problem
from nixtest_tui.driver.base import BaseMachine
from nixtest_tui.driver.config import DriverConfiguration
from nixtest_tui.driver.driver import Driver
from nixtest_tui.driver.events import EventBus
from nixtest_tui.driver.logger import CompositeLogger, EventLogger

STOP_SECONDS = 3.0
"""How long quitting waits for the script to unwind before it kills machines under it."""


class SessionError(Exception):
    """Something the user asked of the session cannot be done now; the message says why."""


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
        self._closing = threading.Lock()
        self._idle_namespace: dict[str, Any] | None = None
        self._disk_text = self.script_text  # the script file as last read or written
        self._script_file = threading.Lock()

    def open(self) -> None:
        """Start the VLANs and create the machines (they boot lazily, on first use)."""
        self.driver.__enter__()
        self.opened = True
        self.runner = ScriptRunner(self.driver, self.script_text)

    def close(self) -> None:
        """End the run and stop every machine and switch; safe to call twice, from any thread."""
        with self._closing:
            if not self.opened:
                return
            self.opened = False
            runner = self.runner
            if runner is not None and not runner.close(STOP_SECONDS):
                self._kill_unfinished_starts()  # what the script thread is stuck in
                runner.wait(STOP_SECONDS)
            self.driver.__exit__(None, None, None)

    def _kill_unfinished_starts(self) -> None:
        """A QEMU whose start has not completed has no pid yet, so `release()` would leave it
        running: kill such processes here, which also ends the start blocked on them."""
        for machine in [*self.driver.machines_qemu, *self.driver.created_machines]:
            process = machine.process
            if process is not None and machine.pid is None and process.poll() is None:
                process.kill()
                process.wait(5)
        for container in self.driver.machines_nspawn:
            container.release()

    def machine(self, name: str) -> BaseMachine:
        for machine in self.driver.machines:
            if machine.name == name:
                return machine
        raise KeyError(name)

    def require_runner(self) -> ScriptRunner:
        if self.runner is None:
            raise SessionError("the session is not open yet (the VLANs are starting)")
        return self.runner

    def replace_script(self, text: str, inserted_at: int | None = None, count: int = 0) -> bool:
        """A new script text for the next run; `count` lines were inserted before line
        `inserted_at`. The old runner is ended (its run too, if one was going on: its line
        numbers no longer match what is shown) and its breakpoints move with their lines.
        Returns whether a run was ended."""
        old = self.require_runner()
        was_active = old.state in ("running", "paused")
        if not old.close(STOP_SECONDS):
            raise SessionError("the script did not stop in time; the old text stays in use "
                               "(x cancels the wait it is blocked in, then try again)")
        self.script_text = text
        self.runner = ScriptRunner(self.driver, text, first_run=old.run_number + 1)
        for line, breakpoint_ in old.breakpoints.items():
            moved = line + count if inserted_at is not None and line >= inserted_at else line
            placed = self.runner.add_breakpoint(moved, breakpoint_.condition,
                                                breakpoint_.hit_condition,
                                                breakpoint_.log_message)
            if placed is not None:
                placed.enabled = breakpoint_.enabled
        return was_active

    # -- edit-and-continue (blocking file I/O: call these off the UI loop) ----------------------

    def script_file_changed(self) -> str | None:
        """The script file's text when it changed on disk since last seen, else None."""
        path = self.config.test_script
        if path is None:
            return None
        with self._script_file:
            try:
                text = Path(path).read_text()
            except (OSError, UnicodeDecodeError):
                return None  # (an editor replacing the file: the next poll sees it)
            if text == self._disk_text:
                return None
            self._disk_text = text
            return text

    def reload_script(self, text: str) -> Reload:
        """Lines not yet run use `text` (the runner says when: at once, or at the next pause)."""
        result = self.require_runner().reload(text)
        if result.status != "refused":
            self.script_text = text
        return result

    def save_script(self, text: str) -> Reload:
        """The editor's save: a text that parses is written to the script file and reloaded;
        one that does not is refused before the file is touched."""
        problem = syntax_problem(text)
        if problem:
            return Reload("refused", f"the script does not parse ({problem}): not saved")
        path = self.config.test_script
        with self._script_file:
            if path is not None:
                Path(path).write_text(text)
            self._disk_text = text
        return self.reload_script(text)

    def evaluate(self, source: str) -> EvalResult:
        """In the paused script's frame if paused, else in the test's global namespace."""
        if self.runner is not None and self.runner.state == "paused":
            return self.runner.evaluate(source)
        return evaluate_in_namespace(self.idle_namespace(), source, self.script_text)

    def completions(self, text: str) -> list[str]:
        if self.runner is not None and self.runner.state == "paused":
            return self.runner.completions(text)
        return complete_in_namespace(self.idle_namespace(), text)

    def help_for(self, text: str) -> CallableHelp | None:
        """The callable being typed at the end of `text`: its signature and docstring summary."""
        if self.runner is not None and self.runner.state == "paused":
            return self.runner.help_for(text)
        return describe_callable(self.idle_namespace(), text)

    def idle_namespace(self) -> dict[str, Any]:
        if self._idle_namespace is None:
            self._idle_namespace = self.driver.test_symbols()
        return self._idle_namespace
