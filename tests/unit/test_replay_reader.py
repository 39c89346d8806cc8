"""The post-mortem reader: format 1 and 2 traces of real demo runs, the state at time t, and
console keyframes that never diverge from feeding the bytes from the start."""

from __future__ import annotations

import base64
import json
import random
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from nixtest_tui.replay import TraceError, open_trace
from nixtest_tui.replay import console as console_module
from nixtest_tui.replay.console import ConsoleReplay, console_lines
from nixtest_tui.replay.model import build_run
from nixtest_tui.replay.moment import moment
from nixtest_tui.widgets._terminal import Terminal

DATA = Path(__file__).parent.parent / "data" / "replay"
FAILING_LINE = 36  # `server.succeed("systemctl start broken.service")` in the recorded script


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real `nixtest-tui --demo --headless --trace-screens 2` run (format 2), whose script
    is the demo's plus a subtest that fails."""
    out = tmp_path_factory.mktemp("demo-run")
    with tarfile.open(DATA / "demo-run.tar.xz") as archive:
        archive.extractall(out, filter="data")
    return out


def test_format_2_holds_the_script_and_configuration(demo_dir: Path) -> None:
    trace = open_trace(demo_dir)
    assert trace.format == 2
    assert trace.info.script is not None
    assert trace.info.script.splitlines()[FAILING_LINE - 1].strip() == (
        'server.succeed("systemctl start broken.service")')
    assert set(trace.info.config["vms"]) == {"client", "outsider", "server"}
    assert trace.info.config["vlans"] == [1, 2]
    assert trace.machines == ["client", "outsider", "server"]


def test_the_run_is_folded_into_subtests_and_one_failure(demo_dir: Path) -> None:
    run = build_run(open_trace(demo_dir))
    assert run.result == "failed"
    assert [s.ok for s in run.subtests] == [True] * 5 + [False]
    failure = run.failure
    assert failure is not None and failure.line == FAILING_LINE
    assert "systemctl start broken.service" in failure.message
    shown = run.failure_time()
    assert shown is not None and shown <= failure.t
    assert run.script_lines.at(shown) == FAILING_LINE
    assert moment(run, shown).subtests[-1].state == "running"


def test_screenshots_are_relative_to_the_output_directory(demo_dir: Path) -> None:
    run = build_run(open_trace(demo_dir))
    script = [s for s in run.shots if not s.film]
    film = [s for s in run.shots if s.film]
    assert [s.path for s in script] == ["server-login.png"]
    assert film and all(s.path.startswith("trace-screens/") for s in film)
    assert all(run.trace.resolve(s.path).is_file() for s in run.shots)
    assert {s.machine for s in film} == {"client", "outsider", "server"}


def test_moments_follow_the_run(demo_dir: Path) -> None:
    run = build_run(open_trace(demo_dir))
    first_wait = run.waits[0]
    during = moment(run, first_wait.start + 1e-6)
    assert [w.target for w in during.waits] == [first_wait.target]
    assert during.subtests[0].state == "running"
    assert all(s.state == "pending" for s in during.subtests[1:])
    end = moment(run, run.duration)
    assert [s.state for s in end.subtests] == ["passed"] * 5 + ["failed"]
    assert end.waits == () and end.commands == ()
    assert set(end.machines.values()) == {"exited (0)"}
    assert end.log_count == len(run.log)
    before = moment(run, 0.0)
    assert set(before.machines.values()) == {"off"} and before.screenshot is None


def test_the_console_at_the_end_shows_the_last_serial_lines(demo_dir: Path) -> None:
    """What the driver decoded live (`SerialLine` events) is what the replayed terminal shows."""
    trace = open_trace(demo_dir)
    live = [json.loads(line) for line in trace.path.read_text().splitlines()]
    server_lines = [r["line"] for r in live if r["type"] == "SerialLine"
                    and r["machine"] == "server" and r["line"].strip()]
    replayed = [line for line in console_lines(ConsoleReplay(trace, "server").at(trace.duration))
                if line.strip()]
    tail = [line.strip() for line in server_lines[-5:]]
    assert [line.strip() for line in replayed[-5:]] == tail


def test_format_1_traces_still_open(tmp_path: Path) -> None:
    (tmp_path / "nixtest-trace.jsonl").write_bytes((DATA / "demo-format1.jsonl").read_bytes())
    trace = open_trace(tmp_path)
    assert trace.format == 1 and trace.info.script is None
    run = build_run(trace)
    assert run.result == "failed" and run.failure is not None
    assert run.failure.line == FAILING_LINE
    assert len(run.subtests) == 6
    # format 1 recorded absolute paths; a moved directory is searched by file name
    (tmp_path / "server-login.png").write_bytes(b"")
    assert trace.resolve(run.shots[0].path) == tmp_path / "server-login.png"
    assert console_lines(ConsoleReplay(trace, "server").at(trace.duration))


def test_what_is_not_a_trace_says_so(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="no nixtest-trace.jsonl in this directory"):
        open_trace(tmp_path)
    (tmp_path / "x.jsonl").write_text('{"t": 0, "type": "LogMessage"}\n')
    with pytest.raises(TraceError, match="not a nixtest-tui trace"):
        open_trace(tmp_path / "x.jsonl")
    (tmp_path / "y.jsonl").write_text('{"t": 0, "type": "TraceStarted", "format": 99}\n')
    with pytest.raises(TraceError, match="format 99 is newer.*upgrade nixtest-tui"):
        open_trace(tmp_path / "y.jsonl")
    with pytest.raises(TraceError, match="no such trace file"):
        open_trace(tmp_path / "missing.jsonl")


