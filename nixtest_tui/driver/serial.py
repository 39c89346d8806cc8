"""The machine's first serial port: one reader thread, two views of the same bytes.

The raw bytes go to the event bus (the TUI renders them with pyte: colours, cursor moves, `\\r`)
and into a bounded buffer for consumers that attach late; the decoded line view feeds the logs,
`get_console_log()` and `wait_for_console_text()` (upstream's rules: undecodable bytes dropped,
every `\\r` removed, trailing whitespace stripped).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable

from nixtest_tui.driver.events import EventBus, SerialLine, SerialOutput


class SerialReader:
    def __init__(self, machine: str, bus: EventBus, log_line: Callable[[str], None]) -> None:
        self.machine = machine
        self._bus = bus
        self._log_line = log_line
        self.full_console_log: list[str] = []
        self.last_lines: queue.Queue[str] = queue.Queue()
        self._partial = b""
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def reset(self) -> None:
        """A new boot starts a new log, as upstream's start() does."""
        with self._lock:
            self.full_console_log = []
            self.last_lines = queue.Queue()
            self._partial = b""

    def follow(self, fd: int) -> None:
        """Read `fd` (QEMU's stdout) until EOF in a daemon thread."""
        self._thread = threading.Thread(
            target=self._read, args=(fd,), name=f"serial-{self.machine}", daemon=True
        )
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _read(self, fd: int) -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            self.feed(chunk)
        if self._partial:
            self._emit_line(self._partial)
            self._partial = b""

    def feed(self, chunk: bytes) -> None:
        """Take bytes from any source: the reader thread, or a container's journal stream."""
        self._bus.publish(SerialOutput(machine=self.machine, data=chunk))
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            self._emit_line(line)

    def _emit_line(self, raw: bytes) -> None:
        line = raw.decode(errors="ignore").replace("\r", "").rstrip()
        with self._lock:
            self.full_console_log.append(line)
            self.last_lines.put(line)  # after the append: matching text is already in the log
        self._bus.publish(SerialLine(machine=self.machine, line=line))
        self._log_line(line)
