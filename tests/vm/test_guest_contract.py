"""The tiny guest honours the NixOS test-guest contract: real QEMU (TCG), real vde_switch.

Two guests boot from generated start scripts on one `vde_switch --hub` VLAN, driven by the
bring-up harness with upstream's command framing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytesseract
import pytest
from PIL import Image

from nixtest_tui.driver.vlan import VLan
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.smoke import SmokeMachine
from nixtest_tui.guests.startscript import write_network
from nixtest_tui.guests.topology import MachineSpec, Topology

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def pair(
    tiny_image: GuestImage, accelerator: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, SmokeMachine]]:
    work = tmp_path_factory.mktemp("pair")
    topology = Topology((MachineSpec("alice"), MachineSpec("bob")))
    write_network(topology, tiny_image, accelerator, work / "net", "start_all()\n")
    vlan = VLan(1, work)
    vlan.start()
    machines = {
        name: SmokeMachine(name, work / "net" / "bin" / f"run-{name}-vm",
                           work / f"vm-state-{name}", work / "shared-xchg")
        for name in ("alice", "bob")
    }
    try:
        for machine in machines.values():
            machine.start()
        for machine in machines.values():
            machine.wait_for_backdoor(timeout=120)
        yield machines
    finally:
        for machine in machines.values():
            machine.close()
        vlan.stop()


def test_commands_return_exact_stdout_and_status(pair: dict[str, SmokeMachine]) -> None:
    alice = pair["alice"]
    assert alice.execute("echo -n out; exit 3") == (3, "out")
    assert alice.execute("printf 'a\\n\\n\\n'") == (0, "a\n\n\n")
    assert alice.execute("echo one && echo two") == (0, "one\ntwo\n")
    assert alice.execute("false | true")[0] == 1  # pipefail, as upstream's framing sets
    assert alice.execute("echo $UNSET_VARIABLE")[0] != 0  # nounset
    assert alice.execute("printf '\\xff'")[1] == "\ufffd"


def test_command_stderr_goes_to_the_serial_console(pair: dict[str, SmokeMachine]) -> None:
    alice = pair["alice"]
    alice.execute("echo marker-on-stderr-42 >&2")
    deadline = time.monotonic() + 10
    while not any("marker-on-stderr-42" in line for line in alice.serial_lines):
        assert time.monotonic() < deadline, "stderr never reached the serial console"
        time.sleep(0.1)


def test_guest_timeout_exits_124(pair: dict[str, SmokeMachine]) -> None:
    assert pair["bob"].execute("sleep 5", timeout=1)[0] == 124


def test_guests_ping_each_other_by_name(pair: dict[str, SmokeMachine]) -> None:
    assert "192.168.1.2" in pair["alice"].succeed("ping -c 1 -W 5 bob")
    assert "192.168.1.1" in pair["bob"].succeed("ping -c 1 -W 5 alice")
    hosts = pair["alice"].succeed("cat /etc/hosts")
    assert "192.168.1.2 bob" in hosts and "2001:db8:1::2 bob" in hosts
    addresses = pair["bob"].succeed("ip addr show eth1")
    assert "192.168.1.2/24" in addresses and "2001:db8:1::2/64" in addresses
    assert "10.0.2.15/24" in pair["bob"].succeed("ip addr show eth0")


def test_shared_dir_is_visible_both_ways(pair: dict[str, SmokeMachine]) -> None:
    alice = pair["alice"]
    (alice.shared_dir / "from-host.txt").write_text("written on the host\n")
    assert alice.succeed("cat /tmp/shared/from-host.txt") == "written on the host\n"
    alice.succeed("echo written in the guest > /tmp/shared/from-guest.txt")
    assert (alice.shared_dir / "from-guest.txt").read_text() == "written in the guest\n"


def test_echo_service_answers_over_the_vlan(pair: dict[str, SmokeMachine]) -> None:
    assert pair["alice"].succeed("systemctl is-active echo.service") == "active\n"
    assert pair["bob"].execute("nc -z alice 7")[0] == 0
    assert pair["bob"].execute("nc -z alice 8")[0] != 0
    assert pair["bob"].succeed("echo ping-pong | nc -w 2 alice 7").strip() == "ping-pong"


def test_unit_states_look_like_systemd(pair: dict[str, SmokeMachine]) -> None:
    bob = pair["bob"]
    show = "systemctl show {} --property=ActiveState"
    assert bob.succeed(show.format("multi-user.target")) == "ActiveState=active\n"
    assert bob.succeed(show.format("nope.service")) == "ActiveState=inactive\n"
    assert "LoadState=not-found" in bob.succeed("systemctl --no-pager show nope")
    assert bob.execute("systemctl start broken.service")[0] != 0
    assert bob.succeed(show.format("broken.service")) == "ActiveState=failed\n"
    assert bob.execute("systemctl start nope")[0] == 5
    assert bob.execute("systemctl is-system-running") == (1, "degraded\n")
    assert bob.succeed("systemctl list-jobs --full 2>&1") == "No jobs running.\n"


def test_slow_unit_is_activating_with_a_pending_job(pair: dict[str, SmokeMachine]) -> None:
    alice = pair["alice"]
    alice.succeed("systemctl start --no-block slow.service")
    assert alice.succeed("systemctl show slow --property=ActiveState") == "ActiveState=activating\n"
    assert "slow.service" in alice.succeed("systemctl list-jobs --full")
    alice.succeed("while [ $(systemctl is-active slow) != active ]; do sleep 0.2; done", timeout=20)
    assert "slow service ready" in alice.succeed("journalctl -u slow")


def test_screendump_shows_the_tty0_text(pair: dict[str, SmokeMachine], tmp_path: Path) -> None:
    alice = pair["alice"]
    png = tmp_path / "screen.png"
    text = ""
    deadline = time.monotonic() + 60
    while not re.search(r"tiny test|login", text, re.IGNORECASE):
        assert time.monotonic() < deadline, f"OCR never found the login screen, last: {text!r}"
        alice.qmp("screendump", {"filename": str(png), "format": "png"})
        text = pytesseract.image_to_string(Image.open(png))
    assert Image.open(png).size[0] >= 640


def test_kernel_panic_ends_qemu(pair: dict[str, SmokeMachine]) -> None:
    alice = pair["alice"]
    assert alice.shell and alice.process
    alice.shell.sendall(b"echo c > /proc/sysrq-trigger\n")
    assert alice.process.wait(30) == 0
    assert any("Kernel panic" in line for line in alice.serial_lines)


def test_poweroff_ends_qemu(pair: dict[str, SmokeMachine]) -> None:
    bob = pair["bob"]
    started = time.monotonic()
    assert bob.poweroff(timeout=30) == 0
    assert bob.process is not None and bob.process.poll() == 0
    assert time.monotonic() - started < 30
