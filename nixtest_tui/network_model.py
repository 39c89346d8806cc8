"""The test network as the TUI shows it: machines, VLAN switches and the NICs between them.

UI-free, so that the same rows can be asserted on in tests and printed as text. Membership is
read from the start scripts, because that is what QEMU will really be given: the order of the
`-device virtio-net-pci,...,mac=...` lines decides the interface names (eth1, eth2, ... after
the user-mode eth0), and `$QEMU_VDE_SOCKET_<n>` on the paired `-netdev` names the VLAN. A script
that cannot be read (not built yet, on another host) falls back to the configuration's `vlans`
list, marked as assumed. Addresses are not in the scripts: they follow nixpkgs' numbering,
like the guests themselves compute them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from nixtest_tui.driver.addressing import ipv4_address, ipv6_address, mac_address, node_numbers
from nixtest_tui.driver.config import DriverConfiguration, MachineConfig
from nixtest_tui.driver.events import Event, LinkChanged, MachineStateChanged

USER_INTERFACE = "eth0"
USER_IPV4 = "10.0.2.15"  # QEMU user networking's fixed guest address
USER_MAC = "52:54:00:12:34:56"  # QEMU's default for a NIC given no MAC, as in the start scripts
BLOCKABLE_NIC = 1  # upstream's block() hard-codes virtio-net-pci.1: the first VLAN NIC

_DEVICE = re.compile(r"-device\s+virtio-net-pci,([^\s\"']*)")
_NETDEV = re.compile(r"-netdev\s+vde,([^\s]*?)sock=\"?\$\{?QEMU_VDE_SOCKET_(\d+)")
_OPTION = re.compile(r"(\w+)=([^,\s\"']+)")
STATE_LABELS = {"starting": "starting", "running": "booting", "connected": "up",
                "shutting-down": "stopping", "exited": "off"}


@dataclass(frozen=True)
class Nic:
    """One VLAN interface of one machine: an edge between the machine and a VLAN switch."""

    machine: str
    index: int  # 1 for the first VLAN NIC: the guest's eth<index>, QEMU's virtio-net-pci.<index>
    vlan: int
    mac: str
    ipv4: str
    ipv6: str

    @property
    def interface(self) -> str:
        return f"eth{self.index}"


@dataclass
class Probe:
    """A ping from one machine to another's address; `ok` is None while it runs."""

    source: str
    target: str
    address: str
    ok: bool | None = None
    detail: str = ""

    @property
    def label(self) -> str:
        verdict = "..." if self.ok is None else "ok" if self.ok else "FAILED"
        return f"from {self.source}: {verdict}" + (f" {self.detail}" if self.detail else "")


@dataclass
class MachineNode:
    name: str
    kind: str  # vm or container
    node: int
    nics: tuple[Nic, ...]
    assumed: bool = False  # membership guessed from the configuration's `vlans`
    restricted: bool = True  # user-mode NIC with restrict=on (no way out of the host)
    state: str = "off"
    blocked_nics: set[int] = field(default_factory=set)

    @property
    def blocked(self) -> bool:
        """Whether the first VLAN NIC (upstream's block()) is unplugged."""
        return BLOCKABLE_NIC in self.blocked_nics

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)

    def link(self, nic: Nic) -> str:
        return "blocked" if nic.index in self.blocked_nics else "up"


@dataclass(frozen=True)
class Row:
    """One line of the view: a member of a VLAN (or the shared user-mode NIC row)."""

    group: str
    machine: str | None  # None on the user-mode row, which nothing can be done to
    vlan: int | None
    interface: str
    name: str
    state: str
    mac: str
    ipv4: str
    ipv6: str
    link: str
    ping: str

    def cells(self) -> tuple[str, ...]:
        return (self.group, self.interface, self.name, self.state, self.mac,
                self.ipv4, self.ipv6, self.link, self.ping)


COLUMNS = ("switch", "nic", "machine", "state", "mac", "ipv4", "ipv6", "link", "ping")


def parse_nics(script_text: str, machine: str, node: int) -> list[Nic]:
    """The VLAN NICs a start script gives QEMU, in its order (which is the guest's eth order)."""
    sockets = {options.get("id", ""): int(vlan) for text, vlan in _NETDEV.findall(script_text)
               for options in [dict(_OPTION.findall(text))]}
    nics = []
    for index, match in enumerate(_DEVICE.finditer(script_text), start=1):
        options = dict(_OPTION.findall(match.group(1)))
        mac = options.get("mac", "").lower()
        vlan = sockets.get(options.get("netdev", ""))
        if vlan is None and re.fullmatch(r"52:54:00:12:[0-9a-f]{2}:[0-9a-f]{2}", mac):
            vlan = int(mac.split(":")[4], 16)  # no vde netdev paired: the MAC still says it
        if vlan is None:
            continue
        nics.append(Nic(machine, index, vlan, mac or mac_address(vlan, node),
                        ipv4_address(vlan, node), ipv6_address(vlan, node)))
    return nics


_INTERFACES_JSON = re.compile(r"--interfaces-json\s+'(\[[^']*\])'")


