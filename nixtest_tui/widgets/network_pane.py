"""The network tab: VLAN switches with their member NICs, link state and on-demand pings.

A table rather than a drawing: one block of rows per VLAN reads the same with 1 machine or 20,
scrolls, and keeps a cursor for the actions. Each block opens with a header row (member count,
states at a glance, the subnet) that `enter` folds, so a cluster of sixteen machines on three
VLANs fits a glance; member rows repeat their VLAN's number, so a scrolled view still says
which switch a row is on. The rows come from `nixtest_tui.network_model`, which also prints them as
text. Blocking a link and pinging are machine calls that wait on QEMU and
the guest, so they run in thread workers; the table changes only when the driver's events
(`LinkChanged`) come back through the bridge, so it shows what happened, not what was asked.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.widgets import DataTable

from nixtest_tui.driver.base import BaseMachine
from nixtest_tui.driver.events import Event
from nixtest_tui.driver.qemu import QemuMachine
from nixtest_tui.network_model import BLOCKABLE_NIC, COLUMNS, NetworkModel, Nic, Probe, Row

_RTT = re.compile(r"time=([0-9.]+ ?ms)")


def _style(cell: str) -> str:
    """Trouble in red, good news in green: the cells are plain text (no markup) otherwise."""
    if cell == "blocked" or "FAILED" in cell:
        return "bold red"
    return "green" if cell.endswith(": ok") or ": ok " in cell else ""


@dataclass(frozen=True)
class VlanHeader:
    """The row opening a VLAN's block: what is on the switch, summed up."""

    vlan: int
    members: tuple[Row, ...]
    folded: bool

    def cells(self) -> tuple[Text, ...]:
        count = len(self.members)
        states = Counter(row.state for row in self.members)
        summary = ", ".join(f"{n} {state}" for state, n in states.most_common())
        blocked = sum(row.link == "blocked" for row in self.members)
        texts = (f"{'▸' if self.folded else '▾'} vlan {self.vlan}", "",
                 f"{count} machine{'s' if count != 1 else ''}", summary, "",
                 f"192.168.{self.vlan}.0/24", f"2001:db8:{self.vlan}::/64",
                 f"{blocked} blocked" if blocked else "", "")
        return tuple(Text(text, style="bold red" if "blocked" in text else "bold")
                     for text in texts)


