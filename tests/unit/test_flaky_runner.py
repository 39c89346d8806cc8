"""The scheduler with stand-in runs (small Python programs, no QEMU): parallelism, isolation,
--until-fail, stopping, and the exit status."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import wait_until

from nixtest_tui.flaky.chaos import ChaosPlan
from nixtest_tui.flaky.launch import HeadlessLauncher, RunSlot, private_network_prefix
from nixtest_tui.flaky.runner import Hunter, default_jobs

# A stand-in run: reports where it runs, waits until `go` exists (or forever), exits.
PROGRAM = """
import json, os, sys, time, pathlib
here = pathlib.Path.cwd()
json.dump({"state": os.environ["XDG_RUNTIME_DIR"], "tmp": os.environ["TMPDIR"],
           "netns": os.readlink("/proc/self/ns/net"), "pid": os.getpid(),
           "chaos": os.environ.get("NIXTEST_FLAKY_CHAOS")}, open(here / "seen.part", "w"))
(here / "seen.part").rename(here / "seen.json")  # whole, when the test sees it
pathlib.Path(os.environ["XDG_RUNTIME_DIR"], "vde1.ctl").mkdir()
go = pathlib.Path(sys.argv[1])
while not go.exists():
    time.sleep(0.02)
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else int(here.name[-1]) % 2)
"""


class StandInLauncher(HeadlessLauncher):
    """The headless launcher's isolation (prefix, environment) around a stand-in program."""

    def __init__(self, go: Path, status: int | None = None) -> None:
        super().__init__(Path("unused.json"))
        self.go = go
        self.status = status

    def command(self, slot: RunSlot) -> list[str]:
        tail = [] if self.status is None else [str(self.status)]
        prefix, _ = private_network_prefix()
        return [*prefix, sys.executable, "-c", PROGRAM, str(self.go), *tail]


def seen(out: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("run-*/seen.json"))]


@contextmanager
def hunting(hunter: Hunter) -> Iterator[threading.Thread]:
    """The hunt in a thread; ended (its stand-in runs killed) however the test ends."""
    worker = threading.Thread(target=hunter.hunt)
    worker.start()
    try:
        yield worker
    finally:
        hunter.stop()
        worker.join(120)



def test_runs_in_parallel_never_share_state_sockets_or_network(tmp_path: Path) -> None:
    go = tmp_path / "go"
    hunter = Hunter(StandInLauncher(go), tmp_path / "out", runs=4, jobs=2,
                    plan=ChaosPlan(loss_percent=3, seed=10))
    with hunting(hunter) as worker:
        wait_until(lambda: len(seen(tmp_path / "out")) == 2)
        assert hunter.summary.running == 2
        first_two = seen(tmp_path / "out")
        go.touch()
        worker.join(60)

    records = seen(tmp_path / "out")
    assert len(records) == 4
    states = {r["state"] for r in records}
    assert len(states) == 4 and all(r["tmp"] == r["state"] for r in records)
    assert all(len(str(s)) + len("/vde1.ctl/ctl") < 107 for s in states)  # sun_path limit
    if os.geteuid() == 0:  # runs at the same time had a network namespace each
        assert first_two[0]["netns"] != first_two[1]["netns"]
        assert all(r["netns"] != os.readlink("/proc/self/ns/net") for r in records)
    seeds = [ChaosPlan.from_json(str(r["chaos"])).seed for r in records]
    assert seeds == [11, 12, 13, 14]
    assert all((tmp_path / "out" / f"run-00{n}" / "chaos.json").exists() for n in range(1, 5))
    assert not any(Path(str(s)).exists() for s in states)  # state roots removed
    summary = hunter.summary
    assert (summary.passed, summary.failed) == (2, 2)  # odd run numbers exit 1
    assert summary.exit_status() == 1


def test_until_fail_stops_early_and_ends_the_runs_in_progress(tmp_path: Path) -> None:
    go = tmp_path / "go"
    hunter = Hunter(StandInLauncher(go, status=1), tmp_path / "out", runs=10, jobs=2,
                    until_fail=True)
    with hunting(hunter) as worker:
        wait_until(lambda: len(seen(tmp_path / "out")) == 2)
        pids = [int(str(r["pid"])) for r in seen(tmp_path / "out")]
        go.touch()
        worker.join(90)
        assert not worker.is_alive()

    summary = hunter.summary
    assert summary.stopped_early.startswith("--until-fail: run-00")
    assert len(summary.outcomes) < 10 and summary.failed >= 1
    assert summary.exit_status() == 1
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()


def test_stop_ends_runs_that_would_never_end(tmp_path: Path) -> None:
    hunter = Hunter(StandInLauncher(tmp_path / "never"), tmp_path / "out", runs=3, jobs=2)
    with hunting(hunter) as worker:
        wait_until(lambda: len(seen(tmp_path / "out")) == 2)
        pids = [int(str(r["pid"])) for r in seen(tmp_path / "out")]
        hunter.stop()
        worker.join(90)
        assert not worker.is_alive()
    assert [o.cancelled for o in hunter.summary.outcomes] == [True, True]
    assert hunter.summary.finished == [] and hunter.summary.exit_status() == 1
    assert hunter.summary.stopped_early == "stopped by the user"
    assert not (tmp_path / "out" / "run-003").exists()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()


def test_a_headless_run_is_the_driver_cli_with_its_own_directories(tmp_path: Path) -> None:
    launcher = HeadlessLauncher(tmp_path / "config.json", ["--log-level", "info"])
    slot = RunSlot(3, tmp_path / "run-003", tmp_path / "r003", ChaosPlan(seed=5))
    argv = launcher.command(slot)
    tail = argv[argv.index("-m"):]
    assert tail == ["-m", "nixtest_tui", "--headless", "-c", str(tmp_path / "config.json"),
                    "-o", str(tmp_path / "run-003"), "--junit-xml", "junit.xml",
                    "--log-level", "info"]
    if os.geteuid() == 0:
        assert argv[:3] == ["unshare", "--net", "--"]
    env = launcher.environment(slot)
    assert env["XDG_RUNTIME_DIR"] == env["TMPDIR"] == str(tmp_path / "r003")
    assert "NIXTEST_FLAKY_CHAOS" not in env  # no knob, no wrapper work


def test_default_jobs_follow_cores_and_the_machines_memory(tmp_path: Path) -> None:
    script = tmp_path / "run-a-vm"
    script.write_text("exec qemu -name a -m 512 -smp 1\n")
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"vms": {"a": {"start_script": str(script)}}}))
    jobs = default_jobs(config)
    assert 1 <= jobs <= (os.cpu_count() or 1)
