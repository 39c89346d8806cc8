"""The TUI: a thin shell composing the panes around one interactive Session."""

from __future__ import annotations

import asyncio
import signal

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from nixtest_tui.controls import ScriptControls
from nixtest_tui.debugger import ScriptRunner
from nixtest_tui.driver.events import Event, MachineStateChanged
from nixtest_tui.driver.nspawn import NspawnMachine
from nixtest_tui.driver.qemu import QemuMachine
from nixtest_tui.keys import GLOBAL_BINDINGS, LETTER_BINDINGS, FocusModel
from nixtest_tui.network_model import NetworkModel
from nixtest_tui.session import Session
from nixtest_tui.widgets import screen_pixels
from nixtest_tui.widgets.breakpoints import BreakpointsPane
from nixtest_tui.widgets.commands import NixtestCommands
from nixtest_tui.widgets.console import SerialConsole
from nixtest_tui.widgets.console_deck import ConsoleDeck
from nixtest_tui.widgets.console_picker import ConsolePicker
from nixtest_tui.widgets.driver_log import DriverLog
from nixtest_tui.widgets.event_pump import pump
from nixtest_tui.widgets.failure_bar import FailureBar
from nixtest_tui.widgets.inspector import ScreenInspector
from nixtest_tui.widgets.machines import MachineList, MachinePanel, MachineRow
from nixtest_tui.widgets.network_pane import TopologyPanel
from nixtest_tui.widgets.repl import ReplPane
from nixtest_tui.widgets.script_pane import ScriptPane
from nixtest_tui.widgets.shell import ShellDeck
from nixtest_tui.widgets.stack import StackPane
from nixtest_tui.widgets.subtests import SubtestList
from nixtest_tui.widgets.variables import VariablesPane
from nixtest_tui.widgets.waiting import WaitingStrip
from nixtest_tui.widgets.watches import WatchesPane

INSPECT_MIN_WIDTH = 140
"""Below this many columns the inspect column starts hidden (F12 shows it)."""


