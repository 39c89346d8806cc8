"""The driver's systemd methods against real systemd: one debian VM (QEMU, TCG), booted once.

The tiny guest's systemctl stand-in proves the driver's parsing and control flow; these tests
prove the same calls against systemd 252 itself: job queues, failed units, `--user` through
logind, socket activation, the journal on the serial console, and a reboot. Each debian boot
costs ~10-25 s under TCG, so the whole module shares one machine, started with
`allow_reboot=True` so that the last test can reboot it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import logged_driver

from nixtest_tui.driver import QemuMachine, RequestedAssertionFailed
from nixtest_tui.guests.image import GuestImage

pytestmark = [pytest.mark.vm, pytest.mark.systemd]
MINUTE = timedelta(minutes=1)


class Guest:
    def __init__(self, machine: QemuMachine, log: io.StringIO) -> None:
        self.machine = machine
        self.log = log


@pytest.fixture(scope="module")
def guest(tmp_path_factory: pytest.TempPathFactory, debian_image: GuestImage,
          accelerator: str) -> Iterator[Guest]:
    root = tmp_path_factory.mktemp("systemd")
    with logged_driver(root, debian_image, accelerator, "server") as (driver, log):
        (machine,) = driver.machines
        assert isinstance(machine, QemuMachine)
        machine.start(allow_reboot=True)
        yield Guest(machine, log)


def test_boots_to_running_with_the_backdoor_as_a_unit(guest: Guest) -> None:
    server = guest.machine
    server.wait_for_unit("multi-user.target")
    assert server.succeed("systemctl is-system-running --wait") == "running\n"
    assert server.get_unit_info("backdoor.service")["ActiveState"] == "active"
    assert server.succeed("systemctl --failed --no-legend --plain") == ""
    assert server.succeed("readlink /proc/1/exe") == "/usr/lib/systemd/systemd\n"
    assert server.succeed("hostname") == "server\n"


def test_wait_for_unit_follows_a_real_job(guest: Guest) -> None:
    server = guest.machine
    # a oneshot stays "activating" while it runs: the wait sees a real job in progress
    server.succeed("systemd-run --unit=slow-start --no-block -p Type=oneshot "
                   "-p RemainAfterExit=yes /bin/sleep 2")
    server.wait_for_unit("slow-start.service", timeout=MINUTE)
    assert server.get_unit_property("slow-start.service", "Result") == "success"
    assert "waiting for unit slow-start.service" in guest.log.getvalue()


def test_wait_for_unit_fails_fast_on_a_failed_unit(guest: Guest) -> None:
    server = guest.machine
    server.systemctl("start --no-block broken.service")
    with pytest.raises(RequestedAssertionFailed,
                       match=re.escape('unit "broken.service" reached state "failed"')):
        server.wait_for_unit("broken.service", timeout=MINUTE)
    assert server.get_unit_property("broken.service", "Result") == "exit-code"
    server.succeed("systemctl reset-failed broken.service")


def test_wait_for_unit_fails_fast_on_an_inactive_unit_without_jobs(guest: Guest) -> None:
    server = guest.machine
    for unit in ("hello.service", "no-such-unit.service"):
        message = f'unit "{unit}" is inactive and there are no pending jobs'
        with pytest.raises(RequestedAssertionFailed, match=re.escape(message)):
            server.wait_for_unit(unit, timeout=MINUTE)
    assert server.get_unit_info("no-such-unit.service")["LoadState"] == "not-found"


def test_unit_info_and_properties(guest: Guest) -> None:
    server = guest.machine
    status, _ = server.start_job("hello.service")
    assert status == 0
    info = server.get_unit_info("hello.service")
    assert (info["Type"], info["ActiveState"], info["SubState"]) == ("oneshot", "active", "exited")
    assert info["Description"] == "Hello (demo oneshot)"
    assert server.get_unit_property("echo.socket", "Accept") == "yes"
    server.require_unit_state("hello.service", "active")
    assert server.stop_job("hello.service")[0] == 0
    with pytest.raises(RequestedAssertionFailed, match="to to be in state 'active'"):
        server.require_unit_state("hello.service")


def test_user_units_through_su_and_logind(guest: Guest) -> None:
    server = guest.machine
    status, output = server.systemctl("start hello-user.service", user="alice")
    assert status == 0, output
    server.wait_for_unit("hello-user.service", user="alice", timeout=MINUTE)
    assert server.get_unit_property("hello-user.service", "ActiveState", user="alice") == "active"
    info = server.get_unit_info("hello-user.service", user="alice")
    assert info["Description"] == "Hello (demo user service)"
    assert "waiting for unit hello-user.service with user alice" in guest.log.getvalue()
    assert server.succeed("loginctl list-users --no-legend").split()[:2] == ["1000", "alice"]
    message = 'unit "no-such-user-unit.service" is inactive and there are no pending jobs'
    with pytest.raises(RequestedAssertionFailed, match=re.escape(message)):
        server.wait_for_unit("no-such-user-unit.service", user="alice", timeout=MINUTE)


def test_ports_of_socket_activated_services(guest: Guest) -> None:
    server = guest.machine
    server.wait_for_closed_port(8080, timeout=MINUTE)
    server.succeed("systemctl start greeter.socket")
    server.wait_for_open_port(8080, timeout=MINUTE)
    assert server.succeed("timeout 10 bash -c 'cat < /dev/tcp/localhost/8080'") == (
        "hello from greeter\n")
    server.wait_for_open_port(7, timeout=MINUTE)  # echo.socket, enabled at boot
    assert server.succeed("echo ping | timeout 10 nc -N localhost 7") == "ping\n"
    server.succeed("systemctl stop greeter.socket")
    server.wait_for_closed_port(8080, timeout=MINUTE)


def test_journal_reaches_the_serial_console(guest: Guest) -> None:
    server = guest.machine
    server.succeed("echo marker-from-systemd-cat | systemd-cat -t tiertest")
    server.wait_for_console_text("tiertest.*marker-from-systemd-cat", timeout=MINUTE)
    server.succeed("logger -t tierlogger marker-from-logger")
    server.wait_for_console_text("tierlogger.*marker-from-logger", timeout=MINUTE)
    assert "marker-from-logger" in server.succeed("journalctl -b -t tierlogger --no-pager")
    assert server.succeed("ls /var/log/journal").strip() != ""  # Storage=persistent


def test_shared_directory_is_mounted(guest: Guest) -> None:
    server = guest.machine
    assert server.get_unit_property("tmp-shared.mount", "ActiveState") == "active"
    server.succeed("echo from-guest > /tmp/shared/systemd-tier")
    assert (Path(server.shared_dir) / "systemd-tier").read_text() == "from-guest\n"


def test_network_setup_prefers_the_container_parameter_file(guest: Guest) -> None:
    """A container sees the host's /proc/cmdline; the nspawn backend writes this file instead."""
    server = guest.machine
    try:
        server.succeed("echo 'testguest.hostname=renamed testguest.hosts=peer/1/9' "
                       "> /etc/testguest.cmdline",
                       "/usr/lib/testguest/network-setup 2> /dev/null || true")
        assert server.succeed("hostname") == "renamed\n"
        assert "192.168.1.9 peer" in server.succeed("cat /etc/hosts")
    finally:
        server.succeed("rm -f /etc/testguest.cmdline",
                       "/usr/lib/testguest/network-setup 2> /dev/null || true")
    assert server.succeed("hostname") == "server\n"


