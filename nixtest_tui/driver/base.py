"""`BaseMachine`: everything a test script can do with a machine that only needs `execute`.

Names, positional order, keywords, defaults, log lines and messages are upstream's (spec §5.1),
because test scripts from nixpkgs call these unchanged and CI users grep the logs for them.
"""

from __future__ import annotations

import re
import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from nixtest_tui.driver import cancel
from nixtest_tui.driver.copying import FileCopies
from nixtest_tui.driver.duration import (
    Duration,
    pick_duration,
    seconds,
    to_timedelta,
    warn_if_number,
)
from nixtest_tui.driver.errors import RequestedAssertionFailed
from nixtest_tui.driver.events import (
    EventBus,
    MachineStateChanged,
    WaitFinished,
    WaitProgress,
    WaitStarted,
)
from nixtest_tui.driver.logger import AbstractLogger
from nixtest_tui.driver.retry import retry
from nixtest_tui.driver.stateroot import private_dir
from nixtest_tui.driver.units import FIFTEEN_MINUTES, SystemdUnits


class BaseMachine(FileCopies, SystemdUnits, ABC):
    def __init__(
        self,
        out_dir: Path,
        tmp_dir: Path,
        logger: AbstractLogger,
        name: str,
        keep_machine_state: bool = False,
        callbacks: list[Callable[[], None]] | None = None,
        bus: EventBus | None = None,
    ) -> None:
        self.name = name
        self.out_dir = Path(out_dir)
        self.tmp_dir = Path(tmp_dir)
        self.logger = logger
        self.keep_machine_state = keep_machine_state
        self.callbacks = callbacks if callbacks is not None else []
        # run before every command (not monitor commands, so crash() still works): the
        # driver checks here that the VLAN switches still run
        self.health_checks: list[Callable[[], None]] = []
        self.bus = bus if bus is not None else EventBus()
        self.state_dir = self.tmp_dir / f"vm-state-{self.name}"
        self.shared_dir = self.tmp_dir / "shared-xchg"
        if not keep_machine_state:
            self.cleanup_statedir()
        for directory in (self.state_dir, self.shared_dir):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            private_dir(directory)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} '{self.name}'>"

    # -- logging -----------------------------------------------------------------------------

    def log(self, msg: str) -> None:
        self.logger.log(msg, {"machine": self.name})

    def log_serial(self, msg: str) -> None:
        self.logger.log_serial(msg, self.name)

    def nested(self, msg: str, attrs: dict[str, str] | None = None) -> Any:
        return self.logger.nested(msg, {"machine": self.name, **(attrs or {})})

    def _state(self, state: str, exit_code: int | None = None, detail: str = "") -> None:
        """Tell the bus (the TUI's machine list, the trace) where the machine's life is."""
        self.bus.publish(MachineStateChanged(machine=self.name, state=state,
                                             exit_code=exit_code, detail=detail))

    def cleanup_statedir(self) -> None:
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir)
            self.logger.log(f"deleting VM state directory {self.state_dir}")
            self.logger.log("if you want to keep the VM state, pass --keep-machine-state")

    def run_callbacks(self) -> None:
        for callback in self.callbacks:
            callback()

    # -- the backend ---------------------------------------------------------------------------

    @abstractmethod
    def is_up(self) -> bool: ...

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def shutdown(self) -> None: ...

    @abstractmethod
    def wait_for_shutdown(self) -> None: ...

    @abstractmethod
    def release(self) -> None: ...

    @abstractmethod
    def _execute(self, command: str, check_return: bool, check_output: bool,
                 timeout: timedelta | None) -> tuple[int, str]: ...

    # -- commands ------------------------------------------------------------------------------

    def execute(self, command: str, check_return: bool = True, check_output: bool = True,
                timeout: Duration | None = FIFTEEN_MINUTES) -> tuple[int, str]:
        self.run_callbacks()
        for check in self.health_checks:
            check()
        limit = None if timeout is None else to_timedelta(timeout, "execute()")
        return self._execute(command, check_return, check_output, cancel.bounded(limit))

    def succeed(self, *commands: str, timeout: Duration | None = None) -> str:
        # the number goes on to execute() as it came, which warns again: upstream prints both
        warn_if_number(timeout, "succeed()")
        output = ""
        for command in commands:
            with self.nested(f"must succeed: {command}"):
                status, out = self.execute(command, timeout=timeout)
                if status != 0:
                    self.log(f"output: {out}")
                    raise RequestedAssertionFailed(
                        f"command `{command}` failed (exit code {status})"
                    )
                output += out
        return output

    def fail(self, *commands: str, timeout: Duration | None = None) -> str:
        warn_if_number(timeout, "fail()")
        output = ""
        for command in commands:
            with self.nested(f"must fail: {command}"):
                status, out = self.execute(command, timeout=timeout)
                if status == 0:
                    raise RequestedAssertionFailed(f"command `{command}` unexpectedly succeeded")
                output += out
        return output

    def sleep(self, secs: Duration | None = None, duration: Duration | None = None) -> None:
        if secs is None and duration is None:
            raise TypeError("sleep() needs a duration: sleep(duration=timedelta(seconds=N))")
        span = pick_duration(duration, secs, what="sleep()", new_name="duration",
                             old_name="secs", default=None)
        assert span is not None
        self.succeed(f"sleep {span.total_seconds()}")

    # -- waiting -------------------------------------------------------------------------------

    @contextmanager
    def _wait(self, what: str, target: str, limit: timedelta | None) -> Iterator[
            Callable[[int, float, Any], None]]:
        """Publishes wait events around a retry loop; yields retry's `on_attempt` hook."""
        started = time.monotonic()
        self.bus.publish(WaitStarted(machine=self.name, what=what, target=target,
                                     timeout=seconds(limit)))

        def progress(attempt: int, elapsed: float, result: Any) -> None:
            self.bus.publish(WaitProgress(machine=self.name, what=what, target=target,
                                          elapsed=elapsed, last_result=repr(result)[:200]))

        success = False
        try:
            yield progress
            success = True
        finally:
            self.bus.publish(WaitFinished(machine=self.name, what=what, target=target,
                                          elapsed=time.monotonic() - started, success=success))

    def _timeout(self, timeout: Duration | None, timeout_seconds: Duration | None,
                 what: str) -> timedelta:
        limit = pick_duration(timeout, timeout_seconds, what=what, new_name="timeout",
                              old_name="timeout_seconds", default=FIFTEEN_MINUTES)
        assert limit is not None
        return limit

    def _poll(self, what: str, target: str, limit: timedelta,
              check: Callable[[bool], Any]) -> None:
        with self._wait(what, target, limit) as progress:
            retry(check, timeout=limit, on_attempt=progress)

    def wait_until_succeeds(self, command: str, timeout: Duration = FIFTEEN_MINUTES, *,
                            timeout_seconds: Duration | None = None) -> str:
        return self._wait_until(command, True, timeout, timeout_seconds)

    def wait_until_fails(self, command: str, timeout: Duration = FIFTEEN_MINUTES, *,
                         timeout_seconds: Duration | None = None) -> str:
        return self._wait_until(command, False, timeout, timeout_seconds)

    def _wait_until(self, command: str, success: bool, timeout: Duration,
                    timeout_seconds: Duration | None) -> str:
        """Retry `command` until its status is (non-)zero; each attempt gets the whole timeout,
        as upstream's do."""
        api = "wait_until_succeeds()" if success else "wait_until_fails()"
        limit = self._timeout(timeout if timeout_seconds is None else None, timeout_seconds, api)
        output = ""

        def check(_last_try: bool) -> bool:
            nonlocal output
            status, output = self.execute(command, timeout=limit)
            return (status == 0) == success

        kind = "success" if success else "failure"
        with self.nested(f"waiting for {kind}: {command}"):
            self._poll("command", command, limit, check)
        return output

    def _wait_for_status(self, what: str, target: str, message: str, command: str,
                         want_zero: bool, timeout: Duration, timeout_seconds: Duration | None,
                         api: str) -> None:
        limit = self._timeout(timeout if timeout_seconds is None else None, timeout_seconds, api)

        def check(_last_try: bool) -> bool:
            status, _ = self.execute(command)
            return (status == 0) == want_zero

        with self.nested(message):
            self._poll(what, target, limit, check)

    def wait_for_file(self, filename: str, timeout: Duration = FIFTEEN_MINUTES, *,
                      timeout_seconds: Duration | None = None) -> None:
        self._wait_for_status("file", filename, f"waiting for file '{filename}'",
                              f"test -e {filename}", True, timeout, timeout_seconds,
                              "wait_for_file()")

    def wait_for_open_port(self, port: int, addr: str = "localhost",
                           timeout: Duration = FIFTEEN_MINUTES, *,
                           timeout_seconds: Duration | None = None) -> None:
        self._wait_for_status("port", f"{addr}:{port}", f"waiting for TCP port {port} on {addr}",
                              f"nc -z {addr} {port}", True, timeout, timeout_seconds,
                              "wait_for_open_port()")

    def wait_for_closed_port(self, port: int, addr: str = "localhost",
                             timeout: Duration = FIFTEEN_MINUTES, *,
                             timeout_seconds: Duration | None = None) -> None:
        self._wait_for_status("port", f"{addr}:{port} closed",
                              f"waiting for TCP port {port} on {addr} to be closed",
                              f"nc -z {addr} {port}", False, timeout, timeout_seconds,
                              "wait_for_closed_port()")

    def wait_for_open_unix_socket(self, addr: str, is_datagram: bool = False,
                                  timeout: Duration = FIFTEEN_MINUTES, *,
                                  timeout_seconds: Duration | None = None) -> None:
        flags = "-uU" if is_datagram else "-U"
        self._wait_for_status("socket", addr, f"waiting for UNIX socket {addr}",
                              f"nc -z {flags} {addr}", True, timeout, timeout_seconds,
                              "wait_for_open_unix_socket()")

    # -- X11 windows ---------------------------------------------------------------------------

    def get_window_names(self) -> list[str]:
        return self.succeed(
            r"xwininfo -root -tree | sed 's/.*0x[0-9a-f]* \"\([^\"]*\)\".*/\1/; t; d'"
        ).splitlines()

    def wait_for_window(self, regexp: str, timeout: Duration = FIFTEEN_MINUTES, *,
                        timeout_seconds: Duration | None = None) -> None:
        limit = self._timeout(timeout if timeout_seconds is None else None, timeout_seconds,
                              "wait_for_window()")
        pattern = re.compile(regexp)

        def window_is_visible(last_try: bool) -> bool:
            names = self.get_window_names()
            if last_try:
                self.log(f"Last chance to match {regexp} on the window list, "
                         f"which currently contains: {', '.join(names)}")
            return any(pattern.search(name) for name in names)

        with self.nested("waiting for a window to appear"):
            self._poll("window", regexp, limit, window_is_visible)
