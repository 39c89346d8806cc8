"""A small description of a test network: machines, their VLANs and QEMU knobs.

Node numbers, MACs and addresses follow nixpkgs' network.nix (driver/addressing.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nixtest_tui.driver.addressing import ipv4_address, ipv6_address, mac_address, node_numbers

__all__ = ["MachineSpec", "Topology", "TopologyError", "ipv4_address", "ipv6_address",
           "mac_address"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class TopologyError(ValueError):
    """The topology is not one we can turn into start scripts; the message names the field."""


@dataclass(frozen=True)
class MachineSpec:
    name: str
    vlans: tuple[int, ...] = (1,)
    memory_mb: int | None = None
    qemu_options: tuple[str, ...] = ()
    kernel_params: str = ""
    kind: str = "vm"  # or "container": a systemd-nspawn container on the Debian tree

    @property
    def is_container(self) -> bool:
        return self.kind == "container"


@dataclass(frozen=True)
class Topology:
    machines: tuple[MachineSpec, ...]
    restrict_network: bool = True
    global_timeout: int = 3600
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [m.name for m in self.machines]
        if not names:
            raise TopologyError("a topology needs at least one machine")
        if len(set(names)) != len(names):
            raise TopologyError(f"machine names must be unique: {names}")
        if len(names) > 254:
            raise TopologyError("at most 254 machines fit the 192.168.<vlan>.<node> scheme")
        for machine in self.machines:
            if not _NAME.match(machine.name):
                raise TopologyError(
                    f"machine name {machine.name!r}: use letters, digits, '-' and '_'"
                )
            if machine.kind not in ("vm", "container"):
                raise TopologyError(f"{machine.name}: kind must be 'vm' or 'container', "
                                    f"not {machine.kind!r}")
            for vlan in machine.vlans:
                if not 1 <= vlan <= 255:
                    raise TopologyError(f"{machine.name}: VLAN {vlan} is outside 1..255")

    @property
    def vlans(self) -> list[int]:
        """Every VLAN used by some machine, deduplicated and sorted (the config's `vlans`)."""
        return sorted({vlan for m in self.machines for vlan in m.vlans})

    def node_number(self, name: str) -> int:
        return node_numbers(m.name for m in self.machines)[name]

    def hosts_entries(self) -> list[tuple[str, int, int]]:
        """(name, first vlan, node) for every machine with a VLAN: its /etc/hosts line."""
        return [
            (m.name, m.vlans[0], self.node_number(m.name))
            for m in sorted(self.machines, key=lambda m: m.name)
            if m.vlans
        ]
