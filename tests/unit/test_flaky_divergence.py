"""First divergence and failure grouping over generated traces (real-trace pairs: tests/tui)."""

from __future__ import annotations

import json
from pathlib import Path

from nixtest_tui.flaky.divergence import first_divergence
from nixtest_tui.flaky.facts import read_facts, serial_pattern
from nixtest_tui.flaky.outcome import read_outcome
from nixtest_tui.flaky.summary import Summary

SCRIPT = """start_all()
server.wait_for_unit("echo.service")
client.succeed("ping -c 1 server")
client.succeed("echo hello | nc server 7")
"""


class TraceWriter:
    """A headless trace (format 2) written event by event, as the recorder writes it."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.t = 0.0
        self.lines: list[dict[str, object]] = [
            {"type": "TraceStarted", "wall": 1.0, "format": 2, "t": 0.0},
            {"type": "TestInfo", "script_path": "test.py", "script": SCRIPT,
             "script_sha256": "", "config": {}, "t": 0.0},
            {"type": "NestStarted", "message": "run the VM test script", "machine": None,
             "subtest": False, "t": 0.0},
        ]

    def add(self, kind: str, seconds: float = 0.1, **fields: object) -> None:
        self.t += seconds
        self.lines.append({"type": kind, "t": round(self.t, 3), **fields})

    def command(self, line: int, machine: str, command: str, status: int,
                seconds: float = 0.2) -> None:
        self.add("ScriptLine", line=line, function="<module>")
        self.add("CommandStarted", machine=machine, command=command, timeout=900)
        self.add("CommandFinished", seconds, machine=machine, command=command, status=status,
                 duration=seconds, output_size=0, stdout_left_open=False)

    def wait(self, line: int, machine: str, target: str, seconds: float) -> None:
        self.add("ScriptLine", line=line, function="<module>")
        self.add("WaitStarted", machine=machine, what="unit", target=target, timeout=900)
        self.add("WaitFinished", seconds, machine=machine, what="unit", target=target,
                 success=True, elapsed=seconds)

    def serial(self, machine: str, line: str) -> None:
        self.add("SerialLine", 0.01, machine=machine, line=line)

    def finish(self, failed_line: int | None = None, error: str = "") -> Path:
        if failed_line is not None:
            message = (f'Traceback (most recent call last):\n  File "<string>", line '
                       f"{failed_line}, in <module>\n{error}")
            self.add("LogMessage", level="test-error", message=message, machine=None)
        self.add("NestFinished", message="run the VM test script", duration=self.t,
                 ok=failed_line is None, machine=None, subtest=False, error=error)
        path = self.directory / "nixtest-trace.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in self.lines))
        return path


def passing_run(root: Path, name: str, boot: float = 3.0) -> Path:
    trace = TraceWriter(root / name)
    trace.serial("server", f"[    {boot:.6f}] tiny-init: network up")
    trace.wait(2, "server", "echo.service", boot)
    trace.command(3, "client", "ping -c 1 server", 0)
    trace.command(4, "client", "echo hello | nc server 7", 0)
    return trace.finish()


def test_a_changed_exit_status_is_found_with_its_script_line(tmp_path: Path) -> None:
    passing = [read_facts(passing_run(tmp_path, f"p{i}", 3.0 + i / 10)) for i in range(3)]
    trace = TraceWriter(tmp_path / "f")
    trace.serial("server", "[    3.100000] tiny-init: network up")
    trace.wait(2, "server", "echo.service", 3.1)
    trace.command(3, "client", "ping -c 1 server", 1)
    failing = read_facts(trace.finish(3, "RequestedAssertionFailed: command failed"))

    found = first_divergence(failing, passing)

    assert found is not None
    assert found.first.kind == "command"
    assert found.first.line == 3
    assert found.first.script == 'client.succeed("ping -c 1 server")'
    assert "exited 1" in found.first.failing and "exited 0" in found.first.passing


def test_a_slow_wait_comes_before_the_status_it_caused(tmp_path: Path) -> None:
    passing = [read_facts(passing_run(tmp_path, f"p{i}", 3.0)) for i in range(2)]
    trace = TraceWriter(tmp_path / "f")
    trace.serial("server", "[    3.000000] tiny-init: network up")
    trace.wait(2, "server", "echo.service", 40.0)
    trace.command(3, "client", "ping -c 1 server", 1)
    failing = read_facts(trace.finish(3, "boom"))

    found = first_divergence(failing, passing)

    assert found is not None and found.first.kind == "wait"
    assert "40.0s" in found.first.failing and "at most 3.0s" in found.first.passing
    assert {p.kind for p in found.points} == {"wait", "command"}


def test_a_console_line_no_passing_run_printed_is_found_despite_numbers(tmp_path: Path) -> None:
    passing = [read_facts(passing_run(tmp_path, f"p{i}", 2.0 + i)) for i in range(2)]
    trace = TraceWriter(tmp_path / "f")
    trace.serial("server", "[    9.870000] tiny-init: network up")  # same pattern, other numbers
    trace.serial("server", "[   10.000000] virtio_net virtio1: tx timeout")
    trace.wait(2, "server", "echo.service", 2.5)
    failing = read_facts(trace.finish())

    found = first_divergence(failing, passing)

    assert found is not None and found.first.kind == "serial"
    assert "tx timeout" in found.first.failing
    assert serial_pattern("[ 1.5] pid 4242 at 0xdeadbeef00") == "[ #] pid # at #"


def test_identical_runs_do_not_diverge_and_nothing_without_passing_runs(tmp_path: Path) -> None:
    one = read_facts(passing_run(tmp_path, "a"))
    two = read_facts(passing_run(tmp_path, "b"))
    assert first_divergence(one, [two]) is None
    assert first_divergence(one, []) is None


def test_a_retried_command_is_compared_with_the_same_attempt(tmp_path: Path) -> None:
    """The second `test -e` of a retry loop passes in every run; the first fails in every
    run. A failing run where both fail diverges at the second, not the first."""
    def run(name: str, second: int) -> Path:
        trace = TraceWriter(tmp_path / name)
        trace.command(3, "client", "test -e /tmp/ready", 1)
        trace.command(3, "client", "test -e /tmp/ready", second)
        return trace.finish(None if second == 0 else 3, "boom")

    passing = [read_facts(run("p", 0))]
    found = first_divergence(read_facts(run("f", 1)), passing)
    assert found is not None and found.first.t > 0.5
    assert found.first.failing.endswith("exited 1")


def test_failures_are_grouped_by_statement_and_message_up_to_numbers(tmp_path: Path) -> None:
    outcomes = []
    for number, (line, error) in enumerate([(3, "timed out after 5.0 s"),
                                            (3, "timed out after 7.2 s"),
                                            (4, "connection refused")], start=1):
        trace = TraceWriter(tmp_path / f"run-{number:03d}")
        trace.command(line, "client", "ping -c 1 server", 1)
        trace.finish(line, f"RequestedAssertionFailed: {error}")
        outcomes.append(read_outcome(number, trace.directory, 1, 10.0))
    passing_run(tmp_path, "run-004")
    outcomes.append(read_outcome(4, tmp_path / "run-004", 0, 9.0))
    summary = Summary(planned=4, outcomes=outcomes)

    groups = summary.groups()

    assert [len(g.runs) for g in groups] == [2, 1]
    assert groups[0].statement == 'client.succeed("ping -c 1 server") (line 3)'
    assert groups[0].message == "RequestedAssertionFailed: timed out after 5.0 s"
    assert summary.passed == 1 and summary.failed == 3 and summary.exit_status() == 1
    data = summary.to_json()
    assert data["failed"] == 3
    failures = data["failures"]
    assert isinstance(failures, list) and failures[0]["runs"] == ["run-001", "run-002"]
    assert failures[0]["first_divergence"]["kind"] == "command"


def test_a_run_without_a_trace_is_explained_by_its_log(tmp_path: Path) -> None:
    directory = tmp_path / "run-001"
    directory.mkdir()
    (directory / "output.log").write_text("building...\nerror: builder for 'x.drv' failed\n")
    outcome = read_outcome(1, directory, 1, 3.0)
    assert not outcome.passed
    assert outcome.message == "error: builder for 'x.drv' failed"
    assert outcome.statement == "(outside the script)"
