"""The JUnit report is what CI dashboards show: counts, failures and per-subtest output must be
right, and the file must parse whatever bytes a guest printed."""

from __future__ import annotations

import os
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import FakeClock

from nixtest_tui.driver.junit import JunitXMLLogger
from nixtest_tui.driver.logger import CompositeLogger, LogLevel

GOLDEN = Path(__file__).parent.parent / "golden" / "junit_xml_output.xml"

TRACEBACK = (
    'Test "failing subtest" failed with error: "command `exit 7` failed (exit code 7)"\n'
    "Traceback (most recent call last):\n"
    '  File "<string>", line 7, in <module>\n'
    '    alice.succeed("echo to-stderr >&2; exit 7")\n'
    "\n"
    "RequestedAssertionFailed: command `exit 7` failed (exit code 7)"
)


def make(tmp_path: Path) -> tuple[JunitXMLLogger, FakeClock, Path]:
    clock = FakeClock()
    path = tmp_path / "junit.xml"
    return JunitXMLLogger(path, clock=clock), clock, path


def parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def cases(root: ET.Element) -> dict[str, ET.Element]:
    return {case.attrib["name"]: case for case in root.iter("testcase")}


def text_of(element: ET.Element, tag: str) -> str:
    found = element.find(tag)
    return "" if found is None or found.text is None else found.text


def normalise(xml: str) -> str:
    return xml.replace("&quot;", '"')


def drive_golden_run(logger: JunitXMLLogger, clock: FakeClock) -> None:
    logger.log("Machine state will be reset. To keep it, pass --keep-machine-state")
    with logger.nested("start all VLans"):
        logger.log("start vlan")
    with logger.nested("run the VM test script"):
        with logger.subtest("my subtest"):
            with logger.nested("must succeed: true", {"machine": "alice"}):
                clock.advance(1.5)
            logger.log_serial("\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2)", "alice")
            logger.log_serial("[    1.000000] Linux version 6.1.0", "alice")
        with logger.subtest("outer subtest"):
            logger.log("before inner")
            clock.advance(2.0)
            with logger.subtest("inner subtest"):
                logger.log("inside inner", {"machine": "bob"})
                clock.advance(4.0)
            logger.log("after inner")
            clock.advance(0.25)
        with pytest.raises(AssertionError), logger.subtest("failing subtest"):
            with logger.nested("must succeed: echo to-stderr >&2; exit 7", {"machine": "alice"}):
                logger.log_serial("to-stderr", "alice")
                clock.advance(0.5)
            logger.log_test_error(TRACEBACK)
            raise AssertionError("command `exit 7` failed (exit code 7)")
    with logger.nested("cleanup"):
        logger.log("kill QemuMachine (pid 1)")
        logger.log_serial("qemu-system-x86_64: terminating on signal 15 from pid 1", "alice")
        logger.log("kill vlan (pid 2)")


def test_golden_file(tmp_path: Path) -> None:
    logger, clock, path = make(tmp_path)
    drive_golden_run(logger, clock)
    logger.close()
    written = path.read_text(encoding="utf-8")
    if os.environ.get("NIXTEST_UPDATE_GOLDEN"):
        GOLDEN.write_text(written, encoding="utf-8")
    # The fake clock makes every `time` attribute exact; what still varies is minidom's escaping
    # of `"` in text, which Python 3.13 stopped doing.
    assert normalise(written) == normalise(GOLDEN.read_text(encoding="utf-8"))


def test_golden_shape(tmp_path: Path) -> None:
    """The properties the golden file is meant to pin, spelled out."""
    logger, clock, path = make(tmp_path)
    drive_golden_run(logger, clock)
    logger.close()
    root = parse(path)
    assert root.attrib["tests"] == "4" and root.attrib["failures"] == "1"
    suite = root.find("testsuite")
    assert suite is not None and suite.attrib["name"] == "NixOS integration test"
    by_name = cases(root)
    assert list(by_name) == ["my subtest", "outer subtest", "inner subtest", "failing subtest"]
    failure = by_name["failing subtest"].find("failure")
    assert failure is not None
    assert failure.attrib == {"type": "failure", "message": (
        'alice.succeed("echo to-stderr >&2; exit 7") (line 7): '
        "RequestedAssertionFailed: command `exit 7` failed (exit code 7)")}
    assert all(by_name[n].find("failure") is None for n in list(by_name)[:3])
    # as upstream: the failed subtest is never left, so the cleanup lines are attached to it
    failed_out = text_of(by_name["failing subtest"], "system-out")
    assert failed_out.endswith("cleanup\nkill QemuMachine (pid 1)\nalice # qemu-system-x86_64: "
                               "terminating on signal 15 from pid 1\nkill vlan (pid 2)\n")
    assert text_of(by_name["failing subtest"], "system-err") == TRACEBACK + "\n"
    suite_out = text_of(suite, "system-out")
    assert "kill QemuMachine (pid 1)\n" in suite_out and "finished" not in suite_out
    assert "alice # c[?7l[2J[0mSeaBIOS (version 1.16.2)\n" in suite_out
    assert text_of(suite, "system-err") == TRACEBACK + "\n"
    assert "main" not in by_name


