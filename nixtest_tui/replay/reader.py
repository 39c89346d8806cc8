"""Reading a trace: one pass over the JSON lines, serial bytes left on disk.

A one-hour run of four busy machines leaves tens of megabytes of base64 serial data, nearly all
of it in `SerialOutput` lines. Those are not decoded at open: the reader notes where each
chunk's base64 text sits in the file (`SerialIndex`), and `console.py` reads the chunks a seek
needs. Every other line is parsed and kept, sorted by `t` (lines written from other threads,
such as film frames, can be a little out of order in the file).

Format 1 (no `TestInfo`, absolute screenshot paths) and format 2 are both read; a newer format
is refused with a message rather than misread.
"""

from __future__ import annotations

import base64
import bisect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nixtest_tui.replay.errors import TraceError

Record = dict[str, Any]
NEWEST_FORMAT = 2
TRACE_NAME = "nixtest-trace.jsonl"
_SERIAL_TYPE = b'"type": "SerialOutput"'
_LINE_TYPE = b'"type": "SerialLine"'
_SERIAL_HEAD = re.compile(
    rb'\{"t": ([-0-9.e+]+), "type": "SerialOutput", "machine": "((?:[^"\\]|\\.)*)", '
    rb'"data_b64": "')


@dataclass
class SerialIndex:
    """Where one machine's serial chunks are: time, file offset and length of the base64."""

    times: list[float] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    """Decoded bytes up to and including chunk i."""
    truncated_at: float | None = None

    def add(self, t: float, offset: int, length: int, padding: int) -> None:
        previous = self.ends[-1] if self.ends else 0
        self.times.append(t)
        self.offsets.append(offset)
        self.lengths.append(length)
        self.ends.append(previous + length // 4 * 3 - padding)

    def chunks_until(self, t: float) -> int:
        """How many chunks had arrived at time t."""
        return bisect.bisect_right(self.times, t)

    @property
    def size(self) -> int:
        return self.ends[-1] if self.ends else 0

    def sort(self) -> None:
        if self.times != sorted(self.times):
            order = sorted(range(len(self.times)), key=self.times.__getitem__)
            self.times = [self.times[i] for i in order]
            self.offsets = [self.offsets[i] for i in order]
            self.lengths = [self.lengths[i] for i in order]
            lengths = [self.ends[i] - (self.ends[i - 1] if i else 0) for i in order]
            total, self.ends = 0, []
            for size in lengths:
                total += size
                self.ends.append(total)


@dataclass
class TestInfo:
    script_path: str | None = None
    script: str | None = None
    script_sha256: str | None = None
    config: Record = field(default_factory=dict)


@dataclass
class Trace:
    path: Path
    format: int
    wall: float | None
    info: TestInfo
    events: list[Record]
    serial: dict[str, SerialIndex]
    duration: float
    skipped_lines: int = 0

    @property
    def directory(self) -> Path:
        """The output directory the run wrote: screenshot paths are relative to it."""
        return self.path.parent

    def resolve(self, recorded: str) -> Path:
        """A screenshot path as recorded: relative (format 2) or absolute (format 1). For an
        absolute path the file of that name next to the trace wins, so a format 1 output
        directory that was moved (a CI artifact) still shows its own pictures."""
        path = Path(recorded)
        if not path.is_absolute():
            return self.directory / path
        beside = self.directory / path.name
        return beside if beside.exists() or not path.exists() else path

    def read_serial(self, machine: str, start: int, stop: int) -> bytes:
        """The decoded bytes of chunks [start, stop) of a machine's serial output."""
        index = self.serial[machine]
        parts = []
        with open(self.path, "rb") as file:
            for i in range(start, stop):
                file.seek(index.offsets[i])
                parts.append(base64.b64decode(file.read(index.lengths[i])))
        return b"".join(parts)

    @property
    def machines(self) -> list[str]:
        names = set(self.serial)
        for config_key in ("vms", "containers"):
            names.update(self.info.config.get(config_key, {}))
        names.update(e["machine"] for e in self.events
                     if e["type"] == "MachineStateChanged" and e.get("machine"))
        return sorted(names)


def find_trace(target: Path) -> Path:
    """An output directory means its `nixtest-trace.jsonl`."""
    if target.is_dir():
        candidate = target / TRACE_NAME
        if not candidate.is_file():
            raise TraceError(f"{target}: no {TRACE_NAME} in this directory; run the test with "
                             "`nixtest-tui --headless` (or pass --trace FILE) to record one")
        return candidate
    if not target.is_file():
        raise TraceError(f"{target}: no such trace file or output directory")
    return target


def open_trace(target: Path | str) -> Trace:
    path = find_trace(Path(target))
    events: list[Record] = []
    serial: dict[str, SerialIndex] = {}
    started: Record | None = None
    info = TestInfo()
    skipped = 0
    last = 0.0
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise TraceError(f"{path}: cannot read the trace ({exc.strerror})") from None
    with file:
        offset = 0
        for raw in file:
            line_start, offset = offset, offset + len(raw)
            head = raw[:80]
            if _LINE_TYPE in head:
                continue  # the decoded line view: consoles come from the raw bytes
            if _SERIAL_TYPE in head:
                t_serial = _add_serial(raw, line_start, serial)
                if t_serial is not None:
                    last = max(last, t_serial)
                    continue
            try:
                record = json.loads(raw)
            except ValueError:
                skipped += 1  # a line cut short by a killed run: keep what came before
                continue
            if not isinstance(record, dict) or "type" not in record:
                skipped += 1
                continue
            kind = record["type"]
            t = float(record.get("t", 0.0))
            record["t"] = t
            last = max(last, t)
            if kind == "TraceStarted":
                started = record
            elif kind == "TestInfo":
                info = TestInfo(record.get("script_path"), record.get("script"),
                                record.get("script_sha256"), record.get("config") or {})
            elif kind == "SerialLine":
                continue  # the consoles come from the raw bytes
            elif kind == "SerialTruncated":
                serial.setdefault(record["machine"], SerialIndex()).truncated_at = t
            events.append(record)
    if started is None:
        raise TraceError(f"{path}: not a nixtest-tui trace (no TraceStarted line); give the "
                         f"output directory of a headless run or its {TRACE_NAME}")
    version = int(started.get("format", 1))
    if version > NEWEST_FORMAT:
        raise TraceError(f"{path}: trace format {version} is newer than this nixtest-tui reads "
                         f"(up to {NEWEST_FORMAT}); upgrade nixtest-tui")
    events.sort(key=lambda e: e["t"])  # stable: lines of one instant keep their order
    for index in serial.values():
        index.sort()
    return Trace(path, version, started.get("wall"), info, events, serial, last, skipped)


def _add_serial(raw: bytes, line_start: int, serial: dict[str, SerialIndex]) -> float | None:
    """Index a `SerialOutput` line without decoding its data and return its time; None if it
    is not shaped as the writer writes it (the caller then parses it as plain JSON). A regular
    expression instead of `json.loads` for the head: this runs once per serial chunk, tens of
    thousands of times for a long run."""
    match = _SERIAL_HEAD.match(raw)
    if match is None:
        return None
    name = match.group(2)
    machine = json.loads(b'"' + name + b'"') if b"\\" in name else name.decode()
    data_start = match.end()
    data_end = raw.find(b'"', data_start)
    if data_end < 0 or raw[data_end:data_end + 2] != b'"}':
        return None  # cut short (a killed run): the JSON parse below will skip it
    padding = 2 if raw[data_end - 2:data_end] == b"==" else 1 if raw[data_end - 1] == 61 else 0
    t = float(match.group(1))
    serial.setdefault(machine, SerialIndex()).add(t, line_start + data_start,
                                                  data_end - data_start, padding)
    return t