def parse_container_nics(script_text: str, machine: str, node: int) -> list[Nic]:
    """The veths a `run-<name>-nspawn` script asks for (its `--interfaces-json`), in order."""
    match = _INTERFACES_JSON.search(script_text)
    try:
        interfaces = json.loads(match.group(1)) if match else []
    except ValueError:
        return []
    return [Nic(machine, index, int(i["vlan"]), str(i.get("mac", mac_address(i["vlan"], node))),
                ipv4_address(int(i["vlan"]), node), ipv6_address(int(i["vlan"]), node))
            for index, i in enumerate(interfaces, start=1) if "vlan" in i]


def script_text(machine: MachineConfig) -> str | None:
    """The start script's text: its first word is the script (the rest are arguments)."""
    words = machine.start_script.split()
    try:
        return Path(words[0]).read_text(errors="replace") if words else None
    except OSError:
        return None


@dataclass
class NetworkModel:
    machines: dict[str, MachineNode]
    probes: dict[tuple[str, str], Probe] = field(default_factory=dict)  # (source, address)

    @staticmethod
    def from_config(config: DriverConfiguration) -> NetworkModel:
        configs = {**{n: ("vm", m) for n, m in config.vms.items()},
                   **{n: ("container", m) for n, m in config.containers.items()}}
        machines = {}
        for name, node in node_numbers(configs).items():
            kind, machine = configs[name]
            text = script_text(machine)
            if text is None:
                nics = [Nic(name, index, vlan, mac_address(vlan, node), ipv4_address(vlan, node),
                            ipv6_address(vlan, node))
                        for index, vlan in enumerate(sorted(config.vlans), start=1)]
                restricted = True
            elif kind == "container":
                nics = parse_container_nics(text, name, node)
                restricted = True  # a container has no user-mode NIC to the outside
            else:
                nics = parse_nics(text, name, node)
                restricted = "restrict=on" in text or "restrict=yes" in text
            machines[name] = MachineNode(name, kind, node, tuple(nics), assumed=text is None,
                                         restricted=restricted)
        return NetworkModel(machines)

    @property
    def vlans(self) -> list[int]:
        return sorted({nic.vlan for m in self.machines.values() for nic in m.nics})

    def members(self, vlan: int) -> list[tuple[MachineNode, Nic]]:
        return [(m, nic) for m in self.machines.values() for nic in m.nics if nic.vlan == vlan]

    def peers(self, machine: str, vlan: int) -> list[Nic]:
        """Where `machine` can ping on `vlan`: every other member's address there."""
        return [nic for m, nic in self.members(vlan) if m.name != machine]

    def handle(self, event: Event) -> bool:
        """Apply a driver event; returns whether the view changed."""
        if isinstance(event, MachineStateChanged) and event.machine in self.machines:
            machine = self.machines[event.machine]
            machine.state = event.state
            if event.state in ("starting", "exited"):
                machine.blocked_nics.clear()  # a new QEMU process starts with its links up
            return True
        if isinstance(event, LinkChanged) and event.machine in self.machines:
            nics = self.machines[event.machine].blocked_nics
            if event.blocked:
                nics.add(event.nic)
            else:
                nics.discard(event.nic)
            return True
        return False

    def probe(self, source: str, target: Nic) -> Probe:
        probe = Probe(source, target.machine, target.ipv4)
        self.probes.pop((source, target.ipv4), None)  # re-inserted: the newest shows on the edge
        self.probes[(source, target.ipv4)] = probe
        return probe

    def _ping_label(self, nic: Nic) -> str:
        probes = [p for (_, address), p in self.probes.items() if address == nic.ipv4]
        return probes[-1].label if probes else ""

    def rows(self) -> list[Row]:
        rows = []
        for vlan in self.vlans:
            members = self.members(vlan)
            for position, (machine, nic) in enumerate(members):
                glyph = "┬" if position == 0 else "└" if position == len(members) - 1 else "├"
                if len(members) == 1:
                    glyph = "─"
                label = f"vlan {vlan} " if position == 0 else " " * len(f"vlan {vlan} ")
                group = label + glyph
                state = machine.state_label + (" (assumed)" if machine.assumed else "")
                rows.append(Row(group, machine.name, vlan, nic.interface, machine.name, state,
                                nic.mac,
                                nic.ipv4, nic.ipv6, machine.link(nic), self._ping_label(nic)))
        count = len(self.machines)
        restricted = all(m.restricted for m in self.machines.values())
        rows.append(Row("user-mode", None, None, USER_INTERFACE, f"all {count}", "-", USER_MAC,
                        USER_IPV4, "-", "restricted" if restricted else "NAT", ""))
        return rows

    def lines(self) -> list[str]:
        """The view as plain text: what the tests read and what a user can copy."""
        rows = self.rows()
        table = [COLUMNS, *(row.cells() for row in rows)]
        widths = [max(len(cells[i]) for cells in table) for i in range(len(COLUMNS))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()
                 for cells in table]
        lonely = [m.name for m in self.machines.values() if not m.nics]
        if lonely:
            lines.append("on no vlan: " + ", ".join(lonely))
        for probe in self.probes.values():
            lines.append(f"ping {probe.source} -> {probe.target} ({probe.address}): "
                         + probe.label.split(": ", 1)[1])
        return lines
