"""The network tab: the model read from real start scripts, a snapshot, and block/ping on guests.

The model and snapshot tests need no VM: the start scripts are written for an image that does
not exist, which is fine as long as nothing boots. The Pilot test blocks a real link.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from conftest import NetworkFactory, tui_session, until
from textual.pilot import Pilot
from textual.widgets import Input, TabbedContent

from nixtest_tui.app import NixtestApp
from nixtest_tui.driver.config import (
    DriverConfiguration,
    MachineConfig,
    load_driver_configuration,
)
from nixtest_tui.driver.events import LinkChanged, MachineStateChanged
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network
from nixtest_tui.network_model import NetworkModel, parse_nics
from nixtest_tui.session import Session
from nixtest_tui.widgets.network_pane import TopologyPanel

DEMO = Topology((MachineSpec("server", (1, 2)), MachineSpec("client", (1,)),
                 MachineSpec("outsider", (2,))))


def demo_config(root: Path) -> DriverConfiguration:
    image = GuestImage("tiny", root / "no-image", {})
    return load_driver_configuration(write_network(DEMO, image, "tcg", root / "net", ""))


def test_model_from_start_scripts(tmp_path: Path) -> None:
    model = NetworkModel.from_config(demo_config(tmp_path))
    assert model.vlans == [1, 2]
    assert [m.node for m in model.machines.values()] == [1, 2, 3]  # client, outsider, server
    server = model.machines["server"]
    assert [(n.interface, n.vlan, n.mac, n.ipv4, n.ipv6) for n in server.nics] == [
        ("eth1", 1, "52:54:00:12:01:03", "192.168.1.3", "2001:db8:1::3"),
        ("eth2", 2, "52:54:00:12:02:03", "192.168.2.3", "2001:db8:2::3"),
    ]
    edges = {vlan: [(m.name, nic.interface) for m, nic in model.members(vlan)]
             for vlan in model.vlans}
    assert edges == {1: [("client", "eth1"), ("server", "eth1")],
                     2: [("outsider", "eth1"), ("server", "eth2")]}
    assert not server.assumed and server.restricted
    lines = model.lines()
    assert lines[0].split() == ["switch", "nic", "machine", "state", "mac", "ipv4", "ipv6",
                                "link", "ping"]
    assert lines[1].split() == ["vlan", "1", "┬", "eth1", "client", "off", "52:54:00:12:01:01",
                                "192.168.1.1", "2001:db8:1::1", "up"]
    assert lines[4].split()[:3] == ["└", "eth2", "server"]
    assert lines[5].split() == ["user-mode", "eth0", "all", "3", "-", "52:54:00:12:34:56",
                                "10.0.2.15", "-", "restricted"]


def test_events_block_only_the_first_nic_and_a_restart_clears_it(tmp_path: Path) -> None:
    model = NetworkModel.from_config(demo_config(tmp_path))
    assert model.handle(LinkChanged(machine="server", blocked=True))
    server = {row.interface: row.link for row in model.rows() if row.machine == "server"}
    assert server == {"eth1": "blocked", "eth2": "up"}
    model.handle(MachineStateChanged(machine="server", state="connected"))
    assert model.machines["server"].state_label == "up" and model.machines["server"].blocked
    model.handle(MachineStateChanged(machine="server", state="starting"))
    assert not model.machines["server"].blocked
    probe = model.probe("client", model.peers("client", 1)[0])
    probe.ok, probe.detail = False, "2.0 s"
    assert "ping client -> server (192.168.1.3): FAILED 2.0 s" in model.lines()
    assert [r.ping for r in model.rows() if r.machine == "server" and r.vlan == 1] == \
        ["from client: FAILED 2.0 s"]


def test_parsing_takes_the_script_order_and_falls_back_to_the_config(tmp_path: Path) -> None:
    script = ("-device virtio-net-pci,netdev=vlan1,mac=52:54:00:12:07:02 "
              "-netdev vde,id=vlan1,sock=\"$QEMU_VDE_SOCKET_7\" "
              "-device virtio-net-pci,netdev=vlan2,mac=52:54:00:12:03:02 ")  # no netdev: MAC
    assert [(n.interface, n.vlan) for n in parse_nics(script, "b", 2)] == [("eth1", 7),
                                                                          ("eth2", 3)]
    config = DriverConfiguration(vms={"a": MachineConfig("a", "/nonexistent/run-a-vm")},
                                 test_script=tmp_path / "script", vlans=[2, 1])
    machine = NetworkModel.from_config(config).machines["a"]
    assert machine.assumed and [(n.interface, n.vlan, n.ipv4) for n in machine.nics] == [
        ("eth1", 1, "192.168.1.1"), ("eth2", 2, "192.168.2.1")]


def test_network_tab_snapshot(snap_compare: Any, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The network tab of the three-machine demo, nothing booted: two VLAN blocks (server on
    both, as eth1 and eth2), the user-mode row, the cursor on the first row."""
    monkeypatch.setattr(Input, "cursor_blink", False)
    config = demo_config(tmp_path)
    # no VLAN switches: nothing boots, so the snapshot has no pids or paths
    config = DriverConfiguration(vms=config.vms, test_script=config.test_script)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    app = NixtestApp(Session(config, tmp_path, tmp_dir=runtime))

    async def run_before(pilot: Pilot[Any]) -> None:
        for _ in range(100):
            if app.sub_title.startswith("idle"):
                break
            await asyncio.sleep(0.05)
        app.query_one(TabbedContent).active = "pane-network"
        app.query_one(TopologyPanel).focus()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)



@pytest.mark.vm
async def test_block_and_ping_from_the_panel(network: NetworkFactory, tmp_path: Path) -> None:
    config = network("alice", "bob", script='start_all()\nalice.succeed("true")\n'
                                            'bob.succeed("true")\n')
    app = NixtestApp(tui_session(config, tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.sub_title.startswith("idle"))
        await pilot.press("f5")
        await until(lambda: app.sub_title == "finished")
        app.query_one(TabbedContent).active = "pane-network"
        panel = app.query_one(TopologyPanel)
        panel.focus()
        await until(lambda: "up" in [m.state_label for m in panel.model.machines.values()])
        panel.select_machine("alice")
        bob_row = next(r for r in panel.model.rows() if r.machine == "bob")

        def ping_to_bob() -> str:
            return next(r.ping for r in panel.model.rows() if r.machine == "bob")

        await pilot.press("b")
        await until(lambda: panel.model.machines["alice"].blocked)
        assert "blocked" in panel.text()
        await pilot.press("p")
        await until(lambda: ping_to_bob().startswith("from alice: FAILED"))
        alice = app.session.machine("alice")
        assert alice.execute(f"ping -c 1 -W 1 {bob_row.ipv4}")[0] != 0

        await pilot.press("b")
        await until(lambda: not panel.model.machines["alice"].blocked)
        await pilot.press("p")
        await until(lambda: ping_to_bob().startswith("from alice: ok"))
        assert f"ping alice -> bob ({bob_row.ipv4}): ok" in panel.text()
        await pilot.press("q")
