"""`--break-on-failure`: run the script under the debugger and wait for the user on failure.

A failure the user skips (`:skip` in the attach client) lets the run go on, but the run does
not pass: the skip is logged where it happened (`!!! skipped by the user: ...`), the JUnit case
fails with that line as its message, and the driver exits 1. A CI job must not go green on a
failed statement because someone looked at it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from nixtest_tui.debugger import ScriptRunner
from nixtest_tui.debugger.attach import AttachServer
from nixtest_tui.driver.driver import Driver
from nixtest_tui.driver.events import ScriptStateChanged
from nixtest_tui.driver.logger import AbstractLogger


def run_under_debugger(driver: Driver, logger: AbstractLogger) -> None:
    """`run_tests()` with pause-on-failure; exits 1 (SystemExit) if the script fails anyway
    or a failure was skipped."""
    timeout = driver.config.global_timeout.total_seconds()
    logger.log(f"Test will time out and terminate in {timeout} seconds")
    driver.race_timer.start()
    runner = ScriptRunner(driver, pause_on_failure=True)
    assert driver.tmp_dir is not None
    socket_path = driver.tmp_dir / f"nixtest-attach-{os.getpid()}.sock"
    try:
        with logger.nested("run the VM test script"), \
                driver.bus.subscribe(ScriptStateChanged) as states:
            runner.start()
            for event in states:
                assert isinstance(event, ScriptStateChanged)
                if event.state == "paused" and event.reason == "failure":
                    _serve_one_failure(runner, socket_path, event, logger)
                elif event.state in ("finished", "failed", "stopped"):
                    break
            runner.wait()
    finally:
        runner.close(timeout=5)
    if runner.error is not None:
        driver.report_script_error(runner.error)
        sys.exit(1)
    if runner.skipped:
        count = len(runner.skipped)
        logger.log_test_error(f"the script ran to the end, but {count} failure"
                              f"{'s were' if count > 1 else ' was'} skipped by the user: "
                              "the test fails")
        sys.exit(1)
    for machine in driver.machines:
        if machine.is_up():
            machine.execute("sync")


def _serve_one_failure(runner: ScriptRunner, socket_path: Path, event: ScriptStateChanged,
                       logger: AbstractLogger) -> None:
    server = AttachServer(runner, socket_path)
    # a warning, not a test error: the run only fails if the user lets it fail (or skips)
    for line in (f"!!! test failed at line {event.line}: {event.error}",
                 "!!! the machines stay up; to inspect, fix and retry, run:",
                 f"!!!   nixtest-tui attach {socket_path}"):
        logger.warning(line)
    try:
        server.wait_resolved()
    finally:
        server.close()
