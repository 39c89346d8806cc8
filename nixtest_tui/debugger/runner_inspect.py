"""The runner's view into the paused script: its frames, completions, callable help, scopes.

A mixin of `ScriptRunner` (runner.py). Any thread may call these; the frames are read under
`PausedFrames.lock`, which every evaluation in them holds (frames.py says why)."""

from __future__ import annotations

import threading
from types import FrameType

from nixtest_tui.debugger.commands import RunState
from nixtest_tui.debugger.evaluate import CallableHelp, describe_callable, frame_scope
from nixtest_tui.debugger.frames import PausedFrames, Scope, StackEntry


class FrameInspection:
    state: RunState
    _frame: FrameType | None
    _frames: PausedFrames

    def completions(self, text: str) -> list[str]:
        return self._frames.completions(self._frame, text)

    def help_for(self, text: str) -> CallableHelp | None:
        """The callable being typed at the end of `text`, looked up in the frame the REPL
        evaluates in; None while an evaluation holds that frame (the REPL must not wait)."""
        if not self._frames.lock.acquire(blocking=False):
            return None
        try:
            frame = self.paused_frame
            return describe_callable(frame_scope(frame), text) if frame is not None else None
        finally:
            self._frames.lock.release()

    @property
    def frame_lock(self) -> threading.Lock:
        """Held by every evaluation in the paused frames (REPL, completions, panes)."""
        return self._frames.lock

    @property
    def paused_frame(self) -> FrameType | None:
        """The frame the REPL evaluates in: the one selected in the stack pane, else the
        innermost; None unless paused."""
        return self._frames.selected_frame(self._frame)

    def stack(self) -> list[StackEntry]:
        """The paused script's own frames, innermost first (empty unless paused)."""
        return self._frames.stack(self._frame)

    def select_frame(self, index: int) -> str:
        """Evaluate in stack frame `index` (0: innermost) until the next pause; "" or why not."""
        return self._frames.select(self._frame, index)

    def scope(self, index: int | None = None, show_all: bool = False,
              timeout: float = 5.0) -> Scope | None:
        """A copy of a paused frame's names (the selected frame by default); None unless
        paused, or while an evaluation holds the frame for longer than `timeout`."""
        paused = self._frame if self.state is RunState.PAUSED else None
        return self._frames.scope(paused, index, show_all, timeout)