class NixtestApp(FocusModel, ScriptControls):
    TITLE = "nixtest-tui"
    CSS_PATH = "nixtest.tcss"
    COMMANDS = App.COMMANDS | {NixtestCommands}
    BINDINGS = [  # which keys act where: keys.py and the README's "Keys and focus"
        *GLOBAL_BINDINGS,
        *LETTER_BINDINGS,
        Binding("f2", "pick_console", "Console"),
        Binding("f3", "split_consoles", "Split"),
        Binding("f7", "open_shell", "Shell"),
        Binding("f12", "toggle_inspect", "Inspect"),
        Binding("f1", "show_help_panel", "Keys", show=False),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.script_state = "idle"

    # -- layout ------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        config = self.session.config
        machines = [*config.vms.values(), *config.containers.values()]
        runner_model = self.session.script_text
        from nixtest_tui.debugger.model import ScriptModel

        model = ScriptModel.parse(runner_model)
        network = NetworkModel.from_config(config)
        yield Header()
        with Horizontal(id="top"):
            with Vertical(id="side"):
                yield MachinePanel([self._row(m.name, network) for m in machines])
                yield SubtestList(model.subtests)
            with Vertical(id="main"):
                yield ScriptPane(self.session.script_text)
                yield FailureBar()
            with Vertical(id="inspect"):  # pudb's right-hand column
                yield from self._inspect_panes()
        yield WaitingStrip()
        with TabbedContent(id="bottom"):
            with TabPane("log", id="tab-log"):
                yield DriverLog([m.name for m in machines])
            with TabPane("repl", id="tab-repl"):
                yield ReplPane(self.session.evaluate, self.session.completions,
                               self.session.help_for)
            with TabPane("network", id="pane-network"):
                yield TopologyPanel(network, self.session.machine)
            with TabPane("screen", id="pane-screen"):
                yield ScreenInspector(list(config.vms), self.session.machine)
            with TabPane("consoles", id="tab-consoles"):
                yield ConsoleDeck(
                    self._console(m.name, is_container=m.name not in config.vms)
                    for m in machines)
            with TabPane("shell", id="tab-shell"):
                yield ShellDeck([m.name for m in machines], self.session.machine)
        yield Footer()

    def _inspect_panes(self) -> ComposeResult:
        def runner() -> ScriptRunner | None:  # (a new one when the script is replaced)
            return self.session.runner

        yield VariablesPane(runner, id="variables")
        yield StackPane(runner, id="stack")
        yield WatchesPane(runner, id="watches")
        yield BreakpointsPane(runner, id="breakpoints")

    @staticmethod
    def _row(name: str, network: NetworkModel) -> MachineRow:
        node = network.machines[name]
        vlans = ",".join(str(v) for v in sorted({nic.vlan for nic in node.nics}))
        if node.kind == "container":  # no accelerator to detect: it runs on the host kernel
            return MachineRow(name, "container", vlans, accelerator="nspawn")
        return MachineRow(name, "vm", vlans)

    def _console(self, name: str, is_container: bool) -> SerialConsole:
        """A VM's serial port takes keys; a container's console is its journal, read-only."""
        if is_container:
            return SerialConsole(name, None, title=f"{name} (container journal, read-only)",
                                 id=f"console-{name}")
        return SerialConsole(name, self._sender(name), id=f"console-{name}")

    def _sender(self, name: str):  # type: ignore[no-untyped-def]
        def send(data: bytes) -> None:
            machine = self.session.machine(name)
            if isinstance(machine, QemuMachine):
                machine.send_console(data.decode(errors="replace"))
        return send

    # -- session life cycle ----------------------------------------------------------------------

    def on_mount(self) -> None:
        self.sub_title = "starting the VLANs..."
        if self.size.width < INSPECT_MIN_WIDTH:
            self.query_one("#inspect").display = False
        self.query_one(ScriptPane).focus()
        self.open_session()
        self.set_interval(0.25, self.sample_running_line)

    @work(thread=True, group="session", exit_on_error=False, description="opening the session")
    def open_session(self) -> None:
        self.session.open()
        self.call_from_thread(self._session_ready)

    def _session_ready(self) -> None:
        self.sub_title = "idle: F5 runs the script, b sets a breakpoint"
        self.bridge(asyncio.get_running_loop())

    @work(thread=True, group="bridge", exit_on_error=False)
    def bridge(self, loop: asyncio.AbstractEventLoop) -> None:
        pump(loop, self.session.bus, self._deliver)

    def _deliver(self, serial: dict[str, bytes], events: list[Event]) -> None:
        if not self.query(ScriptPane):
            return  # the screen is being torn down (quitting): nobody to show events to
        for machine, data in serial.items():
            self.query_one(f"#console-{machine}", SerialConsole).feed(data)
        machines, waiting = self.query_one(MachineList), self.query_one(WaitingStrip)
        log, subtests = self.query_one(DriverLog), self.query_one(SubtestList)
        network, screen = self.query_one(TopologyPanel), self.query_one(ScreenInspector)
        inspect = (self.query_one(VariablesPane), self.query_one(StackPane),
                   self.query_one(WatchesPane), self.query_one(BreakpointsPane))
        for event in events:
            for pane in inspect:
                pane.handle(event)
            network.handle(event)
            screen.handle(event)
            machines.handle(event)
            waiting.handle(event)
            log.handle(event)
            subtests.handle(event)
            self.script_event(event)
            if isinstance(event, MachineStateChanged) and event.state == "running":
                self.detect_accelerator(event.machine)

    @work(thread=True, group="accel", exit_on_error=False)
    def detect_accelerator(self, name: str) -> None:
        machine = self.session.machine(name)
        if isinstance(machine, QemuMachine) and machine.qmp_client is not None:
            kvm = machine.qmp_client.send("query-kvm")["return"]
            accelerator = "KVM" if kvm.get("enabled") else "TCG"
            self.call_from_thread(self.query_one(MachineList).set_accelerator, name, accelerator)

    # -- machines and consoles --------------------------------------------------------------------

    @on(MachineList.Selected)
    def show_console(self, event: MachineList.Selected) -> None:
        self.open_console(event.machine)

    def open_console(self, machine: str | None) -> None:
        """The consoles tab in front, `machine`'s console shown and focused (None: no change)."""
        if machine is not None:
            self.query_one(TabbedContent).active = "tab-consoles"
            self.query_one(ConsoleDeck).show(machine)

    def action_pick_console(self) -> None:
        rows = self.query_one(MachineList).rows_by_name.values()
        picker = ConsolePicker([(row.name, row.state_label) for row in rows])
        self.push_screen(picker, self.open_console)

    def action_toggle_inspect(self) -> None:
        """The variables, stack, watches and breakpoints column: shown or hidden."""
        column = self.query_one("#inspect")
        column.display = not column.display

    def action_filter_machines(self) -> None:
        self.query_one(MachineList).action_filter()

    def action_open_shell(self) -> None:
        """The shell tab, on the machine selected in the machine list (widgets/shell.py)."""
        deck = self.query_one(ShellDeck)
        machine = self.query_one(MachineList).current_machine or deck.current
        self.query_one(TabbedContent).active = "tab-shell"
        if machine is not None:
            deck.show(machine)

    def action_split_consoles(self) -> None:
        """One, two, four consoles side by side, in turn."""
        self.query_one(TabbedContent).active = "tab-consoles"
        split = self.query_one(ConsoleDeck).cycle_split()
        self.notify(f"{split} console{'s' if split > 1 else ''} shown: F2 picks which", timeout=3)

    @on(MachineList.Action)
    @work(thread=True, group="machines", exit_on_error=False, description="machine action")
    def machine_action(self, event: MachineList.Action) -> None:
        """`s` and `R` boot to a usable machine (backdoor connected), not just a QEMU process."""
        machine = self.session.machine(event.machine)
        if event.action == "restart":
            machine.shutdown()
        if event.action in ("start", "restart"):
            if isinstance(machine, QemuMachine):
                machine.connect()
            elif isinstance(machine, NspawnMachine):
                machine.get_systemd_process  # noqa: B018 - waits until the container is ready
            else:
                machine.start()
        else:
            getattr(machine, event.action)()

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker is shown: nothing fails silently."""
        if event.state is not WorkerState.ERROR:
            return
        worker: Worker[object] = event.worker
        what = worker.description or worker.name
        message = f"{what} failed: {worker.error}"
        if worker.group == "session":
            self.sub_title = f"{message} (ctrl+q quits)"
        self.notify(message, severity="error", timeout=20)

    async def action_quit(self) -> None:
        self.sub_title = "stopping the machines..."
        await self.workers.wait_for_complete([self.close_session()])
        self.exit(0)

    @work(thread=True, group="session", exit_on_error=False, description="stopping the machines")
    def close_session(self) -> None:
        self.session.close()

    async def on_unmount(self) -> None:
        """However the app ends (a Pilot session, an exception), no machine outlives it."""
        await asyncio.to_thread(self.session.close)


def run_tui(session: Session) -> int:
    """The TUI until it quits; SIGHUP (a closed terminal) and SIGTERM end it with 128+N."""
    screen_pixels.detect()  # asks the terminal, which only works before the app takes it over
    app = NixtestApp(session)

    def hang_up(signum: int, _frame: object) -> None:
        # Stop the machines first: that also ends a script thread blocked in a machine call,
        # which the UI would wait for. Then leave the app's loop the ordinary way (raising
        # here would leave Textual's input and writer threads running, and the process with
        # them); the handler runs on the loop's own thread.
        session.close()
        asyncio.get_running_loop().call_soon_threadsafe(app.exit, None, 128 + signum)

    previous = {s: signal.signal(s, hang_up) for s in (signal.SIGHUP, signal.SIGTERM)}
    try:
        result = app.run()
        return app.return_code or result or 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        session.close()  # whatever happened to the UI, the machines go down

