"""`--runner nix` against a stand-in `nix`/`nix-build` on PATH (tests/nix/flaky_nix.py):
the command lines, the traces collected from out paths, failures known only by their log.
Untested against a real Nix: these machines have no Nix store."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from nixtest_tui.cli import main

STANDIN = Path(__file__).parent.parent / "nix" / "flaky_nix.py"
TRACE = Path(__file__).parent.parent / "data" / "flaky" / "pass-a.jsonl.gz"


@pytest.fixture
def fake_nix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("nix", "nix-build"):
        program = bin_dir / name
        program.write_text(f"#!/bin/sh\nFLAKY_NIX_PROGRAM={name} exec {sys.executable} "
                           f"{STANDIN} \"$@\"\n")
        program.chmod(0o755)
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FLAKY_NIX_RECORD", str(record))
    monkeypatch.setenv("FLAKY_NIX_TRACE", str(TRACE))
    monkeypatch.setenv("FLAKY_NIX_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("FLAKY_NIX_PLAN", "pass,fail,pass")
    return record


def calls(record: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in record.read_text().splitlines()]


def test_each_run_is_a_nix_rebuild_and_its_trace_is_collected(
        fake_nix: Path, tmp_path: Path) -> None:
    out = tmp_path / "hunt"
    status = main(["flaky", "--runner", "nix", ".#checks.x86_64-linux.demo", "--runs", "3",
                   "--jobs", "1", "--plain", "-o", str(out), "--json", str(tmp_path / "s.json")])

    assert status == 1
    assert [c["argv"] for c in calls(fake_nix)] == [[
        "build", ".#checks.x86_64-linux.demo", "--rebuild", "--no-link", "--json", "-L",
        "--extra-experimental-features", "nix-command flakes"]] * 3
    summary = json.loads((tmp_path / "s.json").read_text())
    assert (summary["passed"], summary["failed"]) == (2, 1)
    assert [r["passed"] for r in summary["runs"]] == [True, False, True]
    failure = summary["failures"][0]
    assert failure["runs"] == ["run-002"]
    assert failure["message"].startswith("error: builder for '/nix/store/")
    assert (out / "run-001" / "nixtest-trace.jsonl").is_file()
    assert (out / "run-001" / "junit.xml").is_file()
    assert not (out / "run-002" / "nixtest-trace.jsonl").exists()
    assert [s["passed"] for s in summary["subtests"]] == [2] * len(summary["subtests"])


def test_a_nix_file_runs_nix_build_check(fake_nix: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAKY_NIX_PLAN", "pass")
    test_nix = tmp_path / "test.nix"
    test_nix.write_text("{}\n")
    status = main(["flaky", "--runner", "nix", "--nix-file", str(test_nix), "-A", "demo",
                   "--runs", "2", "--jobs", "2", "--plain", "-o", str(tmp_path / "hunt")])
    assert status == 0
    assert [(c["program"], c["argv"]) for c in calls(fake_nix)] == [
        ("nix-build", [str(test_nix), "-A", "demo", "--check", "--no-out-link"])] * 2
    assert (tmp_path / "hunt" / "run-002" / "nixtest-trace.jsonl").is_file()


def test_without_nix_the_runner_says_what_to_do(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    status = main(["flaky", "--runner", "nix", ".#demo", "--plain", "-o", str(tmp_path)])
    assert status == 2
    assert "`nix` is not on PATH; install Nix or drop --runner nix" in capsys.readouterr().err