def test_main_only_without_subtests(tmp_path: Path) -> None:
    """Upstream's `main` of a run without subtests is empty: the lines are the suite's."""
    logger, clock, path = make(tmp_path)
    logger.log("hello", {"machine": "alice"})
    clock.advance(3.0)
    logger.log_test_error("boom")
    logger.close()
    root = parse(path)
    by_name = cases(root)
    assert list(by_name) == ["main"]
    assert root.attrib["tests"] == "1" and root.attrib["failures"] == "1"
    main = by_name["main"]
    assert main.attrib["time"] == "3.000000"
    assert main.find("system-out") is None and main.find("system-err") is None
    failure = main.find("failure")
    assert failure is not None and failure.attrib["message"] == "boom"
    suite = root.find("testsuite")
    assert suite is not None
    assert text_of(suite, "system-out") == "alice: hello\n"
    assert text_of(suite, "system-err") == "boom\n"


def test_passing_run_without_subtests_has_an_empty_main(tmp_path: Path) -> None:
    logger, _, path = make(tmp_path)
    logger.log("Machine state will be reset. To keep it, pass --keep-machine-state")
    with logger.nested("run the VM test script"):
        logger.log("must succeed: true", {"machine": "alice"})
    logger.close()
    (main,) = cases(parse(path)).values()
    assert main.attrib["name"] == "main"
    assert list(main) == [], "no system-out, no system-err, no failure"


def test_after_a_failed_subtest_the_traceback_and_cleanup_belong_to_it(tmp_path: Path) -> None:
    """The driver logs the script's traceback after the subtest has been left, then cleans
    up: upstream attaches both to the failed case, which is where a CI user looks."""
    logger, _, path = make(tmp_path)
    composite = CompositeLogger([logger])
    with composite.subtest("fine"):
        composite.log("ok")
    with pytest.raises(AssertionError), composite.subtest("a failing command"):
        composite.log("must succeed: exit 7", {"machine": "alice"})
        composite.log_test_error('Test "a failing command" failed with error: '
                                 '"command `exit 7` failed (exit code 7)"')
        raise AssertionError("command `exit 7` failed (exit code 7)")
    script_traceback = TRACEBACK.split("\n", 1)[1]
    composite.log_test_error(script_traceback)
    with composite.nested("cleanup"):
        composite.log("kill QemuMachine (pid 1)")
        composite.log("kill vlan (pid 2)")
    logger.close()
    by_name = cases(parse(path))
    assert list(by_name) == ["fine", "a failing command"], "no extra main: the failure is known"
    failed = by_name["a failing command"]
    assert text_of(failed, "system-out") == (
        "alice: must succeed: exit 7\ncleanup\nkill QemuMachine (pid 1)\nkill vlan (pid 2)\n")
    assert text_of(failed, "system-err").endswith(script_traceback + "\n")
    failure = failed.find("failure")
    assert failure is not None
    assert failure.attrib["message"] == (
        'alice.succeed("echo to-stderr >&2; exit 7") (line 7): '
        "RequestedAssertionFailed: command `exit 7` failed (exit code 7)")
    assert text_of(by_name["fine"], "system-out") == "ok\n"


