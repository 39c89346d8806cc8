"""Our guests behave as a NixOS test VM wherever a test script can look (docs/guest-contract.md).

One boot per flavour (the tiny guest boots three machines, for the node-name scenario), many
assertions, all through the driver. Two of nixpkgs' own driver tests are re-created here in our
words: `console-log` (a kernel message and a stderr line reach `get_console_log()`, and a
restarted machine's log starts fresh) and `node-name` (`ok`, `one_two` and `a-b` answer
`hostname` with `ok`, `onetwo` and `a-b`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import container_processes_under, logged_driver

from nixtest_tui.driver import Driver, QemuMachine
from nixtest_tui.driver.config import load_driver_configuration
from nixtest_tui.driver.nspawn import NspawnMachine
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network

MINUTE = timedelta(minutes=1)
# nixpkgs' node-name test: node name → the host name the guest must answer with
NODE_NAMES = {"ok": "ok", "one_two": "onetwo", "a-b": "a-b"}
INSTRUMENTATION_PARAMS = ("console=ttyS0", "console=tty0", "panic=1", "boot.panic_on_fail",
                          "clocksource=acpi_pm", "loglevel=7", "net.ifnames=0")
# the terminals (stdin) of the processes whose argv[0] matches a bash pattern, with builtins
# only (the tiny guest's busybox has no pgrep, and Debian's agetty does not name its tty)
TTYS_OF = ("for d in /proc/[0-9]*; do { IFS= read -r -d '' a < $d/cmdline; } 2>/dev/null "
           "|| continue; if [[ $a == PATTERN ]]; then readlink $d/fd/0 || true; fi; done")
GETTYS = TTYS_OF.replace("PATTERN", "*getty")
LOGIN_SHELLS = TTYS_OF.replace("PATTERN", "-bash")


@dataclass
class Guest:
    flavour: str
    driver: Driver

    def machine(self, name: str) -> QemuMachine:
        machine = next(m for m in self.driver.machines if m.name == name)
        assert isinstance(machine, QemuMachine)
        return machine

    @property
    def main(self) -> QemuMachine:
        """`one_two`: every contract assertion runs on a machine whose names differ."""
        return self.machine("one_two")


@pytest.fixture(scope="module", params=[
    "tiny", pytest.param("debian", marks=pytest.mark.systemd)])
def guest(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          accelerator: str) -> Iterator[Guest]:
    flavour: str = request.param
    image: GuestImage = request.getfixturevalue(f"{flavour}_image")
    names = tuple(NODE_NAMES) if flavour == "tiny" else ("one_two",)
    root = tmp_path_factory.mktemp(f"contract-{flavour}")
    with logged_driver(root, image, accelerator, *names) as (driver, _log):
        driver.start_all()
        for machine in driver.machines:
            machine.wait_for_unit("multi-user.target", timeout=5 * MINUTE)
        yield Guest(flavour, driver)


def words(machine: QemuMachine, command: str) -> list[str]:
    return machine.succeed(command).split()


def wait_for_console(read_log: Callable[[], str], *needles: str, seconds: float = 120) -> str:
    """The console log once it holds every needle (polled: lines arrive asynchronously)."""
    deadline = time.monotonic() + seconds
    while True:
        log = read_log()
        missing = [needle for needle in needles if needle not in log]
        if not missing:
            return log
        assert time.monotonic() < deadline, f"never on the console: {missing}"
        time.sleep(0.2)


def test_host_name_is_the_node_name_without_underscores(guest: Guest) -> None:
    for machine in guest.driver.machines:
        assert machine.succeed("hostname") == f"{NODE_NAMES[machine.name]}\n"
        assert machine.succeed("cat /etc/hostname") == f"{NODE_NAMES[machine.name]}\n"
    hosts = guest.main.succeed("cat /etc/hosts")
    named = {line.split()[1] for line in hosts.splitlines() if line.startswith("192.168.1.")}
    expected = {NODE_NAMES[m.name] for m in guest.driver.machines}
    assert named == expected, hosts  # /etc/hosts knows host names, never node names
    assert "one_two" not in hosts


def test_kernel_command_line_is_a_test_vms(guest: Guest) -> None:
    cmdline = words(guest.main, "cat /proc/cmdline")
    for param in INSTRUMENTATION_PARAMS:
        assert param in cmdline
    consoles = [word for word in cmdline if word.startswith("console=")]
    assert consoles[-2:] == ["console=tty0", "console=ttyS0,115200n8"]  # as qemu-vm.nix's
    assert words(guest.main, "cat /proc/sys/kernel/printk")[0] == "7"  # consoleLogLevel
    assert guest.main.succeed("cat /proc/sys/kernel/panic") == "1\n"
    clock = "/sys/devices/system/clocksource/clocksource0/current_clocksource"
    assert guest.main.succeed(f"cat {clock}") == "acpi_pm\n"


def test_instrumentation_sysctls(guest: Guest) -> None:
    assert guest.main.succeed("cat /proc/sys/vm/panic_on_oom") == "2\n"
    assert guest.main.succeed("cat /proc/sys/kernel/hung_task_timeout_secs") == "600\n"


def test_kernel_message_and_stderr_reach_the_console_log(guest: Guest) -> None:
    """nixpkgs' console-log test: a /dev/kmsg line needs console log level 7 to get there."""
    guest.main.succeed("echo KERNEL_CONTRACT_MESSAGE_4711 > /dev/kmsg")
    guest.main.succeed("echo DIRECT_CONTRACT_MESSAGE_4711 >&2")
    guest.main.succeed("echo CONSOLE_CONTRACT_MESSAGE_4711 > /dev/console")  # ttyS0 is last
    log = wait_for_console(guest.main.get_console_log, "KERNEL_CONTRACT_MESSAGE_4711",
                           "DIRECT_CONTRACT_MESSAGE_4711", "CONSOLE_CONTRACT_MESSAGE_4711")
    assert "Linux version" in log and "Kernel command line" in log
    assert "systemd" in log  # the service manager's journal lines, as nixpkgs' test expects
    assert len(guest.main.get_console_log()) >= len(log)


