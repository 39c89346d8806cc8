"""The `LOGFILE` XML log must stay well-formed whatever the guest prints and however the run
ends, and keep upstream's element shape for tools that read it."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from nixtest_tui.driver.logger import CompositeLogger, LogLevel
from nixtest_tui.driver.xmllog import XMLLogger, without_controls, xml_safe


def parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def lines(root: ET.Element) -> list[tuple[dict[str, str], str]]:
    return [(dict(line.attrib), line.text or "") for line in root.iter("line")]


def test_structure_and_attributes(tmp_path: Path) -> None:
    path = tmp_path / "log.xml"
    logger = XMLLogger(path)
    logger.log("top level")
    with logger.nested("waiting for unit", {"machine": "alice"}):
        logger.log("inside", {"machine": "alice"})
        with logger.nested("making screenshot", {"machine": "alice", "image": "alice.png"}):
            pass
    logger.close()
    assert path.read_bytes().startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = parse(path)
    assert root.tag == "logfile"
    assert [child.tag for child in root] == ["line", "nest"]
    nest = root[1]
    head = nest[0]
    assert (head.tag, head.attrib, head.text) == ("head", {"machine": "alice"}, "waiting for unit")
    assert [child.tag for child in nest] == ["head", "line", "nest", "line"]
    assert nest[1].attrib == {"machine": "alice"} and nest[1].text == "inside"
    inner_head = nest[2][0]
    assert inner_head.attrib == {"machine": "alice", "image": "alice.png"}
    finished = nest[3].text or ""
    assert finished.startswith("(finished: waiting for unit, in ")
    assert finished.endswith(" seconds)") and nest[3].attrib == {"machine": "alice"}


def test_serial_lines_are_queued_until_the_next_line(tmp_path: Path) -> None:
    path = tmp_path / "log.xml"
    logger = XMLLogger(path)
    logger.log_serial("[ 1.0] booting", "alice")
    assert b"booting" not in path.read_bytes()  # queued, not yet written
    logger.log("regular line")
    logger.log_serial("before the block ends", "bob")
    with logger.nested("block"):
        logger.log_serial("inside", "alice")
    logger.log_serial("at close", "alice")
    logger.close()
    root = parse(path)
    assert lines(root) == [
        ({"machine": "alice", "type": "serial"}, "[ 1.0] booting"),
        ({}, "regular line"),
        ({"machine": "bob", "type": "serial"}, "before the block ends"),
        ({"machine": "alice", "type": "serial"}, "inside"),
        ({}, lines(root)[4][1]),  # (finished: block, …)
        ({"machine": "alice", "type": "serial"}, "at close"),
    ]
    assert [child.tag for child in root] == ["line", "line", "line", "nest", "line"]


def test_control_characters_removed(tmp_path: Path) -> None:
    path = tmp_path / "log.xml"
    logger = XMLLogger(path)
    logger.log_serial("\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS\x00\u200b\ttab", "alice")
    logger.log("monitor said \x1b[K\x1b[Dinfo\x00 name \ud800 ✓", {"machine": "al\x07ice"})
    logger.close()
    assert lines(parse(path)) == [
        ({"machine": "alice", "type": "serial"}, "c[?7l[2J[0mSeaBIOStab"),
        ({"machine": "alice"}, "monitor said [K[Dinfo name  ✓"),
    ]


def test_helpers() -> None:
    assert xml_safe("a\x1b\x00b\tc\nd\r") == "ab\tc\nd\r"
    assert without_controls("a\x1b\tb\u200bc") == "abc"


def test_dev_null_target() -> None:
    logger = XMLLogger("/dev/null")
    with logger.nested("block", {"machine": "alice"}):
        logger.log("line")
        logger.log_serial("serial", "alice")
    logger.close()
    assert Path("/dev/null").is_char_device()


def test_level_filtering_and_serial_switch(tmp_path: Path) -> None:
    path = tmp_path / "log.xml"
    logger = XMLLogger(path)
    logger.debug("hidden debug")
    logger.print_serial_logs(False)
    logger.log_serial("hidden serial", "alice")
    logger.print_serial_logs(True)
    logger.set_log_level(LogLevel.DEBUG)
    logger.debug("shown debug", attributes={"machine": "alice"})
    logger.set_log_level(LogLevel.ERROR)
    logger.info("hidden info")
    logger.warning("hidden warning")
    logger.log_test_error("hidden test error")
    logger.log_serial("hidden serial too", "alice")
    with logger.nested("hidden block"):
        logger.log("hidden line")
    logger.error("always")
    logger.close()
    root = parse(path)
    assert lines(root) == [({"machine": "alice"}, "shown debug"), ({}, "always")]
    assert root.find("nest") is None


def test_failed_block_is_closed_without_finished_line(tmp_path: Path) -> None:
    path = tmp_path / "log.xml"
    logger = XMLLogger(path)
    with pytest.raises(RuntimeError), logger.nested("doomed"):
        logger.log("inside")
        raise RuntimeError("boom")
    logger.log("after")
    logger.close()
    root = parse(path)
    assert [child.tag for child in root] == ["nest", "line"]
    assert [line.text for line in root.iter("line")] == ["inside", "after"]


def test_close_mid_block_is_well_formed_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "log.xml"
    logger = XMLLogger(path)
    with logger.nested("outer"), logger.nested("inner"):
        logger.log_serial("pending", "alice")
        logger.close()  # a signal handler or the global timeout
        logger.log("after close")
    logger.close()
    logger.log("still harmless")
    root = parse(path)
    assert [line.text for line in root.iter("line")] == ["pending"]
    assert len(list(root.iter("nest"))) == 2


def test_lines_from_threads(tmp_path: Path) -> None:
    path = tmp_path / "log.xml"
    logger = XMLLogger(path)

    def chatter(machine: str) -> None:
        for i in range(200):
            logger.log_serial(f"serial {i}", machine)
            logger.log(f"line {i}", {"machine": machine})

    threads = [threading.Thread(target=chatter, args=(f"m{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logger.close()
    assert len(lines(parse(path))) == 1600


def test_through_the_composite_logger(tmp_path: Path) -> None:
    path = tmp_path / "log.xml"
    logger = XMLLogger(path)
    with CompositeLogger([logger]).subtest("first", {"machine": "alice"}):
        pass
    logger.close()
    head = parse(path).find("nest/head")
    assert head is not None
    assert head.attrib == {"machine": "alice", "subtest": "first"}
    assert head.text == "subtest: first"
