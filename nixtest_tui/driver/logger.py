"""The driver's logger: upstream's logger interface, a terminal sink and an event sink.

Test scripts use the same object as the global `log` (`log.info(...)`, `with log.nested(...)`),
so the method names and signatures are upstream's. One difference on purpose: upstream's
composite `error()` calls `sys.exit(1)`, which turns any error logged during cleanup into an
abrupt exit; ours logs and lets the caller decide.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from enum import IntEnum
from typing import Any, TextIO

from nixtest_tui.driver.errors import LeftBlock
from nixtest_tui.driver.events import EventBus, LogMessage, NestFinished, NestStarted

Attributes = dict[str, str]


class LogLevel(IntEnum):
    DEBUG = 1
    INFO = 2
    WARNING = 3
    ERROR = 4

    @staticmethod
    def parse(name: str) -> LogLevel:
        try:
            return LogLevel[name.upper()]
        except KeyError:
            raise ValueError(
                f"unknown log level {name!r}: use debug, info, warning or error"
            ) from None


class AbstractLogger(ABC):
    @abstractmethod
    def log(self, message: str, attributes: Attributes | None = None) -> None: ...

    @abstractmethod
    @contextmanager
    def nested(self, message: str, attributes: Attributes | None = None) -> Iterator[None]: ...

    @contextmanager
    def subtest(self, name: str, attributes: Attributes | None = None) -> Iterator[None]:
        with self.nested("subtest: " + name, {**(attributes or {}), "subtest": name}):
            yield

    @abstractmethod
    def debug(self, *args: Any, **kwargs: Any) -> None: ...

    @abstractmethod
    def info(self, *args: Any, **kwargs: Any) -> None: ...

    @abstractmethod
    def warning(self, *args: Any, **kwargs: Any) -> None: ...

    @abstractmethod
    def error(self, *args: Any, **kwargs: Any) -> None: ...

    @abstractmethod
    def log_test_error(self, *args: Any, **kwargs: Any) -> None: ...

    @abstractmethod
    def log_serial(self, message: str, machine: str) -> None: ...

    @abstractmethod
    def print_serial_logs(self, enable: bool) -> None: ...

    @abstractmethod
    def set_log_level(self, level: LogLevel) -> None: ...


def _prefix(attributes: Attributes | None) -> str:
    machine = (attributes or {}).get("machine")
    return f"{machine}: " if machine else ""


def format_warning(message: Warning | str, category: type[Warning], filename: str,
                   lineno: int) -> str:
    """Upstream's `??? Warning (<Category>): <message>` and `    File "<file>", line N`.

    The file and line are where the warning points: for our duration warnings that is the
    test script's line (`<string>`), where upstream's point into its own `duration.py`.
    """
    return f'??? Warning ({category.__name__}): {message}\n    File "{filename}", line {lineno}'


class TerminalLogger(AbstractLogger):
    """Upstream's terminal shape on stderr: `name: msg`, green block headers, `(finished: ...)`,
    dim `name # serial line`, red `!!! ` test errors, bright yellow `??? Warning` blocks. No
    indentation, as upstream.

    Python warnings (deprecated durations, `copy_from_vm`, ...) are shown through the newest
    terminal logger, in upstream's format: upstream replaces `warnings.formatwarning` for the
    whole driver process, and going through the logger also keeps a warning in order with the
    log lines and whole while serial threads print.
    """

    BOLD_GREEN, DIM, RED, RESET = "\x1b[1m\x1b[32m", "\x1b[2m", "\x1b[31m", "\x1b[0m"
    BOLD_YELLOW = "\x1b[1m\x1b[33m"

    def __init__(self, stream: TextIO | None = None, colour: bool | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._level = LogLevel.INFO
        self._serial = True
        self._colour = colour if colour is not None else "NO_COLOR" not in os.environ
        warnings.showwarning = self.show_warning

    def show_warning(self, message: Warning | str, category: type[Warning], filename: str,
                     lineno: int, file: TextIO | None = None, line: str | None = None) -> None:
        """A `warnings.showwarning` replacement; warnings are never hidden by the log level."""
        text = format_warning(message, category, filename, lineno)
        if file is not None and file is not (self._stream or sys.stderr):
            file.write(text + "\n")  # someone asked for another stream explicitly
            return
        self._write(self._paint(self.BOLD_YELLOW, text))

    def _paint(self, code: str, text: str) -> str:
        return f"{code}{text}{self.RESET}" if self._colour else text

    def _write(self, text: str) -> None:
        stream = self._stream or sys.stderr
        with self._lock:
            stream.write(text + "\n")
            stream.flush()

    def log(self, message: str, attributes: Attributes | None = None) -> None:
        if self._level <= LogLevel.INFO:
            self._write(_prefix(attributes) + message)

    @contextmanager
    def nested(self, message: str, attributes: Attributes | None = None) -> Iterator[None]:
        prefix = _prefix(attributes)
        if self._level <= LogLevel.INFO:
            self._write(prefix + self._paint(self.BOLD_GREEN, message))
        started = time.monotonic()
        yield
        if self._level <= LogLevel.INFO:
            elapsed = time.monotonic() - started
            self._write(f"{prefix}(finished: {message}, in {elapsed:.2f} seconds)")

    def debug(self, *args: Any, **kwargs: Any) -> None:
        if self._level <= LogLevel.DEBUG:
            self._write(_prefix(kwargs.get("attributes")) + self._paint(self.DIM, str(args[0])))

    def info(self, *args: Any, **kwargs: Any) -> None:
        self.log(str(args[0]), kwargs.get("attributes"))

    def warning(self, *args: Any, **kwargs: Any) -> None:
        if self._level <= LogLevel.WARNING:
            self._write(_prefix(kwargs.get("attributes")) + str(args[0]))

    def error(self, *args: Any, **kwargs: Any) -> None:
        self._write(_prefix(kwargs.get("attributes")) + str(args[0]))

    def log_test_error(self, *args: Any, **kwargs: Any) -> None:
        if self._level <= LogLevel.WARNING:
            for line in str(args[0]).split("\n"):
                self._write(self._paint(self.RED, "!!! ") + line)

    def log_serial(self, message: str, machine: str) -> None:
        if self._serial and self._level <= LogLevel.INFO:
            self._write(self._paint(self.DIM, f"{machine} # {message}"))

    def print_serial_logs(self, enable: bool) -> None:
        self._serial = enable

    def set_log_level(self, level: LogLevel) -> None:
        self._level = level


class EventLogger(AbstractLogger):
    """Turns log calls into events on the bus (the TUI's log pane reads these)."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    def _message(self, level: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        machine = (kwargs.get("attributes") or {}).get("machine")
        self._bus.publish(LogMessage(level=level, message=str(args[0]), machine=machine))

    def log(self, message: str, attributes: Attributes | None = None) -> None:
        self._bus.publish(LogMessage(level="info", message=message,
                                     machine=(attributes or {}).get("machine")))

    @contextmanager
    def nested(self, message: str, attributes: Attributes | None = None) -> Iterator[None]:
        attributes = attributes or {}
        machine, subtest = attributes.get("machine"), "subtest" in attributes
        self._bus.publish(NestStarted(message=message, machine=machine, subtest=subtest))
        started = time.monotonic()
        try:
            yield
        except LeftBlock as exc:
            self._bus.publish(NestFinished(message=message, duration=time.monotonic() - started,
                                           ok=True, machine=machine, subtest=subtest,
                                           error=f"left: {exc}", left=True))
            raise
        except BaseException as exc:
            self._bus.publish(NestFinished(message=message, duration=time.monotonic() - started,
                                           ok=False, machine=machine, subtest=subtest,
                                           error=str(exc)))
            raise
        self._bus.publish(NestFinished(message=message, duration=time.monotonic() - started,
                                       ok=True, machine=machine, subtest=subtest))

    def debug(self, *args: Any, **kwargs: Any) -> None:
        self._message("debug", args, kwargs)

    def info(self, *args: Any, **kwargs: Any) -> None:
        self._message("info", args, kwargs)

    def warning(self, *args: Any, **kwargs: Any) -> None:
        self._message("warning", args, kwargs)

    def error(self, *args: Any, **kwargs: Any) -> None:
        self._message("error", args, kwargs)

    def log_test_error(self, *args: Any, **kwargs: Any) -> None:
        self._message("test-error", args, kwargs)

    def log_serial(self, message: str, machine: str) -> None:
        pass  # serial lines are published by the machine itself, with the raw bytes

    def print_serial_logs(self, enable: bool) -> None:
        pass

    def set_log_level(self, level: LogLevel) -> None:
        pass


class CompositeLogger(AbstractLogger):
    """Sends every call to all of its loggers (the script's global `log`)."""

    def __init__(self, loggers: list[AbstractLogger] | None = None) -> None:
        self.logger_list: list[AbstractLogger] = list(loggers or [])

    def add_logger(self, logger: AbstractLogger) -> None:
        self.logger_list.append(logger)

    def log(self, message: str, attributes: Attributes | None = None) -> None:
        for logger in self.logger_list:
            logger.log(message, attributes)

    @contextmanager
    def nested(self, message: str, attributes: Attributes | None = None) -> Iterator[None]:
        with ExitStack() as stack:
            for logger in self.logger_list:
                stack.enter_context(logger.nested(message, attributes))
            yield

    @contextmanager
    def subtest(self, name: str, attributes: Attributes | None = None) -> Iterator[None]:
        with ExitStack() as stack:
            for logger in self.logger_list:
                stack.enter_context(logger.subtest(name, attributes))
            yield

    def debug(self, *args: Any, **kwargs: Any) -> None:
        for logger in self.logger_list:
            logger.debug(*args, **kwargs)

    def info(self, *args: Any, **kwargs: Any) -> None:
        for logger in self.logger_list:
            logger.info(*args, **kwargs)

    def warning(self, *args: Any, **kwargs: Any) -> None:
        for logger in self.logger_list:
            logger.warning(*args, **kwargs)

    def error(self, *args: Any, **kwargs: Any) -> None:
        for logger in self.logger_list:
            logger.error(*args, **kwargs)

    def log_test_error(self, *args: Any, **kwargs: Any) -> None:
        for logger in self.logger_list:
            logger.log_test_error(*args, **kwargs)

    def log_serial(self, message: str, machine: str) -> None:
        for logger in self.logger_list:
            logger.log_serial(message, machine)

    def print_serial_logs(self, enable: bool) -> None:
        for logger in self.logger_list:
            logger.print_serial_logs(enable)

    def set_log_level(self, level: LogLevel) -> None:
        for logger in self.logger_list:
            logger.set_log_level(level)
