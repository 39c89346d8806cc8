"""The tiny guest honours the NixOS test-guest contract: real QEMU (TCG), real vde_switch.

Two guests boot from generated start scripts on one `vde_switch --hub` VLAN, driven by the
driver's own `QemuMachine` (the channel users run, not a second implementation of it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytesseract
import pytest
from conftest import logged_driver
from PIL import Image

from nixtest_tui.driver import QemuMachine
from nixtest_tui.guests.image import GuestImage

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def pair(tiny_image: GuestImage, accelerator: str, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[dict[str, QemuMachine]]:
    work = tmp_path_factory.mktemp("pair")
    with logged_driver(work, tiny_image, accelerator, "alice", "bob") as (driver, _log):
        machines = {m.name: m for m in driver.machines if isinstance(m, QemuMachine)}
        for machine in machines.values():
            machine.start()
        for machine in machines.values():
            machine.connect()
        yield machines


def run(machine: QemuMachine, command: str, timeout: float = 60) -> tuple[int, str]:
    return machine.execute(command, timeout=timedelta(seconds=timeout))


def test_commands_return_exact_stdout_and_status(pair: dict[str, QemuMachine]) -> None:
    alice = pair["alice"]
    assert run(alice, "echo -n out; exit 3") == (3, "out")
    assert run(alice, "printf 'a\\n\\n\\n'") == (0, "a\n\n\n")
    assert run(alice, "echo one && echo two") == (0, "one\ntwo\n")
    assert run(alice, "false | true")[0] == 1  # pipefail, as upstream's framing sets
    assert run(alice, "echo $UNSET_VARIABLE")[0] != 0  # nounset
    assert run(alice, "printf '\\xff'")[1] == "\ufffd"


def test_command_stderr_goes_to_the_serial_console(pair: dict[str, QemuMachine]) -> None:
    alice = pair["alice"]
    run(alice, "echo marker-on-stderr-42 >&2")
    deadline = time.monotonic() + 10
    while not any("marker-on-stderr-42" in line for line in alice.full_console_log):
        assert time.monotonic() < deadline, "stderr never reached the serial console"
        time.sleep(0.1)


def test_guest_timeout_exits_124(pair: dict[str, QemuMachine]) -> None:
    assert run(pair["bob"], "sleep 5", timeout=1)[0] == 124


def test_guests_ping_each_other_by_name(pair: dict[str, QemuMachine]) -> None:
    assert "192.168.1.2" in pair["alice"].succeed("ping -c 1 -W 5 bob")
    assert "192.168.1.1" in pair["bob"].succeed("ping -c 1 -W 5 alice")
    hosts = pair["alice"].succeed("cat /etc/hosts")
    assert "192.168.1.2 bob" in hosts and "2001:db8:1::2 bob" in hosts
    addresses = pair["bob"].succeed("ip addr show eth1")
    assert "192.168.1.2/24" in addresses and "2001:db8:1::2/64" in addresses
    assert "10.0.2.15/24" in pair["bob"].succeed("ip addr show eth0")


def test_shared_dir_is_visible_both_ways(pair: dict[str, QemuMachine]) -> None:
    alice = pair["alice"]
    (alice.shared_dir / "from-host.txt").write_text("written on the host\n")
    assert alice.succeed("cat /tmp/shared/from-host.txt") == "written on the host\n"
    alice.succeed("echo written in the guest > /tmp/shared/from-guest.txt")
    assert (alice.shared_dir / "from-guest.txt").read_text() == "written in the guest\n"


def test_echo_service_answers_over_the_vlan(pair: dict[str, QemuMachine]) -> None:
    assert pair["alice"].succeed("systemctl is-active echo.service") == "active\n"
    assert run(pair["bob"], "nc -z alice 7")[0] == 0
    assert run(pair["bob"], "nc -z alice 8")[0] != 0
    assert pair["bob"].succeed("echo ping-pong | nc -w 2 alice 7").strip() == "ping-pong"


def test_unit_states_look_like_systemd(pair: dict[str, QemuMachine]) -> None:
    bob = pair["bob"]
    show = "systemctl show {} --property=ActiveState"
    assert bob.succeed(show.format("multi-user.target")) == "ActiveState=active\n"
    assert bob.succeed(show.format("nope.service")) == "ActiveState=inactive\n"
    assert "LoadState=not-found" in bob.succeed("systemctl --no-pager show nope")
    assert run(bob, "systemctl start broken.service")[0] != 0
    assert bob.succeed(show.format("broken.service")) == "ActiveState=failed\n"
    assert run(bob, "systemctl start nope")[0] == 5
    assert run(bob, "systemctl is-system-running") == (1, "degraded\n")
    assert bob.succeed("systemctl list-jobs --full 2>&1") == "No jobs running.\n"


def test_slow_unit_is_activating_with_a_pending_job(pair: dict[str, QemuMachine]) -> None:
    alice = pair["alice"]
    alice.succeed("systemctl start --no-block slow.service")
    assert alice.succeed("systemctl show slow --property=ActiveState") == "ActiveState=activating\n"
    assert "slow.service" in alice.succeed("systemctl list-jobs --full")
    alice.succeed("while [ $(systemctl is-active slow) != active ]; do sleep 0.2; done",
                  timeout=timedelta(seconds=20))
    assert "slow service ready" in alice.succeed("journalctl -u slow")


def test_screendump_shows_the_tty0_text(pair: dict[str, QemuMachine], tmp_path: Path) -> None:
    alice = pair["alice"]
    png = tmp_path / "screen.png"
    text = ""
    deadline = time.monotonic() + 60
    while not re.search(r"tiny test|login", text, re.IGNORECASE):
        assert time.monotonic() < deadline, f"OCR never found the login screen, last: {text!r}"
        assert alice.qmp_client is not None
        alice.qmp_client.send("screendump", {"filename": str(png), "format": "png"})
        text = pytesseract.image_to_string(Image.open(png))
    assert Image.open(png).size[0] >= 640


def test_kernel_panic_ends_qemu(pair: dict[str, QemuMachine]) -> None:
    alice = pair["alice"]
    assert alice.shell and alice.process
    alice.shell.send_raw(b"echo c > /proc/sysrq-trigger\n")
    assert alice.process.wait(30) == 0
    deadline = time.monotonic() + 10
    while not any("Kernel panic" in line for line in alice.full_console_log):
        assert time.monotonic() < deadline, "the panic never reached the serial console"
        time.sleep(0.1)


def test_poweroff_ends_qemu(pair: dict[str, QemuMachine]) -> None:
    bob = pair["bob"]
    process = bob.process
    bob.shutdown()
    assert process is not None and process.poll() == 0
