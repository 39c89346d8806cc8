"""Where every machine is on its VLANs, as nixpkgs' network.nix numbers them.

Node numbers: all machine names sorted, numbered from 1. MACs and addresses derive from
(vlan, node), so every guest can compute every other guest's address. The one place for this:
the guest builder writes it into start scripts, the driver and the TUI read it back.
"""

from __future__ import annotations

from collections.abc import Iterable


def node_numbers(names: Iterable[str]) -> dict[str, int]:
    return {name: number for number, name in enumerate(sorted(names), start=1)}


def mac_address(vlan: int, node: int) -> str:
    return f"52:54:00:12:{vlan:02x}:{node:02x}"


def ipv4_address(vlan: int, node: int) -> str:
    return f"192.168.{vlan}.{node}"


def ipv6_address(vlan: int, node: int) -> str:
    """As network.nix writes it: the decimal numbers pasted into the hex groups."""
    return f"2001:db8:{vlan}::{node}"
