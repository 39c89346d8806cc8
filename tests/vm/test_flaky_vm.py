"""The flaky hunter on the real demo: without chaos every run passes; with --net-loss the
demo's network steps fail in some runs and the failures are grouped; runs at once are
isolated; --until-fail and SIGINT leave no process, state root or cgroup behind.

Kept small for CI (2 cores): 4 + 4 runs at --jobs 2, then two hunts that stop early."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import processes_of_this_session, wait_until

from nixtest_tui.flaky.starve import cgroup2_root

DEMO = Path(__file__).parents[2] / "nixtest_tui" / "demo" / "echo-test.py"
NETWORK_LINES = {i + 1 for i, line in enumerate(DEMO.read_text().splitlines())
                 if "ping" in line or " nc " in line}
CTL = re.compile(r"running vlan \(pid \d+; ctl (\S+)\)")


def hunt(out: Path, *options: str, timeout: float = 600) -> tuple[int, dict[str, object]]:
    command = [sys.executable, "-m", "nixtest_tui", "flaky", "--demo", "--plain", "-o",
               str(out), "--json", str(out / "summary.json"), *options]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert (out / "summary.json").exists(), done.stderr
    return done.returncode, json.loads((out / "summary.json").read_text())


def trace_events(run: Path) -> list[dict[str, object]]:
    lines = (run / "nixtest-trace.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if '"type": "Serial' not in line[:40]]


def leftovers(out: Path) -> list[str]:
    found = processes_of_this_session()
    found += [p for p in (wirefilters()) if str(out) in p]
    root = cgroup2_root()
    if root is not None:
        found += [str(p) for p in root.glob("nixtest-flaky-*")]
    return found


def wirefilters() -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cmdline.startswith("wirefilter"):
            found.append(cmdline)
    return found


@pytest.fixture(scope="module")
def calm(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, object], Path]:
    out = tmp_path_factory.mktemp("calm")
    status, summary = hunt(out, "--runs", "4", "--jobs", "2")
    return status, summary, out


def test_without_chaos_four_runs_pass(calm: tuple[int, dict[str, object], Path]) -> None:
    status, summary, out = calm
    assert status == 0
    assert (summary["finished"], summary["passed"], summary["failed"]) == (4, 4, 0)
    assert summary["failures"] == []
    subtests = summary["subtests"]
    assert isinstance(subtests, list) and len(subtests) == 5
    assert all(s["passed"] == s["total"] == 4 for s in subtests)
    for n in range(1, 5):
        run = out / f"run-00{n}"
        assert (run / "junit.xml").exists() and (run / "nixtest-trace.jsonl").exists()


def test_runs_at_once_share_no_state_root_socket_or_network(
        calm: tuple[int, dict[str, object], Path]) -> None:
    _, _, out = calm
    sockets: dict[str, set[str]] = {}
    spans = []
    for run in sorted(out.glob("run-*")):
        events = trace_events(run)
        messages = [str(e.get("message", "")) for e in events]
        sockets[run.name] = {m.group(1) for text in messages if (m := CTL.search(text))}
        wall = float(next(e["wall"] for e in events if e["type"] == "TraceStarted"))
        spans.append((wall, wall + float(events[-1]["t"])))
    all_sockets = [s for found in sockets.values() for s in found]
    assert len(all_sockets) == 8 and len(set(all_sockets)) == 8  # 2 VLANs x 4 runs
    roots = {name: {str(Path(s).parent) for s in found} for name, found in sockets.items()}
    assert all(len(r) == 1 for r in roots.values())
    assert len({next(iter(r)) for r in roots.values()}) == 4  # a state root per run
    (a_start, a_end), (b_start, b_end) = spans[0], spans[1]
    assert a_start < b_end and b_start < a_end  # run-001 and run-002 did run at once
    if os.geteuid() == 0:
        log = (out / "run-001" / "output.log").read_text()
        assert "chaos" not in log  # no knob: the start scripts were not wrapped


def test_net_loss_makes_the_network_steps_fail_in_some_runs_and_groups_them(
        tmp_path: Path) -> None:
    status, summary = hunt(tmp_path, "--runs", "4", "--jobs", "2", "--net-loss", "15%",
                           "--seed", "3")
    assert status == 1
    failed = int(str(summary["failed"]))
    assert failed >= 1 and summary["finished"] == 4
    groups = summary["failures"]
    assert isinstance(groups, list)
    assert sum(len(g["runs"]) for g in groups) == failed
    for group in groups:
        line = int(re.search(r"\(line (\d+)\)$", group["statement"]).group(1))  # type: ignore[union-attr]
        assert line in NETWORK_LINES, group
        assert "failed (exit code 1)" in group["message"]
    for n in range(1, 5):
        chaos = json.loads((tmp_path / f"run-00{n}" / "chaos.json").read_text())
        assert (chaos["loss_percent"], chaos["seed"]) == (15.0, 3 + n)
        assert "VLAN 1 through wirefilter (-l 15), seed" in (
            tmp_path / f"run-00{n}" / "output.log").read_text()
    if int(str(summary["passed"])) > 0:  # a passing run to compare with
        assert any(g["first_divergence"] is not None for g in groups)
    assert not leftovers(tmp_path)


def test_until_fail_stops_at_the_first_failure_and_leaves_nothing(tmp_path: Path) -> None:
    status, summary = hunt(tmp_path, "--runs", "6", "--jobs", "2", "--until-fail",
                           "--net-loss", "60%", "--seed", "1")
    assert status == 1
    assert str(summary["stopped_early"]).startswith("--until-fail: run-00")
    runs = summary["runs"]
    assert isinstance(runs, list) and len(runs) < 6
    wait_until(lambda: not leftovers(tmp_path), 30, "no process left behind")


def test_sigint_ends_every_run_with_its_chaos_helpers(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "nixtest_tui", "flaky", "--demo", "--plain", "-o",
               str(tmp_path), "--json", str(tmp_path / "summary.json"), "--runs", "4",
               "--jobs", "2", "--net-delay", "5ms", "--cpu-starve", "server:60%",
               "--seed", "9"]
    hunter = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        def machines_up() -> bool:
            logs = [p.read_text() for p in tmp_path.glob("run-*/output.log")]
            return len(logs) == 2 and all("cpu starved to 60%" in log for log in logs)

        wait_until(machines_up, 300, "both runs' machines started with their chaos")
        state_roots = {m.group(1) for p in tmp_path.glob("run-*/nixtest-trace.jsonl")
                       for m in CTL.finditer(p.read_text())}
        hunter.send_signal(signal.SIGINT)
        _, stderr = hunter.communicate(timeout=180)
    finally:
        if hunter.poll() is None:
            hunter.kill()
    assert hunter.returncode == 1, stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stopped_early"] == "stopped by SIGINT"
    assert not (tmp_path / "run-003").exists()
    assert not leftovers(tmp_path)
    assert not any(Path(s).parent.exists() for s in state_roots)
