"""Trace format 2 from a real run: `--trace-screens` and `--html-report` on the drop-in CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import NetworkFactory
from harness import run_driver

SCRIPT = """
alice.start()
with subtest("boots"):
    alice.wait_for_unit("multi-user.target")
    alice.screenshot("booted")
with subtest("sees the screen change"):
    alice.succeed("sleep 2")
with subtest("fails"):
    alice.succeed("echo about to fail; false")
"""


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.vm
def test_a_failing_run_leaves_a_format_2_trace_film_strip_and_report(
        network: NetworkFactory, tmp_path: Path) -> None:
    config = network("alice", script=SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    result = run_driver(tmp_path, "-c", str(config.source), "-o", str(out),
                        "--trace-screens", "0.5", "--html-report", "report.html")
    assert result.returncode == 1, result.stderr
    # --html-report implies a trace, under its default name
    lines = records(out / "nixtest-trace.jsonl")
    assert lines[0]["type"] == "TraceStarted" and lines[0]["format"] == 2
    info = next(r for r in lines if r["type"] == "TestInfo")
    assert info["script"] == Path(config.test_script).read_text()
    assert list(info["config"]["vms"]) == ["alice"]
    shots = [r for r in lines if r["type"] == "ScreenshotTaken" and r["path"]]
    assert [r["path"] for r in shots] == ["booted.png"]
    frames = [r for r in lines if r["type"] == "FilmFrame"]
    assert frames, "no film-strip frame in a run of several seconds"
    assert all((out / r["path"]).is_file() for r in frames)
    assert all(r["path"].startswith("trace-screens/alice-") for r in frames)
    digests = [r["digest"] for r in frames]
    assert all(a != b for a, b in zip(digests, digests[1:], strict=False)), "unchanged frame kept"
    report = (out / "report.html").read_text()
    assert 'id="result">failed<' in report
    assert "echo about to fail; false" in report
    assert report.count("data:image/png;base64,") >= 1 + len(frames[:1])
