"""First divergence on traces of real demo runs (tests/data/flaky: two passing runs and one
that lost a ping under --net-loss 15%)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from nixtest_tui.flaky.divergence import first_divergence
from nixtest_tui.flaky.facts import Facts, read_facts

DATA = Path(__file__).parent.parent / "data" / "flaky"


def recorded(name: str, tmp_path: Path) -> Facts:
    trace = tmp_path / f"{name}.jsonl"
    trace.write_bytes(gzip.decompress((DATA / f"{name}.jsonl.gz").read_bytes()))
    return read_facts(trace)


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Facts]:
    return {name: recorded(name, tmp_path) for name in ("pass-a", "pass-b", "fail-ping")}


def test_the_recorded_runs_read_as_they_ended(runs: dict[str, Facts]) -> None:
    assert runs["pass-a"].result == runs["pass-b"].result == "passed"
    failing = runs["fail-ping"]
    assert failing.result == "failed" and failing.failure_line == 12
    assert "ping -c 1 -W 5 server" in failing.failure_message


def test_the_failing_run_parts_at_the_lost_ping_with_its_context(
        runs: dict[str, Facts]) -> None:
    found = first_divergence(runs["fail-ping"], [runs["pass-a"], runs["pass-b"]])

    assert found is not None
    command = next(p for p in found.points if p.kind == "command")
    assert command.line == 12
    assert command.script == 'client.succeed("ping -c 1 -W 5 server")'
    assert command.failing == "client: `ping -c 1 -W 5 server` exited 1"
    assert command.passing == "exited 0 at this point (2 runs)"
    assert found.first == command  # the port wait that was 0.7 s slower is within the slack


def test_passing_runs_do_not_diverge_from_each_other(runs: dict[str, Facts]) -> None:
    found = first_divergence(runs["pass-a"], [runs["pass-b"]])
    assert found is None or all(p.kind != "command" for p in found.points)
