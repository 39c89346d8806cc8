"""Machine keys in the TUI act on what the user selected and finish what they start:
`s` after `K` brings the machine up (backdoor connected) without the script touching it,
and `b` on a machine's second-VLAN row unplugs that link, not the first-VLAN one (the guest
sees it: carrier 0 on eth2, 1 on eth1). One tiny guest."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import NetworkFactory, tui_session, until
from textual.widgets import TabbedContent

from nixtest_tui.app import NixtestApp
from nixtest_tui.driver.events import LinkChanged
from nixtest_tui.guests.netspec import MachineSpec
from nixtest_tui.widgets.machines import MachineList
from nixtest_tui.widgets.network_pane import TopologyPanel

pytestmark = pytest.mark.vm


async def test_start_connects_and_block_acts_on_the_selected_row(
        network: NetworkFactory, tmp_path: Path) -> None:
    config = network(MachineSpec("client", vlans=(1, 2)), script="client.succeed('true')\n")
    app = NixtestApp(tui_session(config, tmp_path))
    async with app.run_test(size=(140, 44)) as pilot:
        await until(lambda: app.sub_title.startswith("idle"))
        machines = app.query_one(MachineList)
        row = machines.rows_by_name["client"]
        machines.focus()
        await pilot.press("s")
        await until(lambda: row.state_label == "up", 180)
        await pilot.press("K")
        await until(lambda: row.state_label != "up", 60)
        await pilot.press("s")
        await until(lambda: row.state_label == "up", 180)  # not "booting" until the script
        assert app.script_state == "idle"

        app.query_one(TabbedContent).active = "pane-network"
        topology = app.query_one(TopologyPanel)
        topology.focus()
        topology.select_machine("client", 2)
        assert topology.selected == ("client", 2)
        await pilot.press("b")  # eth2 on vlan 2: that link, and only that one
        node = topology.model.machines["client"]
        await until(lambda: node.blocked_nics == {2}, 60)
        links = [e for e in app.session.bus.history() if isinstance(e, LinkChanged)]
        assert [(e.machine, e.blocked, e.nic) for e in links] == [("client", True, 2)]
        client = app.session.driver.machines[0]
        carrier = "cat /sys/class/net/eth1/carrier /sys/class/net/eth2/carrier"
        assert client.succeed(carrier).split() == ["1", "0"]
        await pilot.press("b")  # again: plugged back
        await until(lambda: not node.blocked_nics, 60)
        assert client.succeed(carrier).split() == ["1", "1"]
        await pilot.press("ctrl+q")
    assert not app.session.opened
