"""The shell tab: a shell per machine, each line run on the machine through the backdoor.

NixOS test VMs run no getty on the serial console (nothing may disturb the backdoor's stderr
there), so typing into a console answers nothing. Here each line goes through
`driver.shell_line`, which runs it as a job the user can cancel: ctrl+c kills the guest
command and leaves the backdoor usable. Each machine keeps its own shell (directory,
history, output) while another is shown. A line runs in a thread worker: the machine call
blocks for as long as the line runs.

The input is a text input, so the focus model keeps every letter typed here away from the
debugger; Escape leaves it for the script, as everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, Input, RichLog, Select, Static

from nixtest_tui.driver.base import BaseMachine
from nixtest_tui.driver.shell_line import LineResult, ShellSession
from nixtest_tui.widgets.ordered_keys import TextInput

MachineLookup = Callable[[str], BaseMachine]


_OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")  # window titles and the like
_SHORT_ESCAPE = re.compile(r"\x1b[^\[]")  # ESC c (reset), ESC 7, ...: not colours
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]")  # all but tab, newline, ESC


def shell_id(machine: str) -> str:
    return f"shell-{machine}"


def terminal_text(line: str, style: str = "") -> Text:
    """A line of guest output with its colours and nothing else: a reset or clear-screen
    sequence (SeaBIOS prints some) would otherwise reach the real terminal and wreck the UI."""
    text = Text.from_ansi(_SHORT_ESCAPE.sub("", _CONTROL.sub("", _OSC.sub("", line))),
                          style=style)
    if "\x1b" in text.plain:  # a lone ESC at the end of the line
        text.plain = text.plain.replace("\x1b", "")
    return text


class ShellInput(TextInput):
    """| Key | Action |
    | --- | --- |
    | `enter` | run the line on the machine |
    | `ctrl+c` | cancel the running line (the guest command is killed); else clear the input |
    | `up`/`down` | history |
    """

    BINDINGS = [
        Binding("ctrl+c", "interrupt", "Cancel line", show=True),
        Binding("up", "history(-1)", "History", show=False),
        Binding("down", "history(1)", "History", show=False),
    ]

    def action_interrupt(self) -> None:
        shell = self.shell
        if shell is not None and shell.running:
            shell.cancel_line()
        else:
            self.value = ""

    async def action_submit(self) -> None:
        """The line goes, and the input is cleared here, in order with the keys typed after
        Enter (cleared later, by the tab, a fast `echo a⏎echo b⏎` would run `echo aecho b`).
        A line refused because another still runs stays in the input."""
        shell = self.shell
        refused = shell is not None and shell.running is not None
        await super().action_submit()
        if not refused:
            self.value = ""

    def action_history(self, step: int) -> None:
        if self.shell is not None:
            self.value = self.shell.recall(step)
            self.cursor_position = len(self.value)

    @property
    def shell(self) -> MachineShell | None:
        node = self.parent
        while node is not None and not isinstance(node, MachineShell):
            node = node.parent
        return node


class MachineShell(Vertical):
    """One machine's shell: the transcript above, the input line below."""

    DEFAULT_CSS = """
    MachineShell > RichLog { height: 1fr; background: $surface; }
    MachineShell > #shell-prompt-row { height: 1; }
    MachineShell #shell-prompt { width: auto; max-width: 50%; color: $success; }
    MachineShell ShellInput { width: 1fr; }
    """

    def __init__(self, name: str, machine: MachineLookup, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.machine_name = name
        self._machine = machine
        self._session: ShellSession | None = None
        self.running: str | None = None
        """The line running now, if any."""
        self.history: list[str] = []
        self._position = 0
        self._partial = ""

    def compose(self) -> ComposeResult:
        output = RichLog(wrap=True, markup=False, highlight=False, max_lines=5000)
        output.can_focus = False
        yield output
        with Horizontal(id="shell-prompt-row"):
            yield Static(self.prompt(), id="shell-prompt")
            yield ShellInput(placeholder=f"a shell line for {self.machine_name} (enter runs it;"
                             " ctrl+c cancels it)", compact=True,
                             id=f"shell-input-{self.machine_name}")

    @property
    def input(self) -> ShellInput:
        return self.query_one(ShellInput)

    @property
    def transcript(self) -> RichLog:
        return self.query_one(RichLog)

    def prompt(self) -> str:
        cwd = self._session.cwd if self._session is not None and self._session.cwd else "~"
        return f"{self.machine_name}:{cwd}# "

    def session(self) -> ShellSession:
        """Made on first use: the machine object exists only once the session is open."""
        if self._session is None:
            self._session = ShellSession(self._machine(self.machine_name))
        return self._session

    def recall(self, step: int) -> str:
        self._position = max(0, min(len(self.history), self._position + step))
        return self.history[self._position] if self._position < len(self.history) else ""

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        event.stop()
        line = event.value.strip()
        if not line:
            return
        if self.running is not None:
            self.notify(f"`{self.running}` still runs on {self.machine_name}: ctrl+c cancels it",
                        severity="warning", timeout=4)
            return
        if not self.history or self.history[-1] != line:
            self.history.append(line)
        self._position = len(self.history)
        self.transcript.write(Text.assemble((self.prompt(), "bold green"), (line, "bold")))
        self.running = line
        self.query_one("#shell-prompt", Static).update(f"{self.machine_name}: running… ")
        self.run_line(line)

    def cancel_line(self) -> None:
        if self._session is not None and self.running is not None:
            self._session.cancel()
            self.transcript.write(Text("^C (ending the command in the guest...)", style="yellow"))

    @work(thread=True, exit_on_error=False, description="shell line")
    def run_line(self, line: str) -> None:
        try:
            session = self.session()
            result = session.run(line, self._output_from_thread)
        except Exception as exc:  # a machine error ends this line, never the shell
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._finished, result)

    def _output_from_thread(self, stdout: bytes, stderr: bytes) -> None:
        self.app.call_from_thread(self._output, stdout, stderr)

    def _output(self, stdout: bytes, stderr: bytes) -> None:
        if stderr:
            self._flush()
            for line in stderr.decode(errors="replace").splitlines():
                self.transcript.write(terminal_text(line, style="red"))
        *lines, self._partial = (self._partial + stdout.decode(errors="replace")).split("\n")
        for line in lines:
            self.transcript.write(terminal_text(line))

    def _flush(self) -> None:
        if self._partial:
            self.transcript.write(terminal_text(self._partial))
            self._partial = ""

    def _finished(self, result: LineResult) -> None:
        self._flush()
        for line in result.console:
            self.transcript.write(Text.assemble(("console│ ", "dim"),
                                                terminal_text(line, style="dim italic")))
        if result.cancelled:
            summary = Text(f"cancelled after {result.seconds:.1f} s (the command was killed)",
                           style="yellow")
        else:
            style = "green" if result.status == 0 else "bold red"
            summary = Text(f"exit {result.status} · {result.seconds:.2f} s", style=style)
        self.transcript.write(summary)
        self.running = None
        self.query_one("#shell-prompt", Static).update(self.prompt())

    def _failed(self, exc: Exception) -> None:
        self._flush()
        self.transcript.write(Text(f"{self.machine_name}: {exc}", style="bold red"))
        self.running = None
        self.query_one("#shell-prompt", Static).update(self.prompt())


