"""JUnit XML report (`--junit-xml`): one suite, one test case per subtest.

Two deliberate differences from upstream master's logger:
* a subtest is left in a `finally`, so lines logged after a failed subtest (cleanup, `kill …`)
  belong to the suite, not to the failed case;
* a case's time is its own wall time minus its nested subtests (the spec's rule) instead of
  master's zeros, so CI dashboards show where the time went.
The file is written by `close()`/`write()`, never by `atexit`: the driver calls `close()` from
every exit path it controls, including signal handlers and the global timeout.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from junit_xml import TestCase, TestSuite, to_xml_report_string

from nixtest_tui.driver.logger import AbstractLogger, Attributes, LogLevel
from nixtest_tui.driver.xmllog import xml_safe

SUITE_NAME = "NixOS integration test"
MAIN_CASE = "main"
FAILURE_MESSAGE = "test case failed"
INTERRUPTED_OUTPUT = "the test run ended while this subtest was still running"


@dataclass
class _Case:
    name: str
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    failed: bool = False
    interrupted: bool = False
    elapsed: float = 0.0


@dataclass
class _Run:
    """One entry into a subtest: a name can be entered more than once and then shares a case."""

    case: _Case
    started: float
    in_children: float = 0.0


def _prefix(attributes: Attributes | None) -> str:
    machine = (attributes or {}).get("machine")
    return f"{machine}: " if machine else ""


class JunitXMLLogger(AbstractLogger):
    """Collects the run in memory and renders it with `junit_xml` on `write()`/`close()`.

    `clock` is injectable so tests can check the timing rule without sleeping.
    """

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.RLock()
        self._level = LogLevel.INFO
        self._serial = True
        self._closed = False
        self._suite = _Case(SUITE_NAME)
        # What happened while no subtest was current; reported as `main` when needed.
        self._main = _Case(MAIN_CASE)
        self._created = clock()
        self._in_top_level_subtests = 0.0
        self._cases: dict[str, _Case] = {}
        self._stack: list[_Run] = []

    # -- recording ------------------------------------------------------------------------------

    def _current(self) -> _Case:
        return self._stack[-1].case if self._stack else self._main

    def _out(self, text: str) -> None:
        line = xml_safe(text) + "\n"
        with self._lock:
            if not self._closed:
                self._suite.stdout.append(line)
                self._current().stdout.append(line)

    def _err(self, text: str) -> None:
        line = xml_safe(text) + "\n"
        with self._lock:
            if not self._closed:
                self._suite.stderr.append(line)
                self._suite.failed = True
                current = self._current()
                current.stderr.append(line)
                current.failed = True

    def _enter(self, name: str, header: str) -> _Run:
        with self._lock:
            if not self._closed and self._level <= LogLevel.INFO:
                self._suite.stdout.append(xml_safe(header) + "\n")
            case = self._cases.setdefault(name, _Case(name))
            run = _Run(case, self._clock())
            self._stack.append(run)
            return run

    def _leave(self, run: _Run, failed: bool) -> None:
        with self._lock:
            total = self._clock() - run.started
            run.case.elapsed += total - run.in_children
            run.case.failed = run.case.failed or failed
            index = next(i for i, r in enumerate(self._stack) if r is run)
            del self._stack[index]
            if index > 0:
                self._stack[index - 1].in_children += total
            else:
                self._in_top_level_subtests += total

    # -- the logger interface -------------------------------------------------------------------

    def log(self, message: str, attributes: Attributes | None = None) -> None:
        if self._level <= LogLevel.INFO:
            self._out(_prefix(attributes) + message)

    @contextmanager
    def nested(self, message: str, attributes: Attributes | None = None) -> Iterator[None]:
        # Only the header: `(finished: …)` lines never appear in upstream's JUnit output.
        self.log(message, attributes)
        yield

    @contextmanager
    def subtest(self, name: str, attributes: Attributes | None = None) -> Iterator[None]:
        # The `subtest: …` header goes to the suite only: the case itself is the header.
        run = self._enter(name, _prefix(attributes) + "subtest: " + name)
        failed = True
        try:
            yield
            failed = False
        finally:
            self._leave(run, failed)

    def debug(self, *args: Any, **kwargs: Any) -> None:
        if self._level <= LogLevel.DEBUG:
            self._out(_prefix(kwargs.get("attributes")) + str(args[0]))

    def info(self, *args: Any, **kwargs: Any) -> None:
        self.log(str(args[0]), kwargs.get("attributes"))

    def warning(self, *args: Any, **kwargs: Any) -> None:
        if self._level <= LogLevel.WARNING:
            self._out(_prefix(kwargs.get("attributes")) + str(args[0]))

    def error(self, *args: Any, **kwargs: Any) -> None:
        self._err(_prefix(kwargs.get("attributes")) + str(args[0]))

    def log_test_error(self, *args: Any, **kwargs: Any) -> None:
        # Not level-filtered, unlike the terminal: a report that hides why a test failed is
        # worse than none.
        self._err(_prefix(kwargs.get("attributes")) + str(args[0]))

    def log_serial(self, message: str, machine: str) -> None:
        if self._serial and self._level <= LogLevel.INFO:
            self._out(f"{machine} # {message}")

    def print_serial_logs(self, enable: bool) -> None:
        self._serial = enable

    def set_log_level(self, level: LogLevel) -> None:
        self._level = level

    # -- the report -----------------------------------------------------------------------------

    def _test_case(self, case: _Case, elapsed: float) -> TestCase:
        test_case = TestCase(
            case.name,
            elapsed_sec=round(max(elapsed, 0.0), 3),
            stdout="".join(case.stdout) or None,
            stderr="".join(case.stderr) or None,
        )
        if case.failed or case.interrupted:
            output = INTERRUPTED_OUTPUT if case.interrupted and not case.failed else None
            test_case.add_failure_info(message=FAILURE_MESSAGE, output=output,
                                       failure_type="failure")
        return test_case

    def _test_cases(self) -> list[TestCase]:
        """The cases as they stand now; subtests still running count with their time so far."""
        now = self._clock()
        elapsed = {name: case.elapsed for name, case in self._cases.items()}
        for i, run in enumerate(self._stack):
            child_started = self._stack[i + 1].started if i + 1 < len(self._stack) else now
            elapsed[run.case.name] += child_started - run.started - run.in_children
        cases = [self._test_case(case, elapsed[name]) for name, case in self._cases.items()]
        # `main` stands in for a run without subtests; it is also added when the run failed
        # outside every subtest while all subtests passed, so the report is never green for a
        # red run.
        some_case_failed = any(c.failed or c.interrupted for c in self._cases.values())
        if not cases or (self._main.failed and not some_case_failed):
            outside = (self._stack[0].started if self._stack else now) - self._created
            cases.append(self._test_case(self._main, outside - self._in_top_level_subtests))
        return cases

    def render(self) -> str:
        """The report as text (what `write()` puts in the file)."""
        with self._lock:
            suite = TestSuite(
                SUITE_NAME,
                self._test_cases(),
                stdout="".join(self._suite.stdout) or None,
                stderr="".join(self._suite.stderr) or None,
            )
            return str(to_xml_report_string([suite]))

    def write(self) -> None:
        """Writes the report as it stands; may be called any number of times before `close()`.
        A regular file is replaced atomically, so a reader never sees half a report."""
        with self._lock:
            if self._closed:
                return
            text = self.render()
            if self.path.exists() and not self.path.is_file():
                self.path.write_text(text, encoding="utf-8")  # a pipe or device: no rename
                return
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            try:
                temporary.write_text(text, encoding="utf-8")
                os.replace(temporary, self.path)
            except OSError:
                temporary.unlink(missing_ok=True)  # no half report left behind (disk full)
                raise

    def close(self) -> None:
        """Writes the final report; subtests still running are reported as failed (the run
        was cut short inside them). Later calls, and later log lines, change nothing."""
        with self._lock:
            if self._closed:
                return
            for run in self._stack:
                run.case.interrupted = True
            self.write()
            self._closed = True