def test_journal_reaches_the_serial_console_at_debug_level(guest: Guest) -> None:
    guest.main.succeed("echo DEBUG_CONTRACT_LINE | systemd-cat -t contract -p debug")
    log = wait_for_console(guest.main.get_console_log, "DEBUG_CONTRACT_LINE")
    line = next(line for line in log.splitlines() if "DEBUG_CONTRACT_LINE" in line)
    assert "contract[" in line
    assert "[  OK  ]" not in log  # ShowStatus=no: the journal has the manager's lines instead
    assert re.search(r"systemd\[1\]: Reached target .*Multi-User System", log)


def test_backdoor_environment(guest: Guest) -> None:
    fields = guest.main.succeed(
        'printf "%s|" "$USER" "$HOME" "$DISPLAY" "${PAGER-unset}" "$PWD" '
        '"${TESTGUEST_PROFILE-not sourced}"')
    assert fields == "root|/root|:0.0||/tmp|sourced|"
    assert guest.main.succeed("id -u") == "0\n"


def test_classic_interface_names(guest: Guest) -> None:
    assert words(guest.main, "ls /sys/class/net") == ["eth0", "eth1", "lo"]
    assert "10.0.2.15/24" in guest.main.succeed("ip -4 addr show eth0")
    assert "192.168.1." in guest.main.succeed("ip -4 addr show eth1")


def test_no_default_route_and_no_name_servers(guest: Guest) -> None:
    assert guest.main.succeed("ip -4 route show default") == ""
    assert guest.main.succeed("ip -6 route show default") == ""  # no RA from QEMU's user net
    guest.main.fail("grep -s nameserver /etc/resolv.conf")


def test_no_getty_on_the_serial_port_or_hvc0(guest: Guest) -> None:
    guest.main.wait_until_succeeds(f"{GETTYS} | grep -qx /dev/tty1", timeout=2 * MINUTE)
    ttys = guest.main.succeed(GETTYS).split()
    assert "/dev/ttyS0" not in ttys and "/dev/hvc0" not in ttys, ttys


