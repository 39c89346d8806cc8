"""The trace file: every driver event as one JSON object per line.

A CI run leaves it next to its JUnit report, so a failure can be opened and scrubbed later.
Each line has `t` (seconds since the trace started, monotonic), `type` (the event class) and
the event's fields; raw serial bytes are base64 in `data_b64`, capped per machine so that a
flooding guest cannot fill the disk (a `SerialTruncated` line marks the cut).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from nixtest_tui.driver.events import Event, EventBus, SerialOutput

SERIAL_CAP = 8 << 20  # raw serial bytes kept per machine


class TraceWriter:
    def __init__(self, bus: EventBus, path: Path) -> None:
        self.path = path
        self._file: TextIO = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._started = time.monotonic()
        self._serial: dict[str, int] = {}
        self._subscription = bus.subscribe(maxsize=1 << 20)
        self._thread = threading.Thread(target=self._pump, name="trace-writer", daemon=True)
        self._write({"type": "TraceStarted", "wall": time.time(), "format": 1})
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
        self._write({"t": round(event.time - self._started, 6), "type": type(event).__name__,
                     **fields})

    def _write(self, record: dict[str, Any]) -> None:
        record.setdefault("t", round(time.monotonic() - self._started, 6))
        self._file.write(json.dumps(record, default=str) + "\n")

    def close(self) -> None:
        self._subscription.close()
        self._thread.join(10)
        if not self._file.closed:
            self._file.close()