class ShellDeck(Vertical):
    """The shell tab: a machine chooser and one `MachineShell` per machine, kept while hidden."""

    DEFAULT_CSS = """
    ShellDeck > #shell-top { height: 1; }
    ShellDeck #shell-machine { width: 24; }
    ShellDeck #shell-help { width: 1fr; padding: 0 1; color: $text-muted; }
    ShellDeck > ContentSwitcher { height: 1fr; }
    """

    def __init__(self, machines: list[str], machine: MachineLookup, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.machines = machines
        self._machine = machine

    def compose(self) -> ComposeResult:
        with Horizontal(id="shell-top"):
            yield Select([(name, name) for name in self.machines], compact=True,
                         value=self.machines[0] if self.machines else Select.NULL,
                         allow_blank=not self.machines, id="shell-machine")
            yield Static("each line runs on the machine through the backdoor; ctrl+c cancels "
                         "it; a cd is remembered; up/down: history", id="shell-help")
        with ContentSwitcher(initial=shell_id(self.machines[0]) if self.machines else None):
            for name in self.machines:
                yield MachineShell(name, self._machine, id=shell_id(name))

    def shell(self, name: str) -> MachineShell:
        return self.query_one(f"#{shell_id(name)}", MachineShell)

    def show(self, name: str) -> None:
        """`name`'s shell in front with its input focused."""
        if name not in self.machines:
            raise KeyError(name)
        self.query_one(ContentSwitcher).current = shell_id(name)
        select = self.query_one("#shell-machine", Select)
        if select.value != name:
            select.value = name
        self.shell(name).input.focus()

    @property
    def current(self) -> str | None:
        current = self.query_one(ContentSwitcher).current
        return None if current is None else current.removeprefix("shell-")

    @on(Select.Changed, "#shell-machine")
    def _machine_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.current:
            self.show(event.value)
