"""The three streams of a running container: notify socket, wrapper output, journal.

Each gets a daemon thread for the container's whole life. The notify socket in particular must
be drained until the end: the container's PID 1 sends `READY=1` again on every
`daemon-reexec` and would block on a full socket buffer (spec §10.2).
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

from nixtest_tui.driver.process import spawn, terminate

_PID_LINE = re.compile(r"systemd-nspawn's PID is (\d+)")
_LEGACY_READY = ("Startup finished in", "Welcome to NixOS")
JOURNAL_RETRY = 0.5  # seconds before journalctl is started again
JOURNAL_NOTICE = 10.0  # seconds between "Waiting for journal" lines


class Readiness:
    """What the container told us: ready or not, and its leader's PID on the host."""

    def __init__(self, on_complete: Callable[[], None] = lambda: None) -> None:
        self.ready = False
        self.leader_pid: int | None = None
        self.changed = threading.Event()
        self._on_complete = on_complete
        self._announced = False

    def _changed(self) -> None:
        self.changed.set()
        if self.complete and not self._announced:
            self._announced = True
            self._on_complete()

    @property
    def complete(self) -> bool:
        return self.ready and self.leader_pid is not None

    def note(self, line: str) -> None:
        if line == "READY=1":
            self.ready = True
        elif line.startswith("X_NSPAWN_LEADER_PID="):
            self.leader_pid = int(line.partition("=")[2])
        else:
            return
        self._changed()

    def note_legacy_ready(self, nspawn_pid: int) -> None:
        """Older wrappers: readiness from stdout; the leader is nspawn's only child."""
        try:
            children = Path(f"/proc/{nspawn_pid}/task/{nspawn_pid}/children").read_text().split()
        except OSError:
            return
        if len(children) == 1:
            self.leader_pid = self.leader_pid or int(children[0])
            self.ready = True
            self._changed()


class NotifySocket:
    """`AF_UNIX` datagram socket at `path`, drained by a daemon thread into a `Readiness`."""

    def __init__(self, path: Path, readiness: Readiness) -> None:
        path.unlink(missing_ok=True)
        self.path = path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(path))
        self._readiness = readiness
        self._thread = threading.Thread(target=self._drain, name=f"notify-{path.name}",
                                        daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                datagram = self._socket.recv(65536)
            except OSError:
                return  # closed
            if not datagram:
                continue
            for line in datagram.decode(errors="replace").splitlines():
                self._readiness.note(line)

    def close(self) -> None:
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._socket.close()
        self._thread.join(2)
        self.path.unlink(missing_ok=True)


class OutputDrain:
    """Reads the wrapper's stdout+stderr so the pipe never fills; keeps the tail for errors."""

    def __init__(self, stream: IO[bytes], readiness: Readiness, name: str) -> None:
        self.tail: deque[str] = deque(maxlen=40)
        self._readiness = readiness
        self._nspawn_pid: int | None = None
        self._thread = threading.Thread(target=self._read, args=(stream,),
                                        name=f"nspawn-out-{name}", daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        try:
            for raw in stream:
                line = raw.decode(errors="replace").rstrip()
                self.tail.append(line)
                if match := _PID_LINE.search(line):
                    self._nspawn_pid = int(match.group(1))
                elif self._nspawn_pid and any(m in line for m in _LEGACY_READY):
                    self._readiness.note_legacy_ready(self._nspawn_pid)
        except (OSError, ValueError):
            pass  # the pipe was closed under us by release()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        return "\n".join(self.tail)


class JournalFollower:
    """`journalctl --follow` on the container's persistent journal, line by line.

    The directory appears once the container's journald has flushed; journalctl is started
    again whenever it exits while the container still runs.
    """

    def __init__(self, directory: Path, on_line: Callable[[str], None],
                 alive: Callable[[], bool], log: Callable[[str], None]) -> None:
        self.directory = directory
        self._on_line = on_line
        self._alive = alive
        self._log = log
        self._stopped = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._lines_seen = 0
        self._thread = threading.Thread(target=self._run, name=f"journal-{directory}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if not self._await_journal():
            return
        while not self._stopped.is_set() and self._alive():
            self._process = spawn(
                ["journalctl", "--follow", f"--directory={self.directory}", "--lines=all",
                 "--output=short-monotonic", "--no-pager", "--quiet"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            assert self._process.stdout is not None
            for index, raw in enumerate(self._process.stdout):
                if index >= self._lines_seen:  # a restarted journalctl repeats what we had
                    self._lines_seen += 1
                    self._on_line(raw.decode(errors="replace").rstrip("\n"))
            self._process.wait()
            self._stopped.wait(JOURNAL_RETRY)

    def _await_journal(self) -> bool:
        last_notice = 0.0
        while not self._stopped.is_set():
            if any(self.directory.glob("*/*.journal")):
                return True
            if not self._alive():
                return False
            if time.monotonic() - last_notice >= JOURNAL_NOTICE:
                self._log(f"Waiting for journal at {self.directory}")
                last_notice = time.monotonic()
            self._stopped.wait(0.05)
        return False

    def stop(self) -> None:
        self._stopped.set()
        if self._process is not None:
            terminate(self._process, grace=2)
        self._thread.join(5)