def test_systemd_manager_settings(guest: Guest) -> None:
    if guest.flavour == "tiny":
        pytest.skip("the tiny guest has no service manager to configure "
                    "(docs/guest-contract.md)")
    shown = guest.main.succeed(
        "systemctl show -p ShowStatus -p DefaultTimeoutStartUSec -p DefaultDeviceTimeoutUSec")
    assert sorted(shown.splitlines()) == [
        "DefaultDeviceTimeoutUSec=5min", "DefaultTimeoutStartUSec=5min", "ShowStatus=no"]
    user = guest.main.succeed("systemd-analyze cat-config systemd/user.conf")
    assert "DefaultTimeoutStartSec=300" in user and "DefaultDeviceTimeoutSec=300" in user
    assert guest.main.succeed(
        "systemctl is-enabled serial-getty@ttyS0.service serial-getty@hvc0.service || true"
    ).split() == ["masked", "masked"]


def test_root_logs_in_on_the_vga_console_without_a_password(guest: Guest) -> None:
    assert guest.main.succeed(LOGIN_SHELLS) == ""
    guest.main.wait_until_succeeds(f"{GETTYS} | grep -qx /dev/tty1", timeout=2 * MINUTE)
    guest.main.send_chars("root\n")
    guest.main.wait_until_succeeds(f"{LOGIN_SHELLS} | grep -qx /dev/tty1", timeout=2 * MINUTE)


def test_console_log_starts_fresh_after_a_restart(guest: Guest) -> None:
    """nixpkgs' console-log test, last part: shutdown() and start() clear the log."""
    machine = guest.machine("ok") if guest.flavour == "tiny" else guest.main
    machine.succeed("echo BEFORE_RESTART_KMSG_4711 > /dev/kmsg; "
                    "echo BEFORE_RESTART_STDERR_4711 >&2")
    wait_for_console(machine.get_console_log, "BEFORE_RESTART_KMSG_4711",
                     "BEFORE_RESTART_STDERR_4711")
    machine.shutdown()
    machine.start()
    machine.wait_for_unit("multi-user.target", timeout=5 * MINUTE)
    log = machine.get_console_log()
    assert "BEFORE_RESTART" not in log
    assert "Linux version" in log and "systemd" in log
    machine.succeed("echo AFTER_RESTART_KMSG_4711 > /dev/kmsg")
    wait_for_console(machine.get_console_log, "AFTER_RESTART_KMSG_4711")


@pytest.mark.container
@pytest.mark.systemd
def test_container_host_name_environment_and_network(
        tmp_path: Path, debian_image: GuestImage) -> None:
    """What applies to a container (it shares the host's kernel: no command line, sysctls)."""
    topology = Topology((MachineSpec("c_one", vlans=(), kind="container"),))
    config_path = write_network(topology, debian_image, "tcg", tmp_path / "net", "",
                                container_tree=debian_image.rootfs_tree)
    (tmp_path / "state").mkdir()
    with Driver(load_driver_configuration(config_path), out_dir=tmp_path,
                tmp_dir=tmp_path / "state") as driver:
        (machine,) = driver.machines
        assert isinstance(machine, NspawnMachine)
        machine.start()
        machine.wait_for_unit("multi-user.target", timeout=2 * MINUTE)
        assert machine.succeed("hostname") == "cone\n"
        assert machine.succeed("cat /etc/hostname") == "cone\n"
        fields = machine.succeed('printf "%s|" "$USER" "$HOME" "$DISPLAY" "${PAGER-unset}" '
                                 '"${TESTGUEST_PROFILE-not sourced}"')
        assert fields == "root|/root|:0.0||sourced|"
        assert machine.succeed("ip route show default; ip -6 route show default") == ""
        machine.fail("grep -s nameserver /etc/resolv.conf")
        assert machine.succeed("systemctl show -p ShowStatus") == "ShowStatus=no\n"
        machine.succeed("echo CONTAINER_DEBUG_LINE | systemd-cat -t contract -p debug")
        # a container's console is its journal (it has no serial port)
        wait_for_console(lambda: "\n".join(machine.full_console_log), "CONTAINER_DEBUG_LINE")
    assert container_processes_under(tmp_path) == []
