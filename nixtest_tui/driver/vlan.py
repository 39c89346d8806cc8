"""One virtual LAN: a `vde_switch --hub` whose control socket the VMs plug into.

As upstream, the socket directory is exported as `QEMU_VDE_SOCKET_<nr>` in the driver's own
environment, which every start script inherits. Upstream also plugs a tap device into the
switch (`vde_plug2tap`) and bridges it as `br<nr>`, so that nspawn containers' veths on the
same bridge reach the VMs. We do that only when the test has containers: a tap needs root, and a
VM-only test should not need it.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from pathlib import Path

from nixtest_tui.driver import netbridge
from nixtest_tui.driver.errors import MachineError, VLanError
from nixtest_tui.driver.events import EventBus, VLanChanged
from nixtest_tui.driver.logger import AbstractLogger
from nixtest_tui.driver.process import spawn, terminate

READY_LINE = "1000 Success"
READY_TIMEOUT = 5.0


class VLan:
    """A running switch; `start()` returns only once the switch answered on its stdin."""

    def __init__(self, nr: int, tmp_dir: Path, logger: AbstractLogger | None = None,
                 bus: EventBus | None = None, quiet: bool = False,
                 with_tap: bool = False) -> None:
        self.nr = nr
        self.socket_dir = tmp_dir / f"vde{nr}.ctl"
        self.process: subprocess.Popen[bytes] | None = None
        self.with_tap = with_tap
        self.tap_name = f"vde-tap{nr}"
        self.plug_process: subprocess.Popen[bytes] | None = None
        self._logger = logger
        self._bus = bus
        self._quiet = quiet  # the switch's own stderr would draw over a TUI

    def _log(self, message: str) -> None:
        if self._logger is not None:
            self._logger.log(message)

    def __repr__(self) -> str:
        return f"<Vlan Nr. {self.nr}>"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        binary = shutil.which("vde_switch")
        if binary is None:
            raise VLanError("vde_switch is not installed: install Debian's vde2 (./dev setup)")
        self._log("start vlan")
        shutil.rmtree(self.socket_dir, ignore_errors=True)  # a stale socket breaks the switch
        os.environ[f"QEMU_VDE_SOCKET_{self.nr}"] = str(self.socket_dir)
        # argv[0] is what vde_switch names itself in its own messages on the driver's stderr
        # ("vde_switch: EOF on stdin, cleaning up and exiting"): upstream's, not our full path
        self.process = spawn(
            ["vde_switch", "--sock", str(self.socket_dir), "--dirmode", "0700", "--hub"],
            executable=binary, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if self._quiet else None,
        )
        self._await_ready()
        if not (self.socket_dir / "ctl").exists():
            self.stop()
            raise VLanError(f"vde_switch for VLAN {self.nr} made no socket in {self.socket_dir}")
        if self.with_tap:
            self._start_tap()
        self._log(f"running vlan (pid {self.pid}; ctl {self.socket_dir})")
        if self._bus is not None:
            self._bus.publish(VLanChanged(nr=self.nr, up=True, pid=self.pid))

    def _await_ready(self) -> None:
        assert self.process and self.process.stdin and self.process.stdout
        self.process.stdin.write(b"showinfo\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + READY_TIMEOUT
        seen = b""
        fd = self.process.stdout.fileno()
        while READY_LINE.encode() not in seen:
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([fd], [], [], max(remaining, 0))
            chunk = os.read(fd, 4096) if readable else b""
            if not chunk:
                self.stop()
                raise VLanError(
                    f"vde_switch for VLAN {self.nr} did not answer `showinfo` within "
                    f"{READY_TIMEOUT:.0f} s (output so far: {seen.decode(errors='replace')!r})"
                )
            seen += chunk

    def _start_tap(self) -> None:
        binary = shutil.which("vde_plug2tap")
        if binary is None:
            self.stop()
            raise VLanError("vde_plug2tap is missing: install Debian's vde2 (./dev setup)")
        self._log(f"creating tap interface {self.tap_name}")
        self.plug_process = spawn([binary, "-s", str(self.socket_dir), self.tap_name],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        plug = self.plug_process
        try:
            netbridge.wait_for_link(self.tap_name, lambda: plug.poll() is None)
            netbridge.attach(self.nr, self.tap_name)
        except MachineError as exc:
            self.stop()
            raise VLanError(f"VLAN {self.nr}: cannot bridge {self.tap_name} to containers: "
                            f"{exc}") from None

    def _stop_tap(self) -> None:
        if self.plug_process is None:
            return
        terminate(self.plug_process, grace=2.0)
        self.plug_process = None
        try:
            netbridge.detach(self.nr, self.tap_name)
        except MachineError as exc:
            self._log(f"cannot remove the bridge of VLAN {self.nr}: {exc}")

    def stop(self) -> None:
        self._stop_tap()
        if self.process is None:
            return
        self._log(f"kill vlan (pid {self.pid})")
        if self.process.stdin:
            self.process.stdin.close()  # EOF on stdin makes the switch clean up and exit
        try:
            self.process.wait(2.0)
        except subprocess.TimeoutExpired:
            terminate(self.process, grace=2.0)
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        os.environ.pop(f"QEMU_VDE_SOCKET_{self.nr}", None)
        if self._bus is not None:
            self._bus.publish(VLanChanged(nr=self.nr, up=False))
