"""Host names of test machines, as NixOS test VMs get them from their node names.

A node name is a Python identifier-ish word (`one_two`, `a-b`), but a host name may not hold
an underscore: nixpkgs' test framework drops underscores, so node `one_two` answers `hostname`
with `onetwo` while `a-b` stays `a-b` (nixpkgs' `nixos-test-driver.node-name` test). Every
guest-facing name (the `hostname`, `/etc/hosts`) goes through here; the driver keeps the node
name for the Python variable and the state directory.
"""

from __future__ import annotations

from nixtest_tui.guests.netspec import Topology


def host_name(node_name: str) -> str:
    """`one_two` → `onetwo`; every other character stays."""
    return node_name.replace("_", "")


def hosts_param(topology: Topology) -> str:
    """The value of `testguest.hosts=`: `<host>/<vlan>/<node>` per machine with a VLAN."""
    return ",".join(f"{host_name(name)}/{vlan}/{node}"
                    for name, vlan, node in topology.hosts_entries())