def test_wait_for_unit_active_state_sees_all_six_states(guest: Guest) -> None:
    """nixpkgs' `unit-active-state` test, re-created: systemd 252 lacks its `notify-reload`
    service type, so slow ExecStartPre/ExecReload/ExecStop commands hold the unit in
    activating, reloading and deactivating, and a main process that exits 1 on SIGTERM ends
    it failed. Neither "inactive" nor "failed" makes the wait give up."""
    server = guest.machine
    wait = server.wait_for_unit_active_state
    wait("states.service", "inactive", timeout=MINUTE)  # not even loaded yet
    server.succeed(
        "systemd-run --unit=states --no-block -p 'ExecStartPre=/bin/sleep 4' "
        "-p 'ExecReload=/bin/sleep 4' -p 'ExecStop=/bin/sleep 4' "
        "/bin/bash -c 'trap \"exit 1\" TERM; while :; do sleep 0.2; done'"
    )
    wait("states.service", "activating", timeout=MINUTE)
    wait("states.service", "active", timeout=MINUTE)
    server.succeed("systemctl reload --no-block states.service")
    wait("states.service", "reloading", timeout=MINUTE)
    wait("states.service", ["active"], timeout=MINUTE)
    server.succeed("systemctl stop --no-block states.service")
    wait("states.service", "deactivating", timeout=MINUTE)
    wait("states.service", ("failed", "inactive"), timeout=MINUTE)
    assert server.get_unit_property("states.service", "Result") == "exit-code"
    assert "waiting for unit states.service to be failed or inactive" in guest.log.getvalue()
    with pytest.raises(RequestedAssertionFailed,
                       match=r'^unit "states.service" did not reach state "active"; it is '
                             r'"failed" \(action timed out after'):
        wait("states.service", "active", timeout=timedelta(seconds=2))
    with pytest.raises(ValueError, match="'running' is not an ActiveState"):
        wait("states.service", "running")
    server.succeed("systemctl reset-failed states.service")


def test_reboot_brings_the_backdoor_back(guest: Guest) -> None:
    """Last on purpose: the machine must have been started with allow_reboot=True."""
    server = guest.machine
    before = server.succeed("cat /proc/sys/kernel/random/boot_id")
    server.reboot()
    after = server.succeed("cat /proc/sys/kernel/random/boot_id")  # reconnects first
    assert after != before
    server.wait_for_unit("multi-user.target")
    assert server.succeed("hostname") == "server\n"
