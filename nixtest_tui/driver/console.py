"""Console methods of QemuMachine: the serial port, the screen, virtual terminals and X.

Kept apart from qemu.py so that each file stays one idea: this one is about what the machine
shows (the serial text stream, the screen through screen.py, the guest's ttys and X windows
through guest commands), the other about QEMU's life cycle and control channels.
"""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from nixtest_tui.driver import cancel
from nixtest_tui.driver.duration import Duration, to_timedelta
from nixtest_tui.driver.errors import MachineError, RequestedAssertionFailed
from nixtest_tui.driver.ocr import VARIANTS
from nixtest_tui.driver.screen import Screens
from nixtest_tui.driver.serial import SerialReader

if TYPE_CHECKING:
    from pathlib import Path

    from nixtest_tui.driver.events import EventBus
    from nixtest_tui.driver.logger import AbstractLogger
    from nixtest_tui.driver.monitor import Monitor
    from nixtest_tui.driver.qmp import QMPSession

FIFTEEN_MINUTES = timedelta(minutes=15)


class ConsoleMixin:
    name: str
    serial: SerialReader
    process: subprocess.Popen[bytes] | None

    if TYPE_CHECKING:  # provided by BaseMachine/QemuMachine; declared for the type checker only
        bus: EventBus
        state_dir: Path
        out_dir: Path
        logger: AbstractLogger
        qmp_client: QMPSession | None
        monitor: Monitor | None

        def nested(self, msg: str, attrs: dict[str, str] | None = None) -> Any: ...

        def log(self, msg: str) -> None: ...

        def run_callbacks(self) -> None: ...

        def execute(self, command: str, check_return: bool = True, check_output: bool = True,
                    timeout: Duration | None = FIFTEEN_MINUTES) -> tuple[int, str]: ...

        def _timeout(self, timeout: Duration | None, timeout_seconds: Duration | None,
                     what: str) -> timedelta: ...

        def _poll(self, what: str, target: str, limit: timedelta,
                  check: Callable[[bool], Any]) -> None: ...

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

        Lines that arrived before this call count (they wait in the queue). With no timeout
        this waits as long as it takes, as upstream does; a machine that is not started yet
        may still be started by another thread, but one whose QEMU died will never print.
        """
        limit = None if timeout is None else to_timedelta(timeout, "wait_for_console_text()")
        started = time.monotonic()
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            raise RequestedAssertionFailed(
                f"wait_for_console_text(): {regex!r} is not a valid regular expression: {exc}"
            ) from None
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
                elapsed = time.monotonic() - started
                if limit is not None and elapsed > limit.total_seconds():
                    raise RequestedAssertionFailed(
                        f"action timed out after {elapsed:.2f} seconds "
                        f"(timeout={limit.total_seconds()})"
                    )
                if self.process is not None and self.process.poll() is not None:
                    raise MachineError(f"QEMU of {self.name} exited with code "
                                       f"{self.process.returncode} while waiting for "
                                       f"{regex!r} on the console")

    def console_interact(self) -> None:
        """Forward the terminal's input to the serial console, byte by byte; Ctrl-D returns."""
        while (char := sys.stdin.read(1)) not in ("", "\x04"):
            self.send_console(char)

    def shell_interact(self, address: str | None = None) -> None:
        raise MachineError("shell_interact() is deprecated upstream and not offered: "
                           "use execute()/succeed() or the TUI's console")

    # -- the screen (screen.py does the work) -------------------------------------------------

    @cached_property
    def screens(self) -> Screens:
        """Screenshots and OCR; also what the TUI polls (`screens.grab(publish=False)`)."""
        return Screens(self)

    def screenshot(self, filename: str) -> None:
        self.run_callbacks()
        self.screens.save(filename)

    def get_screen_text_variants(self) -> list[str]:
        self.run_callbacks()
        return [result.text for result in self.screens.read(VARIANTS)]

    def get_screen_text(self) -> str:
        self.run_callbacks()
        return self.screens.read(("raw",))[0].text

    def wait_for_text(self, regex: str, timeout: Duration = FIFTEEN_MINUTES, *,
                      timeout_seconds: Duration | None = None) -> None:
        limit = self._timeout(timeout if timeout_seconds is None else None, timeout_seconds,
                              "wait_for_text()")
        with self.nested(f"waiting for {regex} to appear on screen"), \
                self.screens.search(regex) as search:

            def screen_matches(last_try: bool) -> bool:
                self.run_callbacks()
                shot = self.screens.grab()
                if search.attempt(shot, last_try) is not None:
                    return True
                if last_try:
                    self.log(f"Last OCR attempt failed. Text was: {search.texts(shot)}")
                return False

            self._poll("text", regex, limit, screen_matches)

    # -- virtual consoles and X, through guest commands (spec §6.10) ---------------------------

    def get_tty_text(self, tty: str) -> str:
        status, output = self.execute(
            f"fold -w$(stty -F /dev/tty{tty} size | awk '{{print $2}}') /dev/vcs{tty}"
        )
        return output

    def wait_until_tty_matches(self, tty: str, regexp: str, timeout: Duration = FIFTEEN_MINUTES,
                               *, timeout_seconds: Duration | None = None) -> None:
        limit = self._timeout(timeout if timeout_seconds is None else None, timeout_seconds,
                              "wait_until_tty_matches()")
        pattern = re.compile(regexp)

        def tty_matches(last_try: bool) -> bool:
            text = self.get_tty_text(tty)
            if last_try:
                self.log(f"Last chance to match /{regexp}/ on TTY{tty}, "
                         f"which currently contains: {text}")
            return pattern.search(text) is not None

        with self.nested(f"waiting for {regexp} to appear on tty {tty}"):
            self._poll("tty", f"tty{tty}: {regexp}", limit, tty_matches)

    def dump_tty_contents(self, tty: str) -> None:
        """The tty's text into the journal, hence onto the serial log."""
        self.execute(f"fold -w 80 /dev/vcs{tty} | systemd-cat")

    def wait_for_x(self, timeout: Duration = FIFTEEN_MINUTES, *,
                   timeout_seconds: Duration | None = None) -> None:
        limit = self._timeout(timeout if timeout_seconds is None else None, timeout_seconds,
                              "wait_for_x()")

        def x_is_up(_last_try: bool) -> bool:
            status, _ = self.execute("journalctl -b SYSLOG_IDENTIFIER=systemd | "
                                     'grep "Reached target Current graphical"')
            if status != 0:
                return False
            status, _ = self.execute("[ -e /tmp/.X11-unix/X0 ]")
            return status == 0

        with self.nested("waiting for the X11 server"):
            self._poll("x11", "X0", limit, x_is_up)
