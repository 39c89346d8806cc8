"""The terminal log has upstream's shape: users grep CI logs for these lines."""

from __future__ import annotations

import io
import re
import sys
import warnings

import pytest

from nixtest_tui.driver.events import EventBus, LogMessage, NestFinished, NestStarted
from nixtest_tui.driver.logger import CompositeLogger, EventLogger, LogLevel, TerminalLogger


def plain() -> tuple[TerminalLogger, io.StringIO]:
    stream = io.StringIO()
    return TerminalLogger(stream, colour=False), stream


def test_nested_blocks_and_machine_prefix() -> None:
    logger, stream = plain()
    with logger.nested("must succeed: true", {"machine": "alice"}):
        logger.log("inside", {"machine": "alice"})
    logger.log("no machine")
    lines = stream.getvalue().splitlines()
    assert lines[:2] == ["alice: must succeed: true", "alice: inside"]
    assert re.fullmatch(r"alice: \(finished: must succeed: true, in \d+\.\d\d seconds\)", lines[2])
    assert lines[3] == "no machine"


def test_failed_block_has_no_finished_line() -> None:
    logger, stream = plain()
    with pytest.raises(RuntimeError), logger.nested("doomed"):
        raise RuntimeError("boom")
    assert "finished" not in stream.getvalue()


def test_colours_match_upstream_bytes() -> None:
    stream = io.StringIO()
    logger = TerminalLogger(stream, colour=True)
    with logger.subtest("x", {"machine": "m"}):
        logger.log_serial("[ 1.0] booted", "m")
    logger.log_test_error("one\ntwo")
    text = stream.getvalue()
    assert text.startswith("m: \x1b[1m\x1b[32msubtest: x\x1b[0m\n")
    assert "\x1b[2mm # [ 1.0] booted\x1b[0m\n" in text
    assert text.endswith("\x1b[31m!!! \x1b[0mone\n\x1b[31m!!! \x1b[0mtwo\n")


def test_levels_and_serial_switch() -> None:
    logger, stream = plain()
    logger.print_serial_logs(False)
    logger.log_serial("hidden", "m")
    logger.print_serial_logs(True)
    logger.debug("not at info")
    logger.set_log_level(LogLevel.ERROR)
    logger.log("hidden too")
    logger.log_test_error("hidden: test errors are warnings, as upstream")
    logger.error("always")
    assert stream.getvalue() == "always\n"
    assert LogLevel.parse("Debug") is LogLevel.DEBUG
    with pytest.raises(ValueError, match="unknown log level"):
        LogLevel.parse("loud")


def test_composite_forwards_and_event_logger_publishes() -> None:
    bus = EventBus()
    logger, stream = plain()
    with bus.subscribe() as events:
        composite = CompositeLogger([logger, EventLogger(bus)])
        with composite.subtest("s"):
            composite.info("hello", attributes={"machine": "m"})
        composite.error("not fatal")  # unlike upstream, error() does not exit
        got = events.get_nowait()
    assert "m: hello" in stream.getvalue()
    kinds = [type(e) for e in got]
    assert kinds == [NestStarted, LogMessage, NestFinished, LogMessage]
    assert isinstance(got[0], NestStarted) and got[0].subtest
    assert isinstance(got[2], NestFinished) and got[2].ok


def test_warnings_in_upstreams_format_through_the_log() -> None:
    """Upstream prints `??? Warning (UserWarning): …` and `    File "…", line N` in bright
    yellow; ours point at the script line and go through the logger's stream."""
    stream = io.StringIO()
    logger = TerminalLogger(stream, colour=True)
    script = "\n\nwarn('succeed(): passing a bare int/float as a duration is deprecated.')\n"
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = logger.show_warning
        logger.log("before")
        exec(compile(script, "<string>", "exec"), {"warn": warnings.warn})  # noqa: S102
        logger.log("after")
    assert stream.getvalue() == (
        "before\n"
        "\x1b[1m\x1b[33m??? Warning (UserWarning): succeed(): passing a bare int/float as a "
        'duration is deprecated.\n    File "<string>", line 3\x1b[0m\n'
        "after\n"
    )


def test_constructing_the_terminal_logger_routes_warnings_to_it() -> None:
    stream = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        logger = TerminalLogger(stream, colour=False)
        logger.set_log_level(LogLevel.ERROR)  # a warning is shown whatever the level
        line = sys._getframe().f_lineno + 1
        warnings.warn("copy_from_vm", DeprecationWarning, stacklevel=1)
    assert stream.getvalue() == (
        f'??? Warning (DeprecationWarning): copy_from_vm\n    File "{__file__}", line {line}\n'
    )
