"""Shell lines in a real systemd-nspawn container (the debian tree): same behaviour as on a
VM, with the line's stderr reported by itself (a container's command stderr is no console)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from conftest import container_processes_under, wait_until

from nixtest_tui.driver.config import load_driver_configuration
from nixtest_tui.driver.driver import Driver
from nixtest_tui.driver.nspawn import NspawnMachine
from nixtest_tui.driver.shell_line import CANCELLED_STATUS, LineResult, ShellSession
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network

pytestmark = [pytest.mark.container, pytest.mark.vm]


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory, debian_image: GuestImage,
        tiny_image: GuestImage) -> Iterator[NspawnMachine]:
    root = tmp_path_factory.mktemp("shell-container")
    topology = Topology((MachineSpec("box", vlans=(), kind="container"),))
    config = write_network(topology, tiny_image, "tcg", root / "net", "",
                           container_tree=debian_image.rootfs_tree)
    (root / "state").mkdir()
    with Driver(load_driver_configuration(config), out_dir=root, tmp_dir=root / "state") as driver:
        [machine] = driver.machines
        assert isinstance(machine, NspawnMachine)
        machine.start()
        yield machine
    assert container_processes_under(root) == []


def test_lines_cd_and_stderr_in_a_container(box: NspawnMachine) -> None:
    shell = ShellSession(box)
    answer = shell.run("echo $((6*7)); echo oops >&2; exit 5")
    assert (answer.status, answer.stdout, answer.stderr) == (5, b"42\n", b"oops\n")
    assert answer.console == []
    assert shell.run("cd /etc && hostname").stdout == b"box\n"
    assert shell.run("pwd").stdout == b"/etc\n"


def test_ctrl_c_in_a_container_kills_the_command(box: NspawnMachine) -> None:
    shell = ShellSession(box)
    results: list[LineResult] = []
    thread = threading.Thread(target=lambda: results.append(shell.run("sleep 222")))
    thread.start()
    wait_until(lambda: box.execute("pgrep -f '[s]leep 222'")[0] == 0, 30, "the line running")
    shell.cancel()
    thread.join(30)
    assert results and results[0].status == CANCELLED_STATUS
    wait_until(lambda: box.execute("pgrep -f '[s]leep 222'")[0] != 0, 20, "sleep killed")
    assert shell.run("echo ok").stdout == b"ok\n"
