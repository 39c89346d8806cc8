"""The listening side of QEMU's client sockets (monitor, backdoor shell).

QEMU connects to these; we must listen before it starts and keep checking that it is still
alive while we wait, or a QEMU that died at start-up would leave us waiting for the timeout.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from nixtest_tui.driver.errors import MachineError

UNIX_PATH_MAX = 107  # bytes, without the terminating NUL


def listen_unix(path: Path) -> socket.socket:
    """A fresh 0600 listening socket at `path` (a stale one is removed first)."""
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
    except OSError as exc:
        server.close()
        hint = ("; a unix socket path has at most 107 bytes: set XDG_RUNTIME_DIR to a "
                "shorter directory") if len(os.fsencode(path)) > UNIX_PATH_MAX else ""
        raise MachineError(f"cannot listen on {path} ({exc}){hint}") from None
    path.chmod(0o600)  # before anyone connects
    server.listen(1)
    server.settimeout(0.1)
    return server


def accept_while(server: socket.socket, alive: Callable[[], bool],
                 seconds: float) -> socket.socket | None:
    """The connection, or None once `alive()` turns false or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and alive():
        try:
            connection, _ = server.accept()
        except TimeoutError:
            continue
        connection.settimeout(None)
        return connection
    return None