def test_a_later_subtest_after_a_caught_failure_gets_its_own_lines(tmp_path: Path) -> None:
    logger, _, path = make(tmp_path)
    with pytest.raises(AssertionError), logger.subtest("first"):
        raise AssertionError("boom")
    logger.log("between")  # still the failed case's, as upstream
    with logger.subtest("second"):
        logger.log("inside second")
    logger.log("after second")  # back to the failed case
    logger.close()
    by_name = cases(parse(path))
    assert text_of(by_name["first"], "system-out") == "between\nafter second\n"
    assert text_of(by_name["second"], "system-out") == "inside second\n"


def test_a_failure_leaving_nested_subtests_stays_with_the_innermost(tmp_path: Path) -> None:
    logger, _, path = make(tmp_path)
    with pytest.raises(RuntimeError), logger.subtest("outer"):
        with logger.subtest("inner"):
            raise RuntimeError("deep")
    logger.log("cleanup")
    logger.close()
    by_name = cases(parse(path))
    assert text_of(by_name["inner"], "system-out") == "cleanup\n"
    assert by_name["outer"].find("system-out") is None
    for name in ("inner", "outer"):
        failure = by_name[name].find("failure")
        assert failure is not None
    inner_failure = by_name["inner"].find("failure")
    assert inner_failure is not None
    assert inner_failure.attrib["message"].endswith("RuntimeError: deep")


def test_no_main_when_subtests_pass(tmp_path: Path) -> None:
    logger, _, path = make(tmp_path)
    logger.log("outside")
    with logger.subtest("a"):
        logger.log("inside a")
    with logger.subtest("b"):
        pass
    logger.close()
    root = parse(path)
    assert list(cases(root)) == ["a", "b"]
    assert root.attrib["tests"] == "2" and root.attrib["failures"] == "0"
    assert text_of(cases(root)["a"], "system-out") == "inside a\n"


def test_failure_outside_passing_subtests_is_not_lost(tmp_path: Path) -> None:
    logger, _, path = make(tmp_path)
    with logger.subtest("a"):
        logger.log("fine")
    logger.error("Error during cleanup of vlan1: boom")
    logger.close()
    root = parse(path)
    by_name = cases(root)
    assert list(by_name) == ["a", "main"]
    assert root.attrib["failures"] == "1"
    assert by_name["a"].find("failure") is None
    assert text_of(by_name["main"], "system-err") == "Error during cleanup of vlan1: boom\n"


def test_escaping_exception_marks_case_failed(tmp_path: Path) -> None:
    logger, _, path = make(tmp_path)
    with pytest.raises(RuntimeError), logger.subtest("doomed"):
        raise RuntimeError("no error was logged")
    logger.log("after")
    logger.close()
    doomed = cases(parse(path))["doomed"]
    failure = doomed.find("failure")
    # no traceback was logged: the message still names the error that escaped
    assert failure is not None and failure.attrib["message"] == "RuntimeError: no error was logged"
    assert doomed.find("system-err") is None
    assert text_of(doomed, "system-out") == "after\n"  # upstream never leaves a failed subtest


def test_error_marks_current_innermost_case(tmp_path: Path) -> None:
    logger, _, path = make(tmp_path)
    with logger.subtest("outer"):
        with logger.subtest("inner"):
            logger.error("broken")
        logger.log("outer carries on")
    logger.close()
    by_name = cases(parse(path))
    assert by_name["inner"].find("failure") is not None
    assert by_name["outer"].find("failure") is None
    assert text_of(by_name["outer"], "system-out") == "outer carries on\n"


def test_elapsed_excludes_nested_subtests(tmp_path: Path) -> None:
    logger, clock, path = make(tmp_path)
    with logger.subtest("outer"):
        clock.advance(1.0)
        with logger.subtest("inner"):
            clock.advance(7.0)
            with logger.subtest("innermost"):
                clock.advance(0.125)
        clock.advance(2.0)
    with logger.subtest("outer"):  # the same name again adds to the same case
        clock.advance(0.5)
    logger.close()
    root = parse(path)
    times = {name: case.attrib["time"] for name, case in cases(root).items()}
    assert times == {"outer": "3.500000", "inner": "7.000000", "innermost": "0.125000"}
    assert float(root.attrib["time"]) == pytest.approx(10.625)


def test_time_is_rounded_to_milliseconds(tmp_path: Path) -> None:
    logger, clock, path = make(tmp_path)
    with logger.subtest("a"):
        clock.advance(1.23456789)
    logger.close()
    assert cases(parse(path))["a"].attrib["time"] == "1.235000"


