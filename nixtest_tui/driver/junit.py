"""JUnit XML report (`--junit-xml`): one suite, one test case per subtest.

As upstream master's logger: after a subtest fails, what is logged outside every subtest (the
script's traceback, `cleanup`, `kill …`) is attached to that failed case, which is where a CI
user reading the case looks for it; and a run without subtests has one empty `main` case.
Deliberate differences:
* a case's time is its own wall time minus its nested subtests (the spec's rule) instead of
  master's zeros, so CI dashboards show where the time went;
* a failure outside every subtest after they all passed (cleanup error, SIGINT, the global
  timeout) adds a failed `main` case with the error lines, so the report is never green for a
  red run;
* the failure `message` names the failing statement and the error
  (`alice.succeed("exit 7") (line 7): RequestedAssertionFailed: command …`) instead of
  upstream's "test case failed", which tells a dashboard reader nothing.
The file is written by `close()`/`write()`, never by `atexit`: the driver calls `close()` from
every exit path it controls, including signal handlers and the global timeout.
"""

from __future__ import annotations

import os
import re
import threading
import time
import traceback
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
SCRIPT_FILENAME = "<string>"  # driver.SCRIPT_FILENAME: the name the test script is compiled under
_SCRIPT_FRAME = re.compile(r'^\s*File "<string>", line (\d+)')
_SUBTEST_ERROR = re.compile(r'^Test ".*" failed with error: "(.*)"$')


@dataclass
class _Case:
    name: str
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    failed: bool = False
    interrupted: bool = False
    elapsed: float = 0.0
    # what escaped the subtest, for the failure message when no traceback was logged
    escaped: str = ""


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
        # The case that failed last, with the exception that failed it: outside every subtest,
        # lines go to it (upstream never leaves a failed subtest). An exception that fails the
        # enclosing subtests too keeps the innermost case, where it was raised.
        self._after_failure: _Case | None = None
        self._failure: BaseException | None = None

    # -- recording ------------------------------------------------------------------------------

    def _current(self) -> _Case:
        if self._stack:
            return self._stack[-1].case
        return self._after_failure or self._main

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
        except BaseException as exc:
            self._remember_failure(run.case, exc)
            raise
        finally:
            self._leave(run, failed)

    def _remember_failure(self, case: _Case, exc: BaseException) -> None:
        with self._lock:
            if exc is self._failure:
                return  # the same exception leaving an enclosing subtest
            self._failure, self._after_failure = exc, case
            frames = [f for f in _frames(exc) if f.filename == SCRIPT_FILENAME]
            where = f"line {frames[-1].lineno}: " if frames else ""
            case.escaped = f"{where}{type(exc).__name__}: {exc}"

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

    def _test_case(self, case: _Case, elapsed: float,
                   explained_by: list[str] | None = None) -> TestCase:
        test_case = TestCase(
            case.name,
            elapsed_sec=round(max(elapsed, 0.0), 3),
            stdout="".join(case.stdout) or None,
            stderr="".join(case.stderr) or None,
        )
        if case.failed or case.interrupted:
            interrupted = case.interrupted and not case.failed
            output = INTERRUPTED_OUTPUT if interrupted else None
            errors = case.stderr if explained_by is None else explained_by
            message = failure_message(errors, case.escaped) or (
                INTERRUPTED_OUTPUT if interrupted else FAILURE_MESSAGE)
            test_case.add_failure_info(message=message, output=output, failure_type="failure")
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
        outside = (self._stack[0].started if self._stack else now) - self._created
        main_time = outside - self._in_top_level_subtests
        if not cases:
            # upstream's empty `main`; the failure message still says what failed
            main = _Case(MAIN_CASE, failed=self._main.failed, escaped=self._main.escaped)
            cases.append(self._test_case(main, main_time, self._main.stderr))
        elif self._main.failed and not some_case_failed:
            main = _Case(MAIN_CASE, stderr=self._main.stderr, failed=True)
            cases.append(self._test_case(main, main_time))
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


def _frames(exc: BaseException) -> list[traceback.FrameSummary]:
    return list(traceback.extract_tb(exc.__traceback__))


def failure_message(error_lines: list[str], escaped: str = "") -> str:
    """`<statement> (line N): <Type>: <message>` from the traceback the driver logged (the
    script's frames with their source lines, then the error), else what escaped the subtest,
    else its `Test "…" failed with error` line; empty when nothing says more than upstream's
    "test case failed"."""
    lines = "".join(error_lines).splitlines()
    frame_at = [i for i, line in enumerate(lines) if _SCRIPT_FRAME.match(line)]
    if frame_at:
        last = frame_at[-1]
        match = _SCRIPT_FRAME.match(lines[last])
        assert match is not None
        following = lines[last + 1:]
        statement = following[0].strip() if following and following[0].startswith("    ") \
            else ""
        # the error is the first unindented line after the frame: driver frames (indented)
        # and the blank line come before it, cleanup errors logged later come after it
        error = next((line for line in following if line.strip() and not line[0].isspace()),
                     escaped.split(": ", 1)[-1] if ": " in escaped else "")
        where = f"{statement} (line {match[1]})" if statement else f"line {match[1]}"
        return f"{where}: {error}" if error else where
    if escaped:
        return escaped
    for line in lines:
        if found := _SUBTEST_ERROR.match(line):
            return found[1]
    return lines[0] if lines else ""
