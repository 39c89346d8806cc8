"""The app's script controls: keys and panes turned into runner commands, and the runner's
state shown back (sub-title, current line, failure bar).

Every command goes to the runner, which takes it only in a state that accepts it; a refused
command is said once in a notification, never queued for later.
"""

from __future__ import annotations

import time

from textual import events, on, work
from textual.app import App

from nixtest_tui.debugger import Action
from nixtest_tui.debugger.events import FailureSkipped, RunStarted, ScriptReloaded
from nixtest_tui.debugger.lines import LineMap
from nixtest_tui.debugger.live_edit import Reload
from nixtest_tui.debugger.model import ScriptModel
from nixtest_tui.debugger.recording import insert_recorded
from nixtest_tui.driver.events import Event, ScriptStateChanged
from nixtest_tui.session import Session, SessionError
from nixtest_tui.widgets.breakpoints import BreakpointsPane, breakpoint_marks
from nixtest_tui.widgets.failure_bar import FailureBar
from nixtest_tui.widgets.repl import ReplPane
from nixtest_tui.widgets.script_editor import ScriptEditor
from nixtest_tui.widgets.script_pane import ScriptPane
from nixtest_tui.widgets.stack import StackPane
from nixtest_tui.widgets.subtests import SubtestList
from nixtest_tui.widgets.variables import VariablesPane
from nixtest_tui.widgets.watches import WatchesPane

REFUSAL_REPEAT_SECONDS = 2.0
SCRIPT_POLL_SECONDS = 1.0
"""How often the script file is checked for edits made outside the TUI."""