def test_illegal_xml_characters_are_removed(tmp_path: Path) -> None:
    logger, _, path = make(tmp_path)
    with logger.subtest("bytes"):
        logger.log_serial("\x1bc\x1b[?7l\x1b[2J ok\x00\x07 \ud800tab\there", "alice")
        logger.log("grüße ✓ 🎉 <&>")
        logger.error("bell\x07")
    logger.close()
    case = cases(parse(path))["bytes"]
    assert text_of(case, "system-out") == (
        "alice # c[?7l[2J ok tab\there\ngrüße ✓ 🎉 <&>\n"
    )
    assert text_of(case, "system-err") == "bell\n"


def test_serial_switch_is_honoured(tmp_path: Path) -> None:
    logger, _, path = make(tmp_path)
    logger.print_serial_logs(False)
    logger.log_serial("hidden", "alice")
    logger.print_serial_logs(True)
    logger.log_serial("shown", "alice")
    logger.close()
    suite = parse(path).find("testsuite")
    assert suite is not None
    assert text_of(suite, "system-out") == "alice # shown\n"


def test_level_filtering(tmp_path: Path) -> None:
    logger, _, path = make(tmp_path)
    logger.debug("debug at info: hidden")
    logger.set_log_level(LogLevel.DEBUG)
    logger.debug("debug at debug: shown", attributes={"machine": "alice"})
    logger.set_log_level(LogLevel.ERROR)
    logger.info("info: hidden")
    logger.warning("warning: hidden")
    logger.log_serial("serial: hidden", "alice")
    with logger.nested("header: hidden"):
        pass
    logger.error("error: always")
    logger.log_test_error("test error: always, it explains the failure")
    logger.close()
    suite = parse(path).find("testsuite")
    assert suite is not None
    assert text_of(suite, "system-out") == "alice: debug at debug: shown\n"
    assert text_of(suite, "system-err") == (
        "error: always\ntest error: always, it explains the failure\n"
    )


def test_write_repeatedly_then_close(tmp_path: Path) -> None:
    logger, clock, path = make(tmp_path)
    with logger.subtest("running"):
        clock.advance(2.0)
        logger.write()
        snapshot = cases(parse(path))["running"]
        assert snapshot.attrib["time"] == "2.000000" and snapshot.find("failure") is None
        logger.log("more")
        logger.write()
        assert text_of(cases(parse(path))["running"], "system-out") == "more\n"
        # A signal or the global timeout closes the report in the middle of a subtest.
        logger.close()
    failure = cases(parse(path))["running"].find("failure")
    assert failure is not None
    assert failure.attrib["message"] == "the test run ended while this subtest was still running"
    assert failure.text == "the test run ended while this subtest was still running"


def test_write_after_close_is_harmless(tmp_path: Path) -> None:
    logger, _, path = make(tmp_path)
    logger.log("before")
    logger.close()
    final = path.read_text(encoding="utf-8")
    logger.log("after close")
    logger.error("late error")
    with logger.subtest("late"):
        pass
    logger.write()
    logger.close()
    assert path.read_text(encoding="utf-8") == final
    assert not list(tmp_path.glob(".*.tmp"))


def test_dev_null_target(tmp_path: Path) -> None:
    logger = JunitXMLLogger(Path("/dev/null"))
    logger.log("nobody reads this")
    logger.close()
    assert Path("/dev/null").is_char_device()


def test_serial_lines_from_threads(tmp_path: Path) -> None:
    logger, _, path = make(tmp_path)

    def chatter(machine: str) -> None:
        for i in range(200):
            logger.log_serial(f"line {i}", machine)

    with logger.subtest("busy"):
        threads = [threading.Thread(target=chatter, args=(f"m{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    logger.close()
    assert len(text_of(cases(parse(path))["busy"], "system-out").splitlines()) == 800


def test_through_the_composite_logger(tmp_path: Path) -> None:
    logger, _, path = make(tmp_path)
    composite = CompositeLogger([logger])
    with composite.subtest("via composite", {"machine": "alice"}):
        composite.log("inside", {"machine": "alice"})
    logger.close()
    root = parse(path)
    assert text_of(cases(root)["via composite"], "system-out") == "alice: inside\n"
    suite = root.find("testsuite")
    assert suite is not None
    assert text_of(suite, "system-out") == "alice: subtest: via composite\nalice: inside\n"
