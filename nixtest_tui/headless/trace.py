"""The trace file: every driver event as one JSON object per line.

A CI run leaves it next to its JUnit report, so a failure can be opened and scrubbed later.
Each line has `t` (seconds since the trace started, monotonic), `type` (the event class) and
the event's fields; raw serial bytes are base64 in `data_b64`, capped per machine so that a
flooding guest cannot fill the disk (a `SerialTruncated` line marks the cut).

Format 2 adds what a post-mortem viewer needs to stand on its own: a `TestInfo` line with the
script's text (and hash) and the configuration, screenshot paths relative to the output
directory (so the directory can be moved, as CI artifacts are), and `FilmFrame` lines from
`--trace-screens` (filmstrip.py). Readers keep accepting format 1 (nixtest_tui.replay).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from nixtest_tui.driver.config import DriverConfiguration
from nixtest_tui.driver.events import Event, EventBus, SerialOutput
from nixtest_tui.driver.screen import ScreenshotTaken

SERIAL_CAP = 8 << 20  # raw serial bytes kept per machine
FORMAT = 2
DEFAULT_NAME = "nixtest-trace.jsonl"


class TraceWriter:
    def __init__(self, bus: EventBus, path: Path, out_dir: Path | None = None) -> None:
        self.path = path
        self.out_dir = out_dir if out_dir is not None else path.parent
        self._lock = threading.Lock()
        self._file: TextIO = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._started = time.monotonic()
        self._serial: dict[str, int] = {}
        self._subscription = bus.subscribe(maxsize=1 << 20)
        self._thread = threading.Thread(target=self._pump, name="trace-writer", daemon=True)
        self._write({"type": "TraceStarted", "wall": time.time(), "format": FORMAT})
        self._thread.start()

    def _pump(self) -> None:
        for event in self._subscription:
            self._record(event)
        self._file.flush()

    def _record(self, event: Event) -> None:
        fields: dict[str, Any] = {
            f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name != "time"
        }
        if isinstance(event, SerialOutput):
            used = self._serial.get(event.machine, 0)
            if used >= SERIAL_CAP:
                return
            data = event.data[: SERIAL_CAP - used]
            self._serial[event.machine] = used + len(data)
            fields["data_b64"] = base64.b64encode(data).decode()
            del fields["data"]
            if used + len(event.data) > SERIAL_CAP:
                self._write({"type": "SerialTruncated", "machine": event.machine})
        elif isinstance(event, ScreenshotTaken) and event.path:
            fields["path"] = self.relative(Path(event.path))
        self._write({"t": round(event.time - self._started, 6), "type": type(event).__name__,
                     **fields})

    def relative(self, path: Path) -> str:
        """A path under the output directory as the viewer will find it after the directory
        moved (a CI artifact); anything else stays absolute."""
        absolute = Path(os.path.abspath(path))
        try:
            return str(absolute.relative_to(Path(os.path.abspath(self.out_dir))))
        except ValueError:
            return str(absolute)

    def describe(self, config: DriverConfiguration) -> None:
        """The `TestInfo` line: the script's text, so that the viewer shows the lines that
        ran even when the Nix store path is gone, and the machines and VLANs."""
        script = Path(config.test_script)
        try:
            text: str | None = script.read_text(errors="replace")
        except OSError:
            text = None
        self.write_record({
            "type": "TestInfo",
            "script_path": str(script),
            "script": text,
            "script_sha256": hashlib.sha256(text.encode()).hexdigest() if text else None,
            "config": {
                "source": str(config.source) if config.source else None,
                "vms": {n: m.start_script for n, m in sorted(config.vms.items())},
                "containers": {n: m.start_script for n, m in sorted(config.containers.items())},
                "vlans": list(config.vlans),
                "global_timeout": config.global_timeout.total_seconds(),
            },
        })

    def write_record(self, record: dict[str, Any]) -> None:
        """A line that is not a bus event (film frames, the test description)."""
        self._write(record)

    def _write(self, record: dict[str, Any]) -> None:
        record.setdefault("t", round(time.monotonic() - self._started, 6))
        line = json.dumps(record, default=str) + "\n"
        with self._lock:
            if not self._file.closed:
                self._file.write(line)

    def close(self) -> None:
        self._subscription.close()
        self._thread.join(10)
        with self._lock:
            if not self._file.closed:
                self._file.close()
