"""Serial-console methods of QemuMachine (send_console, wait_for_console_text, ...).

Kept apart from qemu.py so that each file stays one idea: this one is about the text stream of
the first serial port, the other about QEMU's life cycle and control channels.
"""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from nixtest_tui.driver import cancel
from nixtest_tui.driver.duration import Duration, to_timedelta
from nixtest_tui.driver.errors import MachineError, RequestedAssertionFailed
from nixtest_tui.driver.serial import SerialConsole

NOT_YET = "is not implemented in nixtest-tui yet (screenshots, OCR and tty helpers come next)"


class ConsoleMixin:
    name: str
    serial: SerialConsole
    process: subprocess.Popen[bytes] | None

    if TYPE_CHECKING:  # provided by BaseMachine; declared here for the type checker only

        def nested(self, msg: str, attrs: dict[str, str] | None = None) -> Any: ...

    def send_console(self, chars: str) -> None:
        """Bytes to the first serial port's input (QEMU's stdin), e.g. an emergency shell."""
        if self.process is None or self.process.stdin is None:
            raise MachineError(f"{self.name} is not running: start() it first")
        self.process.stdin.write(chars.encode())
        self.process.stdin.flush()

    def get_console_log(self) -> str:
        return "\n".join(self.serial.full_console_log)

    def wait_for_console_text(self, regex: str, timeout: Duration | None = None) -> None:
        """Match `regex` against the serial lines not consumed by an earlier call.

        Lines that arrived before this call count (they wait in the queue); with no timeout
        this waits as long as it takes, as upstream does, but gives up if QEMU exits.
        """
        limit = None if timeout is None else to_timedelta(timeout, "wait_for_console_text()")
        deadline = None if limit is None else time.monotonic() + limit.total_seconds()
        pattern = re.compile(regex)
        taken: list[str] = []
        with self.nested(f"waiting for {regex} to appear on console"):
            while True:
                try:
                    taken.append(self.serial.last_lines.get(timeout=0.5))
                    while True:
                        taken.append(self.serial.last_lines.get_nowait())
                except queue.Empty:
                    pass
                if pattern.search("\n".join(taken)):
                    return
                cancel.check()
                if deadline is not None and time.monotonic() > deadline:
                    raise RequestedAssertionFailed(
                        f"action timed out after {limit.total_seconds() if limit else 0:.2f} "
                        f"seconds (timeout={limit.total_seconds() if limit else 0})"
                    )
                if self.process is None or self.process.poll() is not None:
                    raise MachineError(
                        f"{self.name} stopped while waiting for {regex!r} on the console"
                    )

    def console_interact(self) -> None:
        """Forward the terminal's input to the serial console, byte by byte; Ctrl-D returns."""
        while (char := sys.stdin.read(1)) not in ("", "\x04"):
            self.send_console(char)

    def shell_interact(self, address: str | None = None) -> None:
        raise MachineError("shell_interact() is deprecated upstream and not offered: "
                           "use execute()/succeed() or the TUI's console")

    def screenshot(self, filename: str) -> None:
        raise MachineError(f"screenshot() {NOT_YET}")

    def get_screen_text(self) -> str:
        raise MachineError(f"get_screen_text() {NOT_YET}")

    def get_screen_text_variants(self) -> list[str]:
        raise MachineError(f"get_screen_text_variants() {NOT_YET}")

    def wait_for_text(self, regex: str, timeout: Duration | None = None) -> None:
        raise MachineError(f"wait_for_text() {NOT_YET}")

    def get_tty_text(self, tty: str) -> str:
        raise MachineError(f"get_tty_text() {NOT_YET}")

    def wait_until_tty_matches(self, tty: str, regexp: str, timeout: Duration | None = None
                               ) -> None:
        raise MachineError(f"wait_until_tty_matches() {NOT_YET}")

    def dump_tty_contents(self, tty: str) -> None:
        raise MachineError(f"dump_tty_contents() {NOT_YET}")

    def wait_for_x(self, timeout: Duration | None = None) -> None:
        raise MachineError(f"wait_for_x() {NOT_YET}")
