"""The TUI with a container next to a VM: same panes, the journal as console, VM-only
actions refused with a message."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import tui_session, until

from nixtest_tui.app import NixtestApp
from nixtest_tui.driver.config import load_driver_configuration
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network
from nixtest_tui.widgets.console import SerialConsole
from nixtest_tui.widgets.machines import MachineList

pytestmark = [pytest.mark.container, pytest.mark.vm]

SCRIPT = """\
start_all()
web.wait_for_unit("multi-user.target")
web.succeed("echo shown-in-the-tui | systemd-cat -t demo")
vm.succeed("true")
"""


async def test_container_console_is_its_journal(tmp_path: Path, debian_image: GuestImage,
                                               tiny_image: GuestImage) -> None:
    topology = Topology((MachineSpec("web", vlans=(), kind="container"),
                         MachineSpec("vm", vlans=())))
    config = load_driver_configuration(write_network(
        topology, tiny_image, "tcg", tmp_path / "net", SCRIPT,
        container_tree=debian_image.rootfs_tree))
    app = NixtestApp(tui_session(config, tmp_path))
    async with app.run_test(size=(130, 40)) as pilot:
        await until(lambda: app.sub_title.startswith("idle"))
        rows = app.query_one(MachineList).rows_by_name
        assert (rows["web"].backend, rows["web"].accelerator) == ("container", "nspawn")
        await pilot.press("f5")
        await until(lambda: app.sub_title == "finished", seconds=180)
        assert rows["web"].state_label == "up"  # ready on the notify socket, like a VM's backdoor
        app.open_console("web")
        console = app.query_one("#console-web", SerialConsole)
        await until(lambda: "shown-in-the-tui" in console.plain_text())
        assert "read-only" in str(console.border_title)
        console.focus()
        await pilot.press("i")
        assert not console.input_mode  # a journal takes no keys
        await pilot.press("q")
