"""The machine list: state, accelerator, backdoor and VLANs per machine, with power actions."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from nixtest_tui.driver.events import Event, MachineStateChanged

STATE_LABELS = {
    "off": "off", "starting": "starting", "running": "booting", "connected": "up",
    "shutting-down": "stopping",
}


@dataclass
class MachineRow:
    name: str
    backend: str
    vlans: str
    state: str = "off"
    exit_code: int | None = None
    accelerator: str = "?"
    detail: str = ""

    @property
    def state_label(self) -> str:
        if self.state == "exited":
            if self.detail == "released":
                return "off"
            return f"exited {self.exit_code}" if self.exit_code in (0, None) else \
                f"died {self.exit_code}"
        return STATE_LABELS.get(self.state, self.state)


@dataclass
class _Columns:
    keys: list[str] = field(default_factory=list)


class MachineList(DataTable[str]):
    """| Key | Action |
    | --- | --- |
    | `enter` | show the machine's console |
    | `s` | start |
    | `d` | shut down (poweroff in the guest) |
    | `K` | crash (QEMU `quit`) |
    | `R` | restart (shut down, then start) |
    """

    BINDINGS = [
        Binding("s", "machine('start')", "Start"),
        Binding("d", "machine('shutdown')", "Shut down"),
        Binding("K", "machine('crash')", "Crash"),
        Binding("R", "machine('restart')", "Restart"),
    ]
    DEFAULT_CSS = """
    MachineList { height: auto; max-height: 12; }
    """

    class Action(Message):
        """The user asked for a power action on a machine."""

        def __init__(self, machine: str, action: str) -> None:
            super().__init__()
            self.machine = machine
            self.action = action

    class Selected(Message):
        def __init__(self, machine: str) -> None:
            super().__init__()
            self.machine = machine

    def __init__(self, rows: list[MachineRow], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.rows_by_name = {row.name: row for row in rows}

    def on_mount(self) -> None:
        self.add_column("machine")
        self.add_column("state", width=9)
        self.add_column("accel", width=6)  # TCG, KVM or nspawn
        self.add_column("vlans")
        for row in self.rows_by_name.values():
            self.add_row(*self._cells(row), key=row.name)

    def _cells(self, row: MachineRow) -> tuple[str, str, str, str]:
        return (row.name, row.state_label, row.accelerator, row.vlans or "-")

    def handle(self, event: Event) -> None:
        if isinstance(event, MachineStateChanged) and event.machine in self.rows_by_name:
            row = self.rows_by_name[event.machine]
            row.state, row.exit_code, row.detail = event.state, event.exit_code, event.detail
            self._refresh_row(row)

    def set_accelerator(self, machine: str, accelerator: str) -> None:
        if machine in self.rows_by_name:
            self.rows_by_name[machine].accelerator = accelerator
            self._refresh_row(self.rows_by_name[machine])

    def _refresh_row(self, row: MachineRow) -> None:
        for column, value in zip(self.columns, self._cells(row), strict=True):
            self.update_cell(row.name, column, value)

    @property
    def current_machine(self) -> str | None:
        if not self.rows_by_name or self.cursor_row < 0:
            return None
        return str(list(self.rows_by_name)[self.cursor_row])

    def action_machine(self, action: str) -> None:
        machine = self.current_machine
        if machine is not None:
            self.post_message(self.Action(machine, action))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Selected(str(event.row_key.value)))
