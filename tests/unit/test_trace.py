"""The --trace recorder: JSON lines with monotonic offsets, serial bytes capped per machine."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from nixtest_tui.driver.events import CommandFinished, EventBus, ScriptLine, SerialOutput
from nixtest_tui.headless import trace
from nixtest_tui.headless.trace import TraceWriter


def records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_event_becomes_one_json_line(tmp_path: Path) -> None:
    bus = EventBus()
    writer = TraceWriter(bus, tmp_path / "trace.jsonl")
    bus.publish(ScriptLine(line=3, function="<module>"))
    bus.publish(CommandFinished(machine="a", command="true", status=0, duration=0.02,
                                output_size=0))
    bus.publish(SerialOutput(machine="a", data=b"\x1b[1mboot\r\n"))
    writer.close()
    lines = records(tmp_path / "trace.jsonl")
    assert [r["type"] for r in lines] == ["TraceStarted", "ScriptLine", "CommandFinished",
                                          "SerialOutput"]
    assert lines[1]["line"] == 3 and lines[2]["status"] == 0
    assert base64.b64decode(str(lines[3]["data_b64"])) == b"\x1b[1mboot\r\n"
    offsets = [float(str(r["t"])) for r in lines]
    assert offsets == sorted(offsets) and offsets[0] >= 0


def test_serial_bytes_are_capped_per_machine(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace, "SERIAL_CAP", 10)
    bus = EventBus()
    writer = TraceWriter(bus, tmp_path / "trace.jsonl")
    for _ in range(3):
        bus.publish(SerialOutput(machine="a", data=b"123456"))
    bus.publish(SerialOutput(machine="b", data=b"xy"))
    writer.close()
    lines = records(tmp_path / "trace.jsonl")
    kept = b"".join(base64.b64decode(str(r["data_b64"])) for r in lines
                    if r["type"] == "SerialOutput" and r["machine"] == "a")
    assert kept == b"1234561234"
    assert any(r["type"] == "SerialTruncated" for r in lines)
    assert any(r.get("machine") == "b" and r["type"] == "SerialOutput" for r in lines)
