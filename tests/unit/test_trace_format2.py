"""Trace format 2: the script and configuration in the trace, screenshot paths that survive
moving the output directory."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from nixtest_tui.driver.config import DriverConfiguration, MachineConfig
from nixtest_tui.driver.events import EventBus
from nixtest_tui.driver.screen import ScreenshotTaken
from nixtest_tui.headless.trace import TraceWriter
from nixtest_tui.replay import open_trace


def test_the_trace_describes_the_test_and_keeps_screenshots_relative(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    script = tmp_path / "test.py"
    script.write_text("start_all()\nalice.screenshot('x')\n")
    bus = EventBus()
    writer = TraceWriter(bus, out / "nixtest-trace.jsonl", out)
    writer.describe(DriverConfiguration(
        vms={"alice": MachineConfig("alice", "/nix/store/x/bin/run-alice-vm")},
        test_script=script, vlans=[1], global_timeout=timedelta(seconds=90)))
    bus.publish(ScreenshotTaken(machine="alice", path=str(out / "x.png"), digest="",
                                width=8, height=8))
    bus.publish(ScreenshotTaken(machine="alice", path="/elsewhere/y.png", digest="",
                                width=8, height=8))
    writer.close()
    lines = [json.loads(line) for line in (out / "nixtest-trace.jsonl").read_text().splitlines()]
    assert lines[0]["format"] == 2
    info = lines[1]
    assert info["type"] == "TestInfo" and info["script"] == script.read_text()
    assert len(info["script_sha256"]) == 64
    assert info["config"]["vms"] == {"alice": "/nix/store/x/bin/run-alice-vm"}
    assert info["config"]["global_timeout"] == 90.0
    paths = [r["path"] for r in lines if r["type"] == "ScreenshotTaken"]
    assert paths == ["x.png", "/elsewhere/y.png"]  # outside the directory: stays absolute
    moved = tmp_path / "artifact"
    out.rename(moved)
    trace = open_trace(moved)
    assert trace.resolve("x.png") == moved / "x.png"
    assert trace.info.script == script.read_text()
