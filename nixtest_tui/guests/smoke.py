"""A minimal machine runner that checks the guest contract before the real driver exists.

It starts a `run-<name>-vm` script exactly as the upstream driver does (spec §6.2: listening
monitor and shell sockets, `-serial stdio`, the driver's extra options), waits for the backdoor
line and speaks upstream's two-round-trip command framing. The test suite and
`nixtest-tui guests check` use it to prove that an image works on this host.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nixtest_tui.driver.process import spawn, terminate
from nixtest_tui.driver.sockets import accept_while, listen_unix

MAGIC = b"Spawning backdoor root shell..."


class SmokeError(RuntimeError):
    """The guest did not honour its contract; the message includes the last serial lines."""


class SmokeMachine:
    def __init__(
        self,
        name: str,
        start_script: Path,
        state_dir: Path,
        shared_dir: Path,
        on_serial: Callable[[str, str], None] | None = None,
    ) -> None:
        self.name = name
        self.start_script = start_script
        self.state_dir = state_dir
        self.shared_dir = shared_dir
        self.on_serial = on_serial
        self.serial_lines: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None
        self.shell: socket.socket | None = None
        self.monitor: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._qmp: socket.socket | None = None
        self._qmp_file: Any = None

    # -- life cycle --------------------------------------------------------------------------

    def start(self, accept_timeout: float = 30.0) -> None:
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.shared_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        listeners = {kind: listen_unix(self.state_dir / kind) for kind in ("monitor", "shell")}
        options = (
            f" -qmp unix:{self.state_dir}/qmp,server=on,wait=off"
            f" -monitor unix:{self.state_dir}/monitor"
            f" -chardev socket,id=shell,path={self.state_dir}/shell"
            " -device virtio-serial -device virtconsole,chardev=shell"
            " -device virtio-rng-pci -serial stdio -no-reboot -nographic"
        )
        env = dict(os.environ, TMPDIR=str(self.state_dir), SHARED_DIR=str(self.shared_dir),
                   USE_TMPDIR="1")
        self.process = spawn(
            shlex.quote(str(self.start_script)) + options, shell=True, cwd=self.state_dir,
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self._reader = threading.Thread(target=self._read_serial, daemon=True)
        self._reader.start()
        self.monitor = self._accept(listeners["monitor"], accept_timeout)
        self.shell = self._accept(listeners["shell"], accept_timeout)
        self._read_until(self.monitor, b"(qemu) ", accept_timeout)

    def _accept(self, server: socket.socket, timeout: float) -> socket.socket:
        process = self.process
        try:
            connection = accept_while(
                server, lambda: process is None or process.poll() is None, timeout)
        finally:
            server.close()
        if connection is not None:
            return connection
        if process is not None and process.poll() is not None:
            raise self._error(f"QEMU exited with code {process.returncode} early")
        raise self._error("QEMU did not connect to its sockets")

    def _read_serial(self) -> None:
        assert self.process and self.process.stdout
        for raw in self.process.stdout:
            line = raw.decode(errors="ignore").replace("\r", "").rstrip()
            self.serial_lines.append(line)
            if self.on_serial:
                self.on_serial(self.name, line)

    def wait_for_backdoor(self, timeout: float = 60.0) -> None:
        assert self.shell
        self._read_until(self.shell, MAGIC, timeout)

    def poweroff(self, timeout: float = 30.0) -> int:
        """Raw `poweroff` on the shell, outside the framing, as upstream's shutdown() does."""
        assert self.shell and self.process
        self.shell.sendall(b"poweroff\n")
        status = self.process.wait(timeout)
        self.close()
        return status

    def close(self) -> None:
        for sock in (self.shell, self.monitor, self._qmp):
            if sock:
                sock.close()
        self.shell = self.monitor = self._qmp = None
        if self.process:
            terminate(self.process)
        if self._reader:
            self._reader.join(5)

    # -- commands ----------------------------------------------------------------------------

    def execute(self, command: str, timeout: float | None = 120.0) -> tuple[int, str]:
        """Upstream's framing: base64 of stdout, then `echo ${PIPESTATUS[0]}`."""
        assert self.shell
        quoted = shlex.quote(f"set -euo pipefail; {command}")
        prefix = f"timeout {timeout} " if timeout is not None else ""
        self.shell.sendall(f"{prefix}bash -c {quoted} | (base64 -w 0; echo)\n".encode())
        limit = (timeout or 600.0) + 30.0
        output = base64.b64decode(self._read_line(limit))
        self.shell.sendall(b"echo ${PIPESTATUS[0]}\n")
        status = int(self._read_line(limit))
        return status, output.decode(errors="replace")

    def succeed(self, command: str, timeout: float | None = 120.0) -> str:
        status, output = self.execute(command, timeout)
        if status != 0:
            raise self._error(f"command `{command}` failed (exit code {status}): {output!r}")
        return output

    def monitor_command(self, command: str) -> str:
        assert self.monitor
        self.monitor.sendall(command.encode() + b"\n")
        return self._read_until(self.monitor, b"(qemu) ", 30.0).decode(errors="replace")

    def qmp(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """One synchronous QMP command; events met on the way are skipped."""
        if self._qmp is None:
            self._qmp = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._qmp.connect(str(self.state_dir / "qmp"))
            self._qmp_file = self._qmp.makefile("rwb")
            json.loads(self._qmp_file.readline())  # greeting
            self._qmp_send("qmp_capabilities", None)
        return self._qmp_send(command, arguments)

    def _qmp_send(self, command: str, arguments: dict[str, Any] | None) -> Any:
        message: dict[str, Any] = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        self._qmp_file.write(json.dumps(message).encode() + b"\n")
        self._qmp_file.flush()
        while True:
            reply = json.loads(self._qmp_file.readline())
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise self._error(f"QMP {command} failed: {reply['error']}")

    # -- plumbing ----------------------------------------------------------------------------

    def _read_line(self, timeout: float) -> bytes:
        assert self.shell
        return self._read_until(self.shell, b"\n", timeout, at_end=True).strip()

    def _read_until(
        self, sock: socket.socket, marker: bytes, timeout: float, at_end: bool = False
    ) -> bytes:
        buffer = b""
        sock.settimeout(timeout)
        try:
            while not (buffer.endswith(marker) if at_end else marker in buffer):
                chunk = sock.recv(4096)
                if not chunk:
                    raise self._error(f"socket closed while waiting for {marker!r}")
                buffer += chunk
        except TimeoutError as exc:
            raise self._error(f"no {marker!r} within {timeout:.0f} s") from exc
        finally:
            sock.settimeout(None)
        return buffer

    def _error(self, message: str) -> SmokeError:
        tail = "\n".join(self.serial_lines[-15:])
        return SmokeError(f"{self.name}: {message}\nlast serial lines:\n{tail}")