def test_a_trace_cut_short_by_a_killed_run_opens(demo_dir: Path, tmp_path: Path) -> None:
    data = (demo_dir / "nixtest-trace.jsonl").read_bytes()
    middle = data.index(b'"type": "SerialOutput"', len(data) // 2)
    whole = open_trace(demo_dir)
    for end in (middle + 80, data.index(b'"type": "LogMessage"', middle) + 30):
        cut = tmp_path / "cut.jsonl"
        cut.write_bytes(data[:end])
        trace = open_trace(cut)
        assert trace.skipped_lines == 1, end
        assert build_run(trace).result == "unfinished"
        for machine, index in trace.serial.items():
            assert index.offsets == whole.serial[machine].offsets[:len(index.offsets)]
            assert trace.read_serial(machine, 0, len(index.offsets))


# -- keyframes ------------------------------------------------------------------------------

PIECES = [
    b"plain boot line %d\r\n",
    b"\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39munit-%d.service\x1b[0m.\r\n",
    "caf\u00e9 \u2014 \u65e5\u672c %d\r\n".encode(),
    b"progress %d%%\r",
    b"\x1b[2J\x1b[H screen cleared %d\r\n",
    b"\x1b[5;10Hat row five %d\x1b[K\r\n",
    b"\x1b[?25l\x1b[1;31mred %d\x1b[m\x1b[?25h\n",
    b"\x1b7saved %d\x1b8\r\n",
    b"tab\there %d\r\n",
    b"a burst %d" + b"\r\n" * 90,
]


def generated_trace(path: Path, seed: int, chunks: int) -> list[tuple[float, bytes]]:
    """A trace whose serial bytes are cut at random places: inside escape sequences and
    inside UTF-8 characters, as a real serial port delivers them."""
    rng = random.Random(seed)
    stream = b"".join(rng.choice(PIECES).replace(b"%d", str(i).encode())
                      for i in range(chunks * 3))
    records: list[tuple[float, bytes]] = []
    lines = [json.dumps({"t": 0.0, "type": "TraceStarted", "wall": 0, "format": 2})]
    position, t = 0, 0.0
    while position < len(stream):
        size = rng.randint(1, 200)
        piece = stream[position:position + size]
        position += size
        t = round(t + rng.random() / 10, 6)
        records.append((t, piece))
        lines.append(json.dumps({"t": t, "type": "SerialOutput", "machine": "vm",
                                 "data_b64": base64.b64encode(piece).decode()}))
    path.write_text("\n".join(lines) + "\n")
    return records


def fed_from_start(records: list[tuple[float, bytes]], t: float, rows: int,
                   scrollback: int = 10_000) -> Terminal:
    terminal = Terminal(columns=160, rows=rows, scrollback=scrollback)
    for when, data in records:
        if when <= t:
            terminal.feed(data)
    return terminal


def same_terminal(a: Terminal, b: Terminal) -> bool:
    if (a.first_line, a.history_end, a.end_line) != (b.first_line, b.history_end, b.end_line):
        return False
    if (a.screen.cursor.x, a.screen.cursor.y) != (b.screen.cursor.x, b.screen.cursor.y):
        return False
    return all(a.line(n) == b.line(n) for n in range(a.first_line, a.end_line))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeks_through_keyframes_match_feeding_from_the_start(
        tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_module, "KEYFRAME_BYTES", 2048)
    records = generated_trace(tmp_path / "t.jsonl", seed, chunks=700)
    trace = open_trace(tmp_path / "t.jsonl")
    assert trace.serial["vm"].size == sum(len(d) for _, d in records)
    replay = ConsoleReplay(trace, "vm", rows=24)
    replay.build()
    assert replay.built and replay.keyframes > 10
    rng = random.Random(seed)
    end = records[-1][0]
    times = [rng.uniform(0, end) for _ in range(25)] + [0.0, end, end / 2]
    times += sorted(rng.uniform(0, end) for _ in range(10))  # playback: forward in order
    for t in times:
        assert same_terminal(replay.at(t), fed_from_start(records, t, 24)), f"diverged at {t}"


def test_seeks_match_when_the_scrollback_is_full(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines fall off a bounded history (some chunks scroll more lines than it holds)."""
    monkeypatch.setattr(console_module, "KEYFRAME_BYTES", 1024)
    records = generated_trace(tmp_path / "t.jsonl", 11, chunks=300)
    trace = open_trace(tmp_path / "t.jsonl")
    replay = ConsoleReplay(trace, "vm", scrollback=60)
    replay.build()
    rng = random.Random(11)
    end = records[-1][0]
    for t in [rng.uniform(0, end) for _ in range(25)] + [end]:
        expected = fed_from_start(records, t, 24, scrollback=60)
        assert expected.first_line > 0 or t < end / 4
        assert same_terminal(replay.at(t), expected), f"diverged at {t}"


def test_seeks_work_before_keyframes_are_built(tmp_path: Path) -> None:
    records = generated_trace(tmp_path / "t.jsonl", 7, chunks=200)
    trace = open_trace(tmp_path / "t.jsonl")
    replay = ConsoleReplay(trace, "vm")
    middle = records[len(records) // 2][0]
    assert same_terminal(replay.at(middle), fed_from_start(records, middle, 24))


def test_the_replay_package_does_not_import_textual() -> None:
    code = ("import sys, nixtest_tui.replay, nixtest_tui.replay.console, "
            "nixtest_tui.replay.moment, nixtest_tui.report; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
