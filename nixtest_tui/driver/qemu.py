"""`QemuMachine`: a VM started from a nixpkgs `run-<name>-vm` script (spec §5.2, §6).

Start-up follows upstream exactly where it is visible from outside (listening sockets before
QEMU starts, the appended options, the environment, the log lines); the command channel uses
our one-round-trip framing (backdoor.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from nixtest_tui.driver.backdoor import (
    BACKDOOR_ATTEMPTS,
    Backdoor,
    HandshakeTimeout,
    backdoor_timeout,
    no_backdoor_message,
)
from nixtest_tui.driver.base import BaseMachine
from nixtest_tui.driver.config import machine_name_from
from nixtest_tui.driver.console import ConsoleMixin
from nixtest_tui.driver.duration import Duration, seconds, to_timedelta
from nixtest_tui.driver.efi import UnsupportedMixin
from nixtest_tui.driver.errors import MachineError
from nixtest_tui.driver.events import (
    CommandFinished,
    CommandStarted,
    EventBus,
    LinkChanged,
)
from nixtest_tui.driver.keys import key_name
from nixtest_tui.driver.logger import AbstractLogger
from nixtest_tui.driver.monitor import Monitor
from nixtest_tui.driver.process import spawn, terminate
from nixtest_tui.driver.qmp import QMPSession
from nixtest_tui.driver.serial import SerialReader
from nixtest_tui.driver.sockets import accept_while, listen_unix

P = ParamSpec("P")
R = TypeVar("R")
KEY_DELAY = timedelta(milliseconds=10)
ACCEPT_SECONDS = 300.0


def serialised(method: Callable[Concatenate[QemuMachine, P], R]
               ) -> Callable[Concatenate[QemuMachine, P], R]:
    """One life-cycle step at a time per machine: four threads that all call succeed() on a
    machine that is off start one QEMU between them, and the others wait for it."""
    def locked(self: QemuMachine, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.lifecycle:
            return method(self, *args, **kwargs)
    locked.__name__ = method.__name__
    locked.__doc__ = method.__doc__
    return locked


def has_display() -> bool:
    return any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY"))


class QemuMachine(ConsoleMixin, UnsupportedMixin, BaseMachine):
    def __init__(
        self,
        out_dir: Path,
        tmp_dir: Path,
        start_command: str,
        logger: AbstractLogger,
        name: str | None = None,
        keep_machine_state: bool = False,
        callbacks: list[Callable[[], None]] | None = None,
        vsock_guest: str | None = None,
        vsock_host: str | None = None,
        bus: EventBus | None = None,
    ) -> None:
        super().__init__(out_dir, tmp_dir, logger, name or machine_name_from(start_command),
                         keep_machine_state, callbacks, bus)
        self.start_command = start_command
        self.vsock_guest = vsock_guest
        self.vsock_host = vsock_host
        self.monitor_path = self.state_dir / "monitor"
        self.qmp_path = self.state_dir / "qmp"
        self.shell_path = self.state_dir / "shell"
        self.efi_vars = self.state_dir / f"{self.name}-efi-vars.fd"
        self.process: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.monitor: Monitor | None = None
        self.shell: Backdoor | None = None
        self.qmp_client: QMPSession | None = None
        self.booted = False
        self.connected = False
        self.backdoor_timeout = backdoor_timeout()
        self.serial = SerialReader(self.name, self.bus, self.log_serial)
        self.lifecycle = threading.RLock()

    # -- state ---------------------------------------------------------------------------------

    @property
    def full_console_log(self) -> list[str]:
        return self.serial.full_console_log

    @property
    def last_lines(self) -> Any:
        return self.serial.last_lines

    def is_up(self) -> bool:
        return self.booted and self.connected

    def _death(self) -> str | None:
        """Why commands cannot be answered any more, or None while QEMU runs."""
        if self.process is None:
            return "the machine is not running"
        status = self.process.poll()
        if status is None:
            return None
        log = self.serial.full_console_log
        tail = "\n".join(log[-10:])
        # a panic's own line is followed by a register dump longer than the tail
        panic = next((line for line in reversed(log[-300:]) if "Kernel panic" in line), None)
        why = f" after a guest kernel panic ({panic.strip()})" if panic else ""
        return (f"QEMU of {self.name} exited with code {status}{why}; "
                f"last serial lines:\n{tail}")

    # -- start ---------------------------------------------------------------------------------

    def _qemu_options(self, allow_reboot: bool) -> str:
        options = (
            f" -qmp unix:{self.qmp_path},server=on,wait=off"
            f" -monitor unix:{self.monitor_path}"
            f" -chardev socket,id=shell,path={self.shell_path}"
            " -device virtio-serial -device virtconsole,chardev=shell"
            " -device virtio-rng-pci -serial stdio"
        )
        if not allow_reboot:
            options += " -no-reboot"
        if self.vsock_guest:
            options += (f" -chardev socket,id=vsock_ssh,path={self.vsock_guest}"
                        " -device vhost-user-vsock-pci,chardev=vsock_ssh")
        if not has_display():
            options += " -nographic"
        return options

    def _environment(self) -> dict[str, str]:
        return dict(os.environ, TMPDIR=str(self.state_dir), SHARED_DIR=str(self.shared_dir),
                    USE_TMPDIR="1", NIX_EFI_VARS=str(self.efi_vars))

    @serialised
    def start(self, allow_reboot: bool = False) -> None:
        if self.booted:
            return
        self.log("starting vm")
        self._state("starting")
        listeners = {path: listen_unix(path) for path in (self.monitor_path, self.shell_path)}
        self.serial.reset()
        # `exec`, so that the pid we hold is QEMU's whatever /bin/sh is (dash would not exec
        # the last command itself, and QEMU would outlive release()).
        self.process = spawn(
            f"exec {self.start_command}{self._qemu_options(allow_reboot)}", shell=True,
            cwd=self.state_dir, env=self._environment(), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        assert self.process.stdout is not None
        self.serial.follow(self.process.stdout.fileno())
        try:
            monitor = self._accept(listeners[self.monitor_path], "monitor")
            shell = self._accept(listeners[self.shell_path], "shell")
        finally:
            for listener in listeners.values():
                listener.close()
        self.monitor = Monitor(monitor, self.name)
        self.shell = Backdoor(shell, self._death, self.log)
        prompt = self.monitor.wait_for_prompt(ACCEPT_SECONDS)
        if not prompt.endswith("(qemu) "):
            status = self.process.wait(10)
            self.serial.join(2)
            self._state("exited", status, "QEMU failed to start")
            raise MachineError(
                f"QEMU process exited with code {status} before {self.name}'s monitor "
                "answered.\n" + "\n".join(self.serial.full_console_log)
            )
        try:
            self.qmp_path.chmod(0o600)  # QEMU created it with its umask
            self.qmp_client = QMPSession.connect(self.qmp_path)
        except (ConnectionError, OSError) as exc:
            self.log(f"cannot connect to QMP: {exc}")
        self.pid = self.process.pid
        self.booted = True
        self.log(f"QEMU running (pid {self.pid})")
        self._state("running")

    def _accept(self, server: socket.socket, what: str) -> socket.socket:
        process = self.process
        assert process is not None
        connection = accept_while(server, lambda: process.poll() is None, ACCEPT_SECONDS)
        if connection is not None:
            return connection
        if process.poll() is not None:
            self.serial.join(2)
            output = "\n".join(self.serial.full_console_log)
            self._state("exited", process.returncode, "QEMU failed to start")
            raise MachineError(
                f"QEMU process exited with code {process.returncode} before "
                f"connecting to {self.name} {what} socket.\n{output}"
            )
        raise MachineError(f"QEMU of {self.name} did not connect to its {what} socket")

    # -- the backdoor ----------------------------------------------------------------------------

    @serialised
    def connect(self) -> None:
        if self.connected:
            return
        with self.nested("waiting for the VM to finish booting"):
            self.start()
            assert self.shell is not None
            started = time.monotonic()

            def silence(attempt: int) -> None:
                self.log("Guest root shell did not produce any data yet...")
                self.log("  To debug, enter the VM and run 'systemctl status backdoor.service'.")

            try:
                self.shell.handshake(attempts=BACKDOOR_ATTEMPTS,
                                     attempt_seconds=self.backdoor_timeout / BACKDOOR_ATTEMPTS,
                                     on_silence=silence)
            except HandshakeTimeout as exc:
                raise MachineError(no_backdoor_message(
                    self.name, exc, self.serial.full_console_log, self.backdoor_timeout)) from None
            self.log("connected to guest root shell")
            self.log(f"(connecting took {time.monotonic() - started:.2f} seconds)")
            self.connected = True
            self._state("connected")

    def _execute(self, command: str, check_return: bool, check_output: bool,
                 timeout: timedelta | None) -> tuple[int, str]:
        self.connect()
        assert self.shell is not None
        limit = seconds(timeout)
        if not check_output:
            self.shell.run_detached(command, limit)
            return (-2, "")
        self.bus.publish(CommandStarted(machine=self.name, command=command, timeout=limit))
        started = time.monotonic()
        reply = self.shell.run(command, limit)
        self.bus.publish(CommandFinished(
            machine=self.name, command=command, status=reply.status,
            duration=time.monotonic() - started, output_size=len(reply.stdout),
            stdout_left_open=reply.held_open >= 1.0,
        ))
        if not check_return:
            return (-1, reply.text)
        return (reply.status, reply.text)

    # -- power -----------------------------------------------------------------------------------

    @serialised
    def shutdown(self) -> None:
        if not self.booted:
            return
        self.connect()
        assert self.shell is not None
        self.shell.check_alive()  # a dead shell would leave us waiting for ever
        self._state("shutting-down")
        self.shell.send_raw(b"poweroff\n")
        self.wait_for_shutdown()

    @serialised
    def crash(self) -> None:
        if not self.booted:
            return
        self.log("forced crash")
        self.send_monitor_command("quit")
        self.wait_for_shutdown()

    def reboot(self) -> None:
        """Ctrl-Alt-Delete; QEMU exits instead unless the machine started with allow_reboot."""
        self.send_key("ctrl-alt-delete")
        self.connected = False
        self._state("running", detail="rebooting")

    @serialised
    def wait_for_shutdown(self) -> None:
        if not self.booted:
            return
        assert self.process is not None
        with self.nested("waiting for the VM to power off"):
            status = self.process.wait()
            self.serial.join(5)
            self._close_channels()
            self.pid = None
            self.booted = False
            self.connected = False
            self._state("exited", status)

    def release(self) -> None:
        """Kill QEMU; takes no lock, so that quitting works whatever another thread waits in
        (a start() still accepting QEMU's sockets, a handshake, a command)."""
        if self.process is None or (self.pid is None and self.process.poll() is not None):
            return
        self.pid = self.pid or self.process.pid
        self.logger.log(f"kill QemuMachine (pid {self.pid})")  # no machine prefix: upstream's line
        status = terminate(self.process)
        self.serial.join(5)
        self._close_channels()
        self.pid = None
        self.booted = False
        self.connected = False
        self._state("exited", status, "released")

    def _close_channels(self) -> None:
        for channel in (self.shell, self.monitor, self.qmp_client):
            if channel is not None:
                channel.close()
        self.shell = None
        self.monitor = None
        self.qmp_client = None
        if self.process is not None:
            for pipe in (self.process.stdin, self.process.stdout):
                if pipe is not None:
                    pipe.close()

    # -- monitor, keys, links ------------------------------------------------------------------

    def send_monitor_command(self, command: str) -> str:
        self.run_callbacks()
        if self.monitor is None:
            raise MachineError(f"{self.name} is not running: start() it first")
        return self.monitor.command(command)

    def wait_for_monitor_prompt(self) -> str:
        if self.monitor is None:
            raise MachineError(f"{self.name} is not running: start() it first")
        return self.monitor.wait_for_prompt()

    def send_key(self, key: str, delay: Duration | None = KEY_DELAY, log: bool = True) -> None:
        key = key_name(key)
        pause = 0.0 if delay is None else to_timedelta(delay, "send_key()").total_seconds()
        if log:
            with self.nested(f"sending key {key!r}"):
                self.send_monitor_command(f"sendkey {key}")
        else:
            self.send_monitor_command(f"sendkey {key}")
        time.sleep(pause)

    def send_chars(self, chars: str, delay: Duration | None = KEY_DELAY) -> None:
        with self.nested(f"sending keys {chars!r}"):
            for char in chars:
                self.send_key(char, delay, log=False)

    def block(self) -> None:
        """Unplug the first VLAN NIC (upstream hard-codes virtio-net-pci.1)."""
        self.set_nic_link(1, up=False)

    def unblock(self) -> None:
        self.set_nic_link(1, up=True)

    def set_nic_link(self, nic: int, up: bool) -> None:
        """Plug or unplug VLAN NIC `nic` (the guest's eth<nic>): the TUI's `b` on any VLAN's
        row; block()/unblock() are this for NIC 1."""
        self.send_monitor_command(f"set_link virtio-net-pci.{nic} {'on' if up else 'off'}")
        self.bus.publish(LinkChanged(machine=self.name, blocked=not up, nic=nic))

    def forward_port(self, host_port: int = 8080, guest_port: int = 80) -> None:
        self.send_monitor_command(f"hostfwd_add tcp::{host_port}-:{guest_port}")

    def switch_root(self) -> None:
        """Leave the initrd backdoor (testing.initrdBackdoor) for stage 2's."""
        self.wait_for_unit("initrd.target")
        self.execute(
            "systemctl isolate --no-block initrd-switch-root.target 2>/dev/null >/dev/null",
            check_return=False, check_output=False,
        )
        self.connected = False
        self.connect()

    # -- QMP ---------------------------------------------------------------------------------------

    def wait_for_qmp_event(self, event_filter: Callable[[dict[str, Any]], bool],
                           timeout: Duration = timedelta(minutes=10)) -> dict[str, Any]:
        if self.qmp_client is None:
            raise RuntimeError("QMP API is not ready yet, is the VM ready?")
        limit = to_timedelta(timeout, "wait_for_qmp_event()").total_seconds()
        deadline = time.monotonic() + limit
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                event = self.qmp_client.wait_for_event(timeout=remaining)
            except TimeoutError:
                break
            if event_filter(event):
                return event
        raise TimeoutError(f"no QMP event matched the filter within {limit:.0f} seconds")