class TopologyPanel(DataTable[Text]):
    """| Key | Action |
    | --- | --- |
    | `enter` | on a VLAN's header row: fold or unfold its machines |
    | `b` | block/unblock the selected row's link (that VLAN's NIC; NIC 1 is upstream's `block()`) |
    | `p` | ping from the selected machine to every other member of the row's VLAN |
    """

    BINDINGS = [
        Binding("b", "toggle_link", "Block/unblock link"),
        Binding("p", "ping", "Ping peers"),
    ]
    DEFAULT_CSS = """
    TopologyPanel { height: 1fr; }
    """

    def __init__(self, model: NetworkModel, machine: Callable[[str], BaseMachine],
                 **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.model = model
        self._machine = machine
        self.folded: set[int] = set()
        self._lines: list[Row | VlanHeader] = []

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(column, key=column)
        self._fill()

    def _layout(self) -> list[Row | VlanHeader]:
        """Header and member rows per VLAN (members hidden when folded), the user-mode row."""
        rows = self.model.rows()
        lines: list[Row | VlanHeader] = []
        for vlan in self.model.vlans:
            members = tuple(r for r in rows if r.vlan == vlan)
            lines.append(VlanHeader(vlan, members, vlan in self.folded))
            if vlan not in self.folded:
                lines += members
        return lines + [r for r in rows if r.vlan is None]

    def _fill(self) -> None:
        """Rebuild all rows: at most a few dozen, and ping labels move between rows."""
        row = self.cursor_row
        self.clear()
        self._lines = self._layout()
        for index, line in enumerate(self._lines):
            if isinstance(line, VlanHeader):
                self.add_row(*line.cells(), key=str(index))
            else:
                self.add_row(*(Text(cell, style=_style(cell)) for cell in _member_cells(line)),
                             key=str(index))
        if self.row_count:
            self.move_cursor(row=min(max(row, 0), self.row_count - 1))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        line = self._lines[event.cursor_row] if event.cursor_row < len(self._lines) else None
        if isinstance(line, VlanHeader):
            self.folded.symmetric_difference_update({line.vlan})
            self._fill()

    def handle(self, event: Event) -> None:
        if self.model.handle(event):
            self._fill()

    def text(self) -> str:
        return "\n".join(self.model.lines())

    @property
    def selected(self) -> tuple[str, int] | None:
        """(machine, vlan) of the row under the cursor; None on a header or user-mode row."""
        if not 0 <= self.cursor_row < len(self._lines):
            return None
        row = self._lines[self.cursor_row]
        if isinstance(row, VlanHeader) or row.machine is None or row.vlan is None:
            return None
        return row.machine, row.vlan

    def select_machine(self, machine: str, vlan: int | None = None) -> None:
        for index, row in enumerate(self._lines):
            if isinstance(row, Row) and row.machine == machine and (
                    vlan is None or row.vlan == vlan):
                self.move_cursor(row=index)
                return

    # -- actions -------------------------------------------------------------------------------

    def action_toggle_link(self) -> None:
        if self.selected is None:
            self.notify("select a machine's row (the user-mode NIC cannot be blocked)")
            return
        name = self.selected[0]
        node = self.model.machines[name]
        if node.kind == "container":
            self.notify(f"{name} is a container: block() needs a QEMU NIC", severity="warning")
            return
        vlan = self.selected[1]
        nic = next((n for n in node.nics if n.vlan == vlan and n.index >= BLOCKABLE_NIC), None)
        if nic is None:
            self.notify(f"{name} has no VLAN NIC on vlan {vlan} to block")
            return
        # b acts on the row selected: that VLAN's NIC, whichever it is
        self.set_link(name, nic.index, block=node.link(nic) != "blocked")

    @work(thread=True, group="topology-link", exit_on_error=False)
    def set_link(self, name: str, nic: int, block: bool) -> None:
        try:
            machine = self._machine(name)
            if not isinstance(machine, QemuMachine):
                raise TypeError("only QEMU machines have links to block")
            machine.set_nic_link(nic, up=not block)
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"{name}: {exc}", severity="error")

    def action_ping(self) -> None:
        if self.selected is None:
            self.notify("select a machine's row to ping from")
            return
        name, vlan = self.selected
        try:
            up = self._machine(name).is_up()
        except KeyError:
            up = False  # the session is not open yet
        if not up:
            self.notify(f"{name} is not up: start it first (s in the machine list)")
            return
        peers = self.model.peers(name, vlan)
        if not peers:
            self.notify(f"{name} is alone on vlan {vlan}")
        for nic in peers:
            self.ping(self.model.probe(name, nic), nic)
        self._fill()

    @work(thread=True, group="topology-ping", exit_on_error=False)
    def ping(self, probe: Probe, target: Nic) -> None:
        started = time.monotonic()
        try:
            status, output = self._machine(probe.source).execute(
                f"ping -c 1 -W 2 {target.ipv4}", timeout=timedelta(seconds=30))
            ok = status == 0
            rtt = _RTT.search(output)
            detail = (rtt.group(1) if rtt else f"{time.monotonic() - started:.1f} s") if ok else ""
        except Exception as exc:
            ok, detail = False, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.app.call_from_thread(self._probed, probe, ok, detail)

    def _probed(self, probe: Probe, ok: bool, detail: str) -> None:
        probe.ok, probe.detail = ok, detail
        self._fill()


def _member_cells(row: Row) -> tuple[str, ...]:
    """The model's cells, the VLAN label replaced by its number beside the tree glyph."""
    if row.vlan is None:
        return row.cells()
    glyph = row.group.strip()[-1:]
    glyph = "└" if glyph == "└" else "├" if glyph in ("├", "┬") else "└"
    return (f"  {glyph} {row.vlan}", *row.cells()[1:])
