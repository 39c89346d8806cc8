"""The focus model: which keys act where (written down in the README, "Keys and focus").

* F-keys and ctrl-keys act everywhere (a console in input mode is the one exception: it sends
  them to the guest, all but ctrl+q and Escape).
* Debugger letters (`c`, `n`, `s`, `o`, `p`, `x`, `r`, `k`, `F`) act only when the script,
  the machine list, the driver log, the failure bar or a console in scroll mode has focus.
  Anywhere else (the REPL, a filter box, the tab bar, the network table) a letter is the
  widget's own or nothing: typing Python can never step the script. `c` only continues a
  paused script (F5 also starts a run), so a key repeated past the end starts nothing. `q`
  quits from anywhere but a text input or a console in input mode.
* ctrl+t jumps to the REPL input, ctrl+g back to the script; Escape leaves any text input
  for the script.

Why a whitelist and not "everything but inputs": a key that moves the script is an action the
user cannot take back, so it must only fire where the user is plainly driving the debugger.
"""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.widget import Widget
from textual.widgets import Input, TabbedContent, TextArea

from nixtest_tui.widgets.console import SerialConsole
from nixtest_tui.widgets.driver_log import DriverLog
from nixtest_tui.widgets.failure_bar import FailureBar
from nixtest_tui.widgets.machines import MachineList
from nixtest_tui.widgets.script_pane import ScriptPane

GLOBAL_BINDINGS = [
    Binding("f5", "run", "Run/continue"),
    Binding("f6", "pause", "Pause"),
    Binding("f10", "step('over')", "Step over"),
    Binding("f11", "step('into')", "Step into"),
    Binding("shift+f11", "step('out')", "Step out"),
    Binding("ctrl+r", "restart", "Restart script"),
    Binding("f8", "insert_recorded", "Record to script", show=False),
    Binding("ctrl+t", "focus_repl", "REPL"),
    Binding("ctrl+g", "focus_script", "Script", show=False),
    Binding("escape", "leave_input", "Leave input", show=False),
    Binding("ctrl+q", "quit", "Quit", priority=True),
]

LETTERS = {
    "c": "continue", "p": "pause", "n": "step('over')", "s": "step('into')", "o": "step('out')",
    "x": "cancel_wait", "r": "resolve('retry')", "k": "resolve('skip')",
    "F": "resolve('raise')",
}
LETTER_BINDINGS = [Binding(key, f"letter({action!r})", action, show=False)
                   for key, action in LETTERS.items()]
LETTER_BINDINGS.append(Binding("q", "quit_key", "Quit"))

_LETTER_PANES = (ScriptPane, MachineList, DriverLog, FailureBar)


def typing(focused: Widget | None) -> bool:
    """Whether keys pressed now are text for an input (or for a guest's serial port)."""
    node: DOMNode | None = focused
    while node is not None:
        if isinstance(node, Input | TextArea):
            return True
        if isinstance(node, SerialConsole):
            return node.input_mode
        node = node.parent
    return False


def letters_active(focused: Widget | None) -> bool:
    """Whether a debugger letter pressed now is meant for the debugger."""
    node: DOMNode | None = focused
    while node is not None:
        if isinstance(node, Input | TextArea):
            return False
        if isinstance(node, SerialConsole):
            return not node.input_mode
        if isinstance(node, _LETTER_PANES):
            return True
        node = node.parent
    return False


class FocusModel(App[int]):
    """The app's half of the focus model: letter gating, REPL jumps, Escape from inputs."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "letter":
            return letters_active(self.focused)
        if action == "quit_key":
            return not typing(self.focused)
        if action == "leave_input":
            return isinstance(self.focused, Input | TextArea) and len(self.screen_stack) == 1
        return True

    async def action_letter(self, action: str) -> None:
        await self.run_action(action)

    async def action_quit_key(self) -> None:
        await self.run_action("quit")

    def action_focus_repl(self) -> None:
        self.query_one("#bottom", TabbedContent).active = "tab-repl"
        self.query_one("#repl-input", TextArea).focus()

    def action_focus_script(self) -> None:
        self.query_one(ScriptPane).focus()

    def action_leave_input(self) -> None:
        self.action_focus_script()
