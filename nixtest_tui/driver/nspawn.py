"""`NspawnMachine`: a systemd-nspawn container driven like a VM (spec §5.3, §10).

The container is started by its `run-<name>-nspawn` script with upstream's clean environment;
readiness and the leader PID come from the notify socket; commands run through `nsenter` into
the leader's namespaces with upstream's wrapping; the container's persistent journal is its
serial console. Deliberate differences from upstream, each for a reason a user would give:
a command's stderr goes to the log as serial lines instead of the driver's raw stderr (a TUI
owns that terminal), a timeout returns status 124 as on VMs instead of raising, and the
wrapper's output is drained (upstream leaves that pipe unread, pain §13.14).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from nixtest_tui.driver.backdoor import backdoor_timeout
from nixtest_tui.driver.base import BaseMachine
from nixtest_tui.driver.config import machine_name_from
from nixtest_tui.driver.efi import UnsupportedMixin
from nixtest_tui.driver.errors import MachineError
from nixtest_tui.driver.events import (
    CommandFinished,
    CommandStarted,
    EventBus,
)
from nixtest_tui.driver.logger import AbstractLogger
from nixtest_tui.driver.nspawn_host import layers_dir, unmount_root
from nixtest_tui.driver.nspawn_io import JournalFollower, NotifySocket, OutputDrain, Readiness
from nixtest_tui.driver.process import spawn, terminate
from nixtest_tui.driver.serial import SerialReader

RELEASE_GRACE = 30.0  # seconds between SIGTERM and SIGKILL of the wrapper, as upstream
READY_NOTICE = 10.0  # seconds between "still waiting" lines
COMMAND_WRAPPER = ("set -eo pipefail; export USER=root HOME=/root DISPLAY=:0.0; "
                   "source /etc/profile; set -u; ")
NAMESPACES = ("--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup")

# Methods that need QEMU (a screen, a keyboard, a monitor, a NIC to unplug); upstream has no
# such methods on containers either, so a script that calls them fails the same way everywhere.
NOT_FOR_CONTAINERS = (
    "send_monitor_command", "wait_for_monitor_prompt", "send_key", "send_chars",
    "send_console", "console_interact", "shell_interact", "screenshot", "get_screen_text",
    "get_screen_text_variants", "wait_for_text", "wait_for_x", "wait_for_console_text",
    "get_console_log", "crash", "reboot", "block", "unblock", "forward_port", "switch_root",
    "get_tty_text", "wait_until_tty_matches", "dump_tty_contents", "wait_for_qmp_event",
)


def _not_available(method: str) -> Callable[..., NoReturn]:
    def refuse(self: NspawnMachine, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise MachineError(f"{self.name}: {method}() is not available for containers "
                           "(it needs a QEMU VM); declare the machine under `nodes` instead")
    refuse.__name__ = method
    refuse.__doc__ = f"Not available for containers: {method}() needs a QEMU VM."
    return refuse


class _ContainerLimits:
    pass


for _method in NOT_FOR_CONTAINERS:
    setattr(_ContainerLimits, _method, _not_available(_method))


class NspawnMachine(_ContainerLimits, UnsupportedMixin, BaseMachine):
    vsock_host = None

    def __init__(self, out_dir: Path, name: str | None, start_command: str, tmp_dir: Path,
                 logger: AbstractLogger, callbacks: list[Callable[[], None]] | None = None,
                 keep_machine_state: bool = False, bus: EventBus | None = None) -> None:
        name = name or machine_name_from(start_command, "nspawn")
        super().__init__(out_dir, tmp_dir, logger, name, keep_machine_state, callbacks, bus)
        self.start_command = start_command
        self.notify_path = self.tmp_dir / f"{self.name}-nspawn.sock"
        self.process: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.booted = False  # from start() until wait_for_shutdown()/release(), as for VMs
        self.serial = SerialReader(self.name, self.bus, self.log_serial)
        self.ready_timeout = backdoor_timeout()  # the VMs' bound for "ready", upstream's 300 s
        self.readiness = Readiness()
        self._notify: NotifySocket | None = None
        self._output: OutputDrain | None = None
        self._journal: JournalFollower | None = None

    # -- state ---------------------------------------------------------------------------------

    def cleanup_statedir(self) -> None:
        """Also the overlay a killed run may have left mounted, and its layers beside it."""
        unmount_root(self.state_dir)
        shutil.rmtree(layers_dir(self.state_dir), ignore_errors=True)
        super().cleanup_statedir()

    @property
    def full_console_log(self) -> list[str]:
        """The journal lines seen so far (what the TUI's console shows for a container)."""
        return self.serial.full_console_log

    def is_up(self) -> bool:
        return self.booted and self.process is not None and self.process.poll() is None

    @property
    def get_systemd_process(self) -> int:
        """The host PID of the container's PID 1, once the container reported ready."""
        return self._wait_ready()

    # -- start ---------------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        return {"RUN_NSPAWN_ROOT_DIR": str(self.state_dir),
                "RUN_NSPAWN_SHARED_DIR": str(self.shared_dir),
                "NOTIFY_SOCKET": str(self.notify_path)}

    def start(self) -> None:
        if self.booted:
            return
        if os.geteuid() != 0:
            raise MachineError(f"{self.name}: containers need root, because systemd-nspawn "
                               "does; run the driver as root (for example with sudo)")
        self._state("starting")
        self.readiness = Readiness(on_complete=lambda: self._state("connected"))
        self.serial.reset()
        self._notify = NotifySocket(self.notify_path, self.readiness)
        self.process = spawn(
            f"exec {self.start_command}", shell=True, cwd=self.state_dir,
            env=self._environment(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, death_signal=signal.SIGTERM,
        )
        assert self.process.stdout is not None
        self._output = OutputDrain(self.process.stdout, self.readiness, self.name)
        process = self.process
        self._journal = JournalFollower(
            self.state_dir / "var" / "log" / "journal",
            on_line=lambda line: self.serial.feed(line.encode() + b"\r\n"),
            alive=lambda: process.poll() is None, log=self.log,
        )
        self.pid = self.process.pid
        self.booted = True
        self.log(f"systemd-nspawn running (pid {self.pid})")
        self._state("running")

    def _wait_ready(self) -> int:
        """Backoff from 10 ms to 500 ms until READY=1 and the leader PID have both arrived."""
        self.start()
        delay, started, noticed = 0.01, time.monotonic(), time.monotonic()
        while not self.readiness.complete or self._exited():
            process = self.process
            if process is None or process.poll() is not None:
                if self.readiness.complete:
                    raise MachineError(self._death())
                self._fail_start(process)
            if time.monotonic() - started >= self.ready_timeout:
                self._fail_ready(time.monotonic() - started)
            if time.monotonic() - noticed >= READY_NOTICE:
                self.log(f"still waiting for container '{self.name}' to reach ready state... "
                         f"({time.monotonic() - started:.0f} s)")
                noticed = time.monotonic()
            self.readiness.changed.wait(delay)
            self.readiness.changed.clear()
            delay = min(delay * 2, 0.5)
        assert self.readiness.leader_pid is not None
        return self.readiness.leader_pid

    def _exited(self) -> bool:
        return self.process is None or self.process.poll() is not None

    def _death(self) -> str:
        """Why commands cannot run: the container ended without wait_for_shutdown()."""
        status = self.process.returncode if self.process is not None else None
        tail = "\n".join(self.serial.full_console_log[-10:])
        return (f"the container {self.name} exited (systemd-nspawn status {status}); if that "
                "was meant, call wait_for_shutdown() and the next command starts it again. "
                f"Last journal lines:\n{tail}")

    def _fail_ready(self, waited: float) -> NoReturn:
        """A container that never says READY=1 (nspawn cannot run here, a unit hangs the
        boot): stop it and say what it printed, instead of waiting for ever."""
        process = self.process
        status = terminate(process) if process is not None else None
        output = self._end_start(status, "the container did not become ready")
        raise MachineError(
            f"{self.name}: the container did not become ready within {waited:.0f} s "
            "(NIXTEST_BACKDOOR_TIMEOUT sets the bound); it was stopped. What systemd-nspawn "
            f"printed:\n{output or '(nothing)'}")

    def _fail_start(self, process: subprocess.Popen[bytes] | None) -> NoReturn:
        status = process.returncode if process is not None else None
        output = self._end_start(status, "the container did not start")
        raise MachineError(f"systemd-nspawn process exited unexpectedly (exit code {status}) "
                           f"before {self.name} was ready; its output:\n{output}")

    def _end_start(self, status: int | None, why: str) -> str:
        """Tear a failed start down; returns what the wrapper printed."""
        if self._output is not None:
            self._output.join(2)
        output = self._output.text() if self._output is not None else ""
        self._teardown()
        self._state("exited", status, why)
        return output

    # -- commands ------------------------------------------------------------------------------

    def _execute(self, command: str, check_return: bool, check_output: bool,
                 timeout: timedelta | None) -> tuple[int, str]:
        """check_return/check_output are ignored, as upstream ignores them for containers."""
        leader = self._wait_ready()
        argv = ["nsenter", "--target", str(leader), *NAMESPACES,
                "/bin/sh", "-c", COMMAND_WRAPPER + command]
        self.bus.publish(CommandStarted(machine=self.name, command=command,
                                        timeout=timeout.total_seconds() if timeout else None))
        started = time.monotonic()
        child = spawn(argv, env={}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE, start_new_session=True)
        try:
            stdout, stderr = child.communicate(
                timeout=timeout.total_seconds() if timeout else None)
            status = child.returncode
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)  # nsenter's child in the container, too
            stdout, stderr = child.communicate()
            status = 124
            self.log(f"command `{command}` timed out after {timeout}; killed it")
        for line in stderr.decode(errors="replace").splitlines():
            self.log_serial(line)
        text = stdout.decode(errors="replace")
        self.bus.publish(CommandFinished(machine=self.name, command=command, status=status,
                                         duration=time.monotonic() - started,
                                         output_size=len(stdout)))
        return status, text

    # -- power ---------------------------------------------------------------------------------

    def shutdown(self) -> None:
        if not self.booted:
            return
        self._state("shutting-down")
        if not self._exited():
            self.systemctl("poweroff")
        self.wait_for_shutdown()

    def wait_for_shutdown(self) -> None:
        if not self.booted or self.process is None:
            return
        with self.nested("waiting for the container to power off"):
            status = self.process.wait()
            self._teardown()
            self._state("exited", status)

    def release(self) -> None:
        if self.process is None:
            return
        if self._notify is not None:
            self._notify.close()
            self._notify = None
        self.log(f"kill NspawnMachine (pid {self.pid})")
        status = terminate(self.process, grace=RELEASE_GRACE)
        self._teardown()
        self._state("exited", status, "released")

    def _teardown(self) -> None:
        """Stop the stream threads; the wrapper has exited or is about to."""
        self.booted = False
        if self._journal is not None:
            self._journal.stop()
            self._journal = None
        if self._notify is not None:
            self._notify.close()
            self._notify = None
        if self.process is not None and self.process.poll() is not None:
            if self._output is not None:
                self._output.join(2)
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process = None
            self.pid = None
