"""The TUI: a thin shell composing the panes around one interactive Session."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, TabbedContent, TabPane

from nixtest_tui.debugger import Action
from nixtest_tui.driver.events import Event, MachineStateChanged, ScriptStateChanged
from nixtest_tui.driver.qemu import QemuMachine
from nixtest_tui.session import Session
from nixtest_tui.topology import NetworkModel
from nixtest_tui.widgets.bridge import pump
from nixtest_tui.widgets.commands import NixtestCommands
from nixtest_tui.widgets.console import SerialConsole
from nixtest_tui.widgets.driver_log import DriverLog
from nixtest_tui.widgets.failure_bar import FailureBar
from nixtest_tui.widgets.inspector import ScreenInspector
from nixtest_tui.widgets.machines import MachineList, MachineRow
from nixtest_tui.widgets.repl import ReplPane
from nixtest_tui.widgets.script_pane import ScriptPane
from nixtest_tui.widgets.subtests import SubtestList
from nixtest_tui.widgets.topology import TopologyPanel
from nixtest_tui.widgets.waiting import WaitingStrip


class NixtestApp(App[int]):
    TITLE = "nixtest-tui"
    CSS_PATH = "nixtest.tcss"
    COMMANDS = App.COMMANDS | {NixtestCommands}
    BINDINGS = [
        Binding("f5,c", "run", "Run/continue"),
        Binding("f6,p", "pause", "Pause"),
        Binding("f10,n", "step('over')", "Step over"),
        Binding("f11,s", "step('into')", "Step into"),
        Binding("shift+f11,o", "step('out')", "Step out"),
        Binding("x", "cancel_wait", "Cancel wait"),
        Binding("r", "resolve('retry')", "Retry", show=False),
        Binding("k", "resolve('skip')", "Skip", show=False),
        Binding("F", "resolve('raise')", "Fail", show=False),
        Binding("ctrl+r", "restart", "Restart script"),
        Binding("f8", "insert_recorded", "Record to script", show=False),
        Binding("f1", "show_help_panel", "Keys", show=False),
        Binding("q,ctrl+q", "quit", "Quit", priority=True),
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
                yield MachineList([self._row(m.name, network) for m in machines])
                yield SubtestList(model.subtests)
            with Vertical(id="main"):
                yield ScriptPane(self.session.script_text)
                yield FailureBar()
        yield WaitingStrip()
        with TabbedContent(id="bottom"):
            with TabPane("log", id="tab-log"):
                yield DriverLog([m.name for m in machines])
            with TabPane("repl", id="tab-repl"):
                yield ReplPane(self.session.evaluate, self.session.completions)
            with TabPane("network", id="pane-network"):
                yield TopologyPanel(network, self.session.machine)
            with TabPane("screen", id="pane-screen"):
                yield ScreenInspector(list(config.vms), self.session.machine)
            for machine in machines:
                with TabPane(machine.name, id=f"tab-{machine.name}"):
                    yield self._console(machine.name, is_container=machine.name not in config.vms)
        yield Footer()

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
        self.query_one(ScriptPane).focus()
        self.open_session()
        self.set_interval(0.25, self._sample_running_line)

    @work(thread=True, group="session", exit_on_error=False)
    def open_session(self) -> None:
        self.session.open()
        self.call_from_thread(self._session_ready)

    def _session_ready(self) -> None:
        self.sub_title = "idle: F5 runs the script, b sets a breakpoint"
        self.bridge()

    @work(thread=True, group="bridge", exit_on_error=False)
    def bridge(self) -> None:
        pump(self, self.session.bus, self._deliver)

    def _deliver(self, serial: dict[str, bytes], events: list[Event]) -> None:
        for machine, data in serial.items():
            self.query_one(f"#console-{machine}", SerialConsole).feed(data)
        machines, waiting = self.query_one(MachineList), self.query_one(WaitingStrip)
        log, subtests = self.query_one(DriverLog), self.query_one(SubtestList)
        network, screen = self.query_one(TopologyPanel), self.query_one(ScreenInspector)
        for event in events:
            network.handle(event)
            screen.handle(event)
            machines.handle(event)
            waiting.handle(event)
            log.handle(event)
            subtests.handle(event)
            if isinstance(event, ScriptStateChanged):
                self._script_state(event)
            elif isinstance(event, MachineStateChanged) and event.state == "running":
                self.detect_accelerator(event.machine)

    def _script_state(self, event: ScriptStateChanged) -> None:
        self.script_state = event.state
        pane, bar = self.query_one(ScriptPane), self.query_one(FailureBar)
        if event.state == "paused":
            failed = event.reason == "failure"
            pane.show_position(event.line, failed)
            if failed:
                bar.show_failure(event.line, event.error)
            self.sub_title = f"paused at line {event.line} ({event.reason})"
        else:
            bar.hide()
            pane.show_position(None)
            self.sub_title = event.state + (f": {event.error}" if event.error else "")

    def _sample_running_line(self) -> None:
        runner = self.session.runner
        if runner is not None and self.script_state == "running":
            self.query_one(ScriptPane).show_position(runner.running_line())

    @work(thread=True, group="accel", exit_on_error=False)
    def detect_accelerator(self, name: str) -> None:
        machine = self.session.machine(name)
        if isinstance(machine, QemuMachine) and machine.qmp_client is not None:
            kvm = machine.qmp_client.send("query-kvm")["return"]
            accelerator = "KVM" if kvm.get("enabled") else "TCG"
            self.call_from_thread(self.query_one(MachineList).set_accelerator, name, accelerator)

    # -- script controls ---------------------------------------------------------------------------

    def action_run(self) -> None:
        runner = self.session.runner
        if runner is None:
            return
        if self.script_state == "paused":
            runner.continue_()
        elif self.script_state in ("idle", "finished", "failed"):
            self.query_one(SubtestList).reset(runner.model.subtests)
            runner.restart() if self.script_state != "idle" else runner.start()

    def action_step(self, kind: str) -> None:
        runner = self.session.runner
        if runner is None:
            return
        if self.script_state == "paused":
            {"over": runner.step_over, "into": runner.step_into, "out": runner.step_out}[kind]()
        elif self.script_state == "idle":
            runner.pause()  # stop at the first statement
            runner.start()

    def action_pause(self) -> None:
        if self.session.runner is not None and self.script_state == "running":
            busy = self.session.runner.pause()
            if busy:
                self.notify(f"pauses after: {busy}. x cancels that wait.", timeout=6)

    def action_cancel_wait(self) -> None:
        if self.session.runner is not None:
            self.session.runner.cancel_wait()

    def action_resolve(self, action: str) -> None:
        runner = self.session.runner
        if runner is not None and runner.failure is not None:
            runner.resolve_failure(Action(action))

    def action_restart(self) -> None:
        if self.session.runner is not None:
            self.session.runner.restart()

    def action_insert_recorded(self) -> None:
        repl, pane = self.query_one(ReplPane), self.query_one(ScriptPane)
        if not repl.recorded:
            self.notify("nothing recorded: lines that succeed in the REPL are kept for this")
            return
        lines = pane.text.splitlines()
        at = pane.cursor_line
        lines[at:at] = repl.recorded
        repl.recorded.clear()
        text = "\n".join(lines) + "\n"
        self.session.replace_script(text)
        pane.set_text(text)
        self.notify("recorded lines inserted; the next run uses them")

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
        event.pane.set_breakpoints(set(runner.breakpoints))

    @on(ScriptPane.RunToLine)
    def run_to_line(self, event: ScriptPane.RunToLine) -> None:
        runner = self.session.runner
        if runner is not None and self.script_state == "paused":
            runner.run_to(event.line)

    @on(FailureBar.Chosen)
    def failure_chosen(self, event: FailureBar.Chosen) -> None:
        self.action_resolve(event.action)

    @on(MachineList.Selected)
    def show_console(self, event: MachineList.Selected) -> None:
        self.query_one(TabbedContent).active = f"tab-{event.machine}"

    @on(MachineList.Action)
    @work(thread=True, group="machines", exit_on_error=False)
    def machine_action(self, event: MachineList.Action) -> None:
        machine = self.session.machine(event.machine)
        try:
            if event.action == "restart":
                machine.shutdown()
                machine.start()
            else:
                getattr(machine, event.action)()
        except Exception as exc:
            self.call_from_thread(self.notify, f"{event.machine}: {exc}", severity="error")

    async def action_quit(self) -> None:
        self.sub_title = "stopping the machines..."
        await self.workers.wait_for_complete([self.close_session()])
        self.exit(0)

    @work(thread=True, group="session", exit_on_error=False)
    def close_session(self) -> None:
        self.session.close()


def run_tui(session: Session) -> int:
    try:
        return NixtestApp(session).run() or 0
    finally:
        session.close()  # whatever happened to the UI, the machines go down


def default_out_dir() -> Path:
    return Path.cwd()
