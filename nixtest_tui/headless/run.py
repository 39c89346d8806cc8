"""Run a test without a UI: upstream's `main()` with clean exits on every path.

Differences from upstream, on purpose (peers-and-pains §A4-A6, spec §13 item 9): the global
timeout and SIGINT/SIGTERM/SIGHUP all unwind through the same cleanup (machines released,
VLANs stopped, XML log and JUnit written) instead of killing the process mid-way.
Exit status: 0 when the script ran to the end, 1 when it failed, 124 when the global timeout
fired, 128+N after signal N, 2 for bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from nixtest_tui.driver.driver import SCRIPT_FILENAME, Driver
from nixtest_tui.driver.errors import ConfigError
from nixtest_tui.driver.events import EventBus
from nixtest_tui.driver.junit import JunitXMLLogger
from nixtest_tui.driver.logger import AbstractLogger, CompositeLogger, EventLogger, TerminalLogger
from nixtest_tui.driver.xmllog import XMLLogger
from nixtest_tui.headless.args import host_problem, log_level, resolve_configuration
from nixtest_tui.headless.filmstrip import FilmStrip
from nixtest_tui.headless.trace import DEFAULT_NAME as DEFAULT_TRACE_NAME
from nixtest_tui.headless.trace import TraceWriter

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 124


class Stop(BaseException):
    """Raised in the main thread to unwind the test: a signal or the global timeout."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP unwind the main thread as `Stop(128+N)`."""
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise Stop(128 + signum, f"received {signal.Signals(signum).name}")

    previous = {s: signal.signal(s, handler)
                for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


class GlobalTimeout:
    """Replaces upstream's SIGTERM-to-self with an exception in the main thread."""

    def __init__(self, driver: Driver, logger: AbstractLogger) -> None:
        self._driver = driver
        self._logger = logger
        self._main = threading.main_thread().ident
        self.fired = False
        self.active = True

    def fire(self) -> None:
        """Runs on the driver's timer thread."""
        if not self.active:
            return
        seconds = self._driver.config.global_timeout.total_seconds()
        self.fired = True
        self._logger.log_test_error(f"global timeout of {seconds} seconds reached; "
                                    "test terminating...")
        assert self._main is not None
        signal.pthread_kill(self._main, signal.SIGUSR1)

    def install(self) -> None:
        def handler(_signum: int, _frame: FrameType | None) -> None:
            if self.fired:
                raise Stop(EXIT_TIMEOUT, "global timeout")

        signal.signal(signal.SIGUSR1, handler)
        self._driver.terminate_test = self.fire  # type: ignore[method-assign]


def build_logger(args: argparse.Namespace, bus: EventBus, out_dir: Path
                 ) -> tuple[CompositeLogger, list[JunitXMLLogger | XMLLogger]]:
    logger = CompositeLogger([TerminalLogger(), EventLogger(bus)])
    closers: list[JunitXMLLogger | XMLLogger] = []
    if os.environ.get("LOGFILE"):
        xml = XMLLogger(os.environ["LOGFILE"])
        logger.add_logger(xml)
        closers.append(xml)
    if args.junit_xml is not None:
        junit = JunitXMLLogger(out_dir / args.junit_xml)
        logger.add_logger(junit)
        closers.append(junit)
    logger.set_log_level(log_level(args))
    return logger, closers


def describe_failure(exc: BaseException, driver: Driver | None, logger: AbstractLogger) -> str:
    """An exception the script raised (a bad regex, `timeout=True`, a NameError) is the
    user's error: show the script's own lines and the message, as for a failed assertion,
    and keep the driver's frames for `--log-level debug`. Anything else is a driver problem
    and keeps its full traceback."""
    full = traceback.format_exception(type(exc), exc, exc.__traceback__)
    frames = traceback.extract_tb(exc.__traceback__)
    if driver is None or not any(f.filename == SCRIPT_FILENAME for f in frames):
        return "".join(full).rstrip("\n")
    logger.debug("".join(full).rstrip("\n"))
    return driver.script_traceback(exc)


def run(args: argparse.Namespace, prog: str, default_trace: Path | None = None) -> int:
    try:
        config = resolve_configuration(args)
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if problem := host_problem(config):
        print(f"{prog}: error: {problem}", file=sys.stderr)
        return EXIT_FAILED
    out_dir: Path = args.output_directory
    keep = bool(args.keep_machine_state or args.keep_vm_state)
    bus = EventBus()
    logger, closers = build_logger(args, bus, out_dir)
    trace_path = args.trace or default_trace
    if trace_path is None and (args.html_report is not None or args.trace_screens):
        trace_path = Path(DEFAULT_TRACE_NAME)  # the report and the film strip live in it
    trace = TraceWriter(bus, out_dir / trace_path, out_dir) if trace_path else None
    if trace is not None:
        trace.describe(config)
    film: FilmStrip | None = None
    if not keep:
        logger.info("Machine state will be reset. To keep it, pass --keep-machine-state")
    debug = None
    if args.debug_hook_attach:
        from nixtest_tui.headless.debughook import DebugHook

        debug = DebugHook(logger, args.debug_hook_attach)
    status = 0
    current: Driver | None = None
    try:
        with stop_on_signals():
            try:
                with Driver(config, out_dir, logger, keep, debug, args.interactive,
                            bus) as driver:
                    current = driver
                    driver.trace_script_lines = trace is not None
                    if trace is not None and args.trace_screens:
                        film = FilmStrip(trace, lambda: driver.machines, args.trace_screens)
                        film.start()
                    if args.interactive:
                        from nixtest_tui.headless.repl import run_repl

                        run_repl(driver)
                    else:
                        timeout = GlobalTimeout(driver, logger)
                        timeout.install()
                        started = time.monotonic()
                        try:
                            if args.break_on_failure:
                                from nixtest_tui.headless.breakpoints import run_under_debugger

                                run_under_debugger(driver, logger)
                            else:
                                driver.run_tests()
                        finally:
                            timeout.active = False
                        logger.log(f"test script finished in {time.monotonic() - started:.2f}s")
            except Stop as stop:
                logger.log_test_error(f"test stopped: {stop.reason}")
                status = stop.status
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else EXIT_FAILED
            except Exception as exc:
                logger.log_test_error(describe_failure(exc, current, logger))
                status = EXIT_FAILED
    except Stop as stop:  # a second signal during cleanup
        status = stop.status
    finally:
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # a timer that fires this late is moot
        for closer in closers:
            try:
                closer.close()
            except OSError as exc:  # a full or vanished output dir: say so, no traceback
                where = exc.filename or getattr(closer, "path", None) or "a report"
                print(f"{prog}: error: cannot write {where}: {exc.strerror}", file=sys.stderr)
                status = status or EXIT_FAILED
        if film is not None:
            film.close()
        if trace is not None:
            trace.close()
            if args.html_report is not None:
                status = write_html_report(trace.path, out_dir / args.html_report, prog) or status
    return status


def write_html_report(trace_path: Path, target: Path, prog: str) -> int:
    """`--html-report`: written last, from the finished trace, so that it shows the cleanup
    too. A report that cannot be written fails the run (exit 1), as the JUnit file does."""
    from nixtest_tui.replay.errors import TraceError
    from nixtest_tui.report import write_report

    try:
        write_report(trace_path, target)
    except (OSError, TraceError) as exc:
        print(f"{prog}: error: cannot write the HTML report {target}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0
