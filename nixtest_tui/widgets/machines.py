"""The machine list: state, accelerator, backdoor and VLANs per machine, with power actions.

With a dozen machines or more the list scrolls and filters (`/`): a test of a cluster is
debugged a few machines at a time, by name (`web`), by state (`up`, `died`) or by VLAN (`v2`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Input

from nixtest_tui.driver.events import Event, MachineStateChanged
from nixtest_tui.widgets.ordered_keys import TextInput

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

    def matches(self, query: str) -> bool:
        """Every word of `query` names this machine: part of its name, its state's first word
        (`up`, `off`, `died`...), or one of its VLANs as `v<N>`."""
        state = self.state_label.split()[0]
        vlans = {f"v{vlan}" for vlan in self.vlans.split(",") if vlan}
        return all(word in self.name.lower() or word == state or word in vlans
                   for word in query.lower().split())


@dataclass
class _Columns:
    keys: list[str] = field(default_factory=list)


class MachineList(DataTable[str]):
    """| Key | Action |
    | --- | --- |
    | `enter` | show the machine's console |
    | `s` | start and connect: boots until the backdoor answers (the app does it) |
    | `d` | shut down (poweroff in the guest) |
    | `K` | crash (QEMU `quit`) |
    | `R` | restart (shut down, then start and connect) |
    | `/` | filter: words of the name, a state (`up`), a VLAN (`v2`); escape clears |
    """

    BINDINGS = [
        Binding("s", "machine('start')", "Start"),
        Binding("d", "machine('shutdown')", "Shut down"),
        Binding("K", "machine('crash')", "Crash"),
        Binding("R", "machine('restart')", "Restart"),
        Binding("slash", "filter", "Filter"),
    ]
    DEFAULT_CSS = """
    MachineList { height: auto; max-height: 12; scrollbar-size-vertical: 1; overflow-x: hidden; }
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

    class FilterRequested(Message):
        """`/` in the list: the panel around it opens its filter box."""

    def __init__(self, rows: list[MachineRow], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.rows_by_name = {row.name: row for row in rows}
        self.query_text = ""

    def on_mount(self) -> None:
        self.add_column("machine")
        self.add_column("state", width=9)
        self.add_column("accel", width=6)  # TCG, KVM or nspawn
        self.add_column("vlans")
        self._fill()

    @property
    def shown(self) -> list[str]:
        """The machines the filter lets through, in list order."""
        return [name for name, row in self.rows_by_name.items() if row.matches(self.query_text)]

    def set_filter(self, query: str) -> None:
        """Rebuild the rows: a few dozen at most, so clearing is cheaper than diffing."""
        if query != self.query_text:
            self.query_text = query
            self._fill()

    def _fill(self) -> None:
        current = self.current_machine if self.row_count else None
        self.clear()
        for name in self.shown:
            self.add_row(*self._cells(self.rows_by_name[name]), key=name)
        if current is not None and current in self.shown:
            self.move_cursor(row=self.get_row_index(current))

    def action_filter(self) -> None:
        self.post_message(self.FilterRequested())

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
        present = self._row_index(row.name) >= 0
        if present != row.matches(self.query_text):
            self._fill()  # a state change moved it across the filter (`up`, `died`)
        elif present:
            for column, value in zip(self.columns, self._cells(row), strict=True):
                self.update_cell(row.name, column, value)

    def _row_index(self, name: str) -> int:
        try:
            return self.get_row_index(name)
        except Exception:  # RowDoesNotExist: filtered out until now
            return -1

    @property
    def current_machine(self) -> str | None:
        if not self.row_count or self.cursor_row < 0:
            return None
        key = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value
        return None if key is None else str(key)

    def action_machine(self, action: str) -> None:
        machine = self.current_machine
        if machine is not None:
            self.post_message(self.Action(machine, action))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Selected(str(event.row_key.value)))


class MachinePanel(Vertical):
    """The machine list under a filter box that shows only while a filter is being typed or
    applies, with the count shown/all in the border title."""

    DEFAULT_CSS = """
    MachinePanel { height: auto; max-height: 16; border-top: solid $panel; }
    MachinePanel > Input, MachinePanel > Input:focus { height: 1; border: none; padding: 0 1; }
    MachinePanel > Input { display: none; }
    MachinePanel.-filtering > Input { display: block; }
    """

    def __init__(self, rows: list[MachineRow], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._rows = rows
        self.border_title = f"machines {len(rows)}"

    def compose(self) -> ComposeResult:
        yield TextInput(placeholder="filter: name, state (up), vlan (v2)", id="machine-filter")
        yield MachineList(self._rows)

    @on(MachineList.FilterRequested)
    def open_filter(self) -> None:
        self.add_class("-filtering")
        self.query_one(Input).focus()

    @on(Input.Changed, "#machine-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        machines = self.query_one(MachineList)
        machines.set_filter(event.value)
        shown, total = len(machines.shown), len(machines.rows_by_name)
        self.border_title = f"machines {shown}/{total}" if event.value else f"machines {total}"

    @on(Input.Submitted, "#machine-filter")
    def keep_filter(self) -> None:
        self.set_class(bool(self.query_one(Input).value), "-filtering")
        self.query_one(MachineList).focus()

    def key_escape(self) -> None:
        """Escape in the filter box clears it: the whole list again, focus back on it."""
        box = self.query_one(Input)
        if box.has_focus:
            box.value = ""
            self.remove_class("-filtering")
            self.query_one(MachineList).focus()