class ScriptControls(App[int]):
    session: Session
    script_state = "idle"
    _skips = 0
    _last_refusal: tuple[str, float] = ("", 0.0)

    # -- the runner's events -------------------------------------------------------------------

    def script_event(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._skips = 0
        elif isinstance(event, FailureSkipped):
            self._skips += 1
        elif isinstance(event, ScriptStateChanged):
            self._show_state(event)
        elif isinstance(event, ScriptReloaded):
            self._show_reloaded(event)

    def _show_state(self, event: ScriptStateChanged) -> None:
        self.script_state = event.state
        pane, bar = self.query_one(ScriptPane), self.query_one(FailureBar)
        if event.state == "paused":
            failed = event.reason == "failure"
            pane.show_position(event.line, failed)
            if failed:
                bar.show_failure(event.line, event.error)
            self.sub_title = f"paused at line {event.line} ({event.reason})"
            return
        bar.hide()
        pane.show_position(None)
        state = event.state
        if state in ("finished", "failed") and self._skips:
            state += f" with {self._skips} skipped failure{'s' if self._skips > 1 else ''}"
        if state == "stopped":
            state = "stopped: F5 runs the script from the top"
        self.sub_title = state + (f": {event.error}" if event.error else "")

    def sample_running_line(self) -> None:
        runner, panes = self.session.runner, self.query(ScriptPane)
        if runner is not None and self.script_state == "running" and panes:
            panes.first().show_position(runner.running_line())

    def _refused(self, reason: str) -> None:
        """Say why a command was dropped; a burst of the same key says it once."""
        last, when = self._last_refusal
        now = time.monotonic()
        if reason and (reason != last or now - when > REFUSAL_REPEAT_SECONDS):
            self.notify(reason, timeout=3)
        if reason:
            self._last_refusal = (reason, now)

    # -- actions ---------------------------------------------------------------------------------

    def action_run(self) -> None:
        """F5 means what the screen shows: continue while it shows a run (a repeated key
        arriving after the end is refused, not a new run), start once it shows the end."""
        runner = self.session.runner
        if runner is None:
            return
        if self.script_state in ("paused", "running"):
            self._refused(runner.continue_())
        else:
            self._refused(runner.start())

    def action_continue(self) -> None:
        """`c`: continue a paused script, nothing else (F5 also starts a run)."""
        if self.session.runner is not None:
            self._refused(self.session.runner.continue_())

    def action_step(self, kind: str) -> None:
        runner = self.session.runner
        if runner is None:
            return
        if runner.state == "paused":
            step = {"over": runner.step_over, "into": runner.step_into, "out": runner.step_out}
            self._refused(step[kind]())
        elif runner.state == "idle":  # never run yet: a step starts at the first statement
            self._refused(runner.start(pause_at_first=True))
        elif runner.state == "running":
            self._refused("the script is running (F6 pauses it)")
        else:  # a key of the last run's rhythm must not start a new one
            self._refused("the run has ended: F5 or ctrl+r runs the script again")

    def action_pause(self) -> None:
        runner = self.session.runner
        if runner is not None and runner.state == "running":
            busy = runner.pause()
            if busy:
                self.notify(f"pauses after: {busy}. x cancels that wait.", timeout=6)

    def action_cancel_wait(self) -> None:
        if self.session.runner is not None:
            self.session.runner.cancel_wait()

    def action_resolve(self, action: str) -> None:
        if self.session.runner is not None:
            self._refused(self.session.runner.resolve_failure(Action(action)))

    def action_restart(self) -> None:
        if self.session.runner is not None:
            self._refused(self.session.runner.restart())

    def action_insert_recorded(self) -> None:
        repl, pane = self.query_one(ReplPane), self.query_one(ScriptPane)
        if not repl.recorded:
            self.notify("nothing recorded: lines that succeed in the REPL are kept for this")
            return
        at, recorded = pane.cursor_line, list(repl.recorded)
        self.replace_script(insert_recorded(pane.text, at, recorded), at, recorded)

    @work(thread=True, group="script", exit_on_error=False, description="record to script")
    def replace_script(self, text: str, at: int, recorded: list[str]) -> None:
        """Off the UI loop: ending the old run may take a moment."""
        try:
            ended = self.session.replace_script(text, inserted_at=at, count=len(recorded))
        except SessionError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.call_from_thread(self._script_replaced, text, at, recorded, ended)

    def _script_replaced(self, text: str, at: int, recorded: list[str], ended: bool) -> None:
        repl, pane = self.query_one(ReplPane), self.query_one(ScriptPane)
        del repl.recorded[:len(recorded)]
        pane.set_text(text)
        runner = self.session.require_runner()
        pane.set_breakpoints(set(runner.breakpoints), breakpoint_marks(runner.breakpoints))
        self.query_one(SubtestList).reset(runner.model.subtests)
        count = len(recorded)
        ended_note = "; the paused run was ended (machines keep running)" if ended else ""
        self.notify(f"{count} recorded line{'s' if count > 1 else ''} inserted at line {at}"
                    f"{ended_note}. F5 runs the script with them.", timeout=8)

    @on(ScriptPane.BreakpointToggled)
    def toggle_breakpoint(self, event: ScriptPane.BreakpointToggled) -> None:
        runner = self.session.runner
        if runner is None:
            return
        if event.line in runner.breakpoints:
            runner.remove_breakpoint(event.line)
        else:
            placed = runner.add_breakpoint(event.line)
            if placed is not None and placed.line != event.line:
                self.notify(f"no statement on line {event.line}: breakpoint on {placed.line}")
        event.pane.set_breakpoints(set(runner.breakpoints), breakpoint_marks(runner.breakpoints))
        self.query_one(BreakpointsPane).sync()

    @on(ScriptPane.RunToLine)
    def run_to_line(self, event: ScriptPane.RunToLine) -> None:
        if self.session.runner is not None:
            self._refused(self.session.runner.run_to(event.line))

    @on(FailureBar.Chosen)
    def failure_chosen(self, event: FailureBar.Chosen) -> None:
        self.action_resolve(event.action)

    @on(StackPane.FrameSelected)
    def frame_selected(self, event: StackPane.FrameSelected) -> None:
        """The stack pane chose a frame (and told the runner): show where it is, and what."""
        runner = self.session.runner
        failed = event.index == 0 and runner is not None and runner.paused_reason == "failure"
        self.query_one(ScriptPane).show_position(event.line, failed)
        self.query_one(VariablesPane).show_frame(event.index)
        self.query_one(WatchesPane).frame_changed()

    # -- run from here, edit-and-continue ---------------------------------------------------------

    def action_jump_here(self) -> None:
        """(the command palette's) Run from the script pane's cursor line."""
        self.query_one(ScriptPane).action_jump_to_cursor()

    def action_edit_script(self) -> None:
        self.query_one(ScriptPane).action_edit()

    @on(ScriptPane.JumpToLine)
    def jump_to_line(self, event: ScriptPane.JumpToLine) -> None:
        if self.session.runner is not None:
            self._refused(self.session.runner.jump(event.line))

    @on(ScriptPane.EditRequested)
    def edit_script(self) -> None:
        pane = self.query_one(ScriptPane)
        name = self.session.config.test_script.name
        self.push_screen(ScriptEditor(pane.text, name, pane.cursor_line))

    @on(ScriptEditor.Save)
    @work(thread=True, group="script", exit_on_error=False, description="saving the script")
    def save_script(self, event: ScriptEditor.Save) -> None:
        """Off the UI loop (a file write); the editor closes only once the text was taken."""
        try:
            result = self.session.save_script(event.text)
        except (OSError, SessionError) as exc:
            result = Reload("refused", f"not saved: {exc}")
        self.call_from_thread(self._saved, event.editor, result)

    def _saved(self, editor: ScriptEditor, result: Reload) -> None:
        self._reload_answered(result, "saved")
        if result.status != "refused" and editor.is_attached:
            editor.dismiss(None)

    @on(events.Mount)
    def watch_script_file(self) -> None:
        self.set_interval(SCRIPT_POLL_SECONDS, self._poll_script_file)

    def _poll_script_file(self) -> None:
        busy = any(w.group == "script-file" and not w.is_finished for w in self.workers)
        if self.session.runner is not None and not busy:
            self.reload_from_disk()

    @work(thread=True, group="script-file", exit_on_error=False, description="script reload")
    def reload_from_disk(self) -> None:
        text = self.session.script_file_changed()
        if text is not None:
            result = self.session.reload_script(text)
            self.call_from_thread(self._reload_answered, result, "changed on disk")

    def _reload_answered(self, result: Reload, how: str) -> None:
        name = self.session.config.test_script.name
        if result.status == "refused":
            self.notify(f"{name}: {result.message}", severity="error", timeout=10)
        elif result.status == "pending":
            self.notify(f"{name} {how}: {result.message}", timeout=8)
        else:
            self.notify(f"{name} {how}: reloaded", timeout=3)

    def _show_reloaded(self, event: ScriptReloaded) -> None:
        """The runner took a new text: the pane shows it, the cursor and breakpoints moved
        with their lines (a pause at the new place follows, when a run was paused)."""
        pane, runner = self.query_one(ScriptPane), self.session.runner
        cursor = LineMap(pane.text, event.text).nearest(pane.cursor_line)
        pane.set_text(event.text)
        pane.cursor_line = max(1, min(cursor, len(pane.lines)))
        if runner is not None:
            pane.set_breakpoints(set(runner.breakpoints), breakpoint_marks(runner.breakpoints))
            self.query_one(SubtestList).relocate(ScriptModel.parse(event.text).subtests)
        self.query_one(BreakpointsPane).sync(force=True)
        if event.dropped:
            lines = ", ".join(str(line) for line in event.dropped)
            self.notify(f"breakpoint{'s' if len(event.dropped) > 1 else ''} on deleted "
                        f"line{'s' if len(event.dropped) > 1 else ''} {lines} removed",
                        severity="warning", timeout=8)
