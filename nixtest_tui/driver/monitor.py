"""The HMP ("human") monitor: text commands on a unix socket, answered up to `(qemu) `."""

from __future__ import annotations

import socket
import threading

from nixtest_tui.driver.errors import MachineError

PROMPT = b"(qemu) "


class Monitor:
    def __init__(self, sock: socket.socket, machine: str) -> None:
        self.sock = sock
        self.machine = machine
        self._lock = threading.Lock()

    def wait_for_prompt(self, timeout: float | None = None) -> str:
        """Everything up to and including the next prompt (or EOF)."""
        answer = b""
        self.sock.settimeout(timeout)
        try:
            while not answer.endswith(PROMPT):
                chunk = self.sock.recv(1024)
                if not chunk:
                    break
                answer += chunk
        except TimeoutError as exc:
            raise MachineError(f"{self.machine}: the QEMU monitor did not answer") from exc
        finally:
            self.sock.settimeout(None)
        return answer.decode(errors="replace")

    def command(self, command: str) -> str:
        """Upstream's reply shape: the echoed line, the output and the prompt."""
        with self._lock:
            self.sock.sendall(command.encode() + b"\n")
            return self.wait_for_prompt()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
