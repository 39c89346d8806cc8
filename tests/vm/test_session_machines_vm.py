"""Machine keys in the TUI act on what the user selected and finish what they start:
`s` after `K` brings the machine up (backdoor connected) without the script touching it,
and `b` on a machine's second-VLAN row never blocks its first-VLAN link. One tiny guest."""

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
        await pilot.press("b")  # eth2 on vlan 2: refused, nothing blocked
        topology.select_machine("client", 1)
        await pilot.press("b")  # eth1 on vlan 1: blocked
        await until(lambda: topology.model.machines["client"].blocked, 60)
        links = [e for e in app.session.bus.history() if isinstance(e, LinkChanged)]
        assert [(e.machine, e.blocked) for e in links] == [("client", True)]
        await pilot.press("ctrl+q")
    assert not app.session.opened
