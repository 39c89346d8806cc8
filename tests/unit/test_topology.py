"""Node numbering and addressing follow nixpkgs' network.nix."""

from __future__ import annotations

import pytest

from nixtest_tui.guests.netspec import (
    MachineSpec,
    Topology,
    TopologyError,
    ipv4_address,
    ipv6_address,
    mac_address,
)


def test_nodes_are_numbered_by_sorted_name() -> None:
    topology = Topology((MachineSpec("server"), MachineSpec("client"), MachineSpec("b-box")))
    assert [topology.node_number(n) for n in ("b-box", "client", "server")] == [1, 2, 3]


def test_vlans_are_the_sorted_union() -> None:
    topology = Topology((MachineSpec("a", vlans=(2, 1)), MachineSpec("b", vlans=(2, 5))))
    assert topology.vlans == [1, 2, 5]


def test_addresses_and_mac() -> None:
    assert mac_address(1, 2) == "52:54:00:12:01:02"
    assert mac_address(16, 254) == "52:54:00:12:10:fe"
    assert ipv4_address(2, 11) == "192.168.2.11"
    assert ipv6_address(2, 11) == "2001:db8:2::11"  # decimal digits, as network.nix writes


def test_hosts_use_each_machines_first_vlan() -> None:
    topology = Topology((MachineSpec("b", vlans=(2, 1)), MachineSpec("a", vlans=(1,)),
                         MachineSpec("c", vlans=())))
    assert topology.hosts_entries() == [("a", 1, 1), ("b", 2, 2)]


@pytest.mark.parametrize(
    ("machines", "message"),
    [
        ((), "at least one"),
        ((MachineSpec("a"), MachineSpec("a")), "unique"),
        ((MachineSpec("a b"),), "letters"),
        ((MachineSpec("a", vlans=(0,)),), "VLAN 0"),
    ],
)
def test_bad_topologies_are_refused_with_the_reason(
    machines: tuple[MachineSpec, ...], message: str
) -> None:
    with pytest.raises(TopologyError, match=message):
        Topology(machines)
