"""The one bridge from the driver's event bus to the UI thread.

A thread worker reads the bus, batches what arrived (a flooding console becomes one chunk per
machine per batch) and hands the batch to the UI with `call_from_thread`, which waits for the
UI to take it: natural back-pressure, so the driver never waits on the UI and the UI is never
buried under messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.worker import get_current_worker

from nixtest_tui.driver.events import Event, EventBus, SerialOutput

BATCH_SECONDS = 0.03


def coalesce(events: list[Event]) -> tuple[dict[str, bytes], list[Event]]:
    """Serial bytes joined per machine, everything else in order."""
    serial: dict[str, bytearray] = {}
    others: list[Event] = []
    for event in events:
        if isinstance(event, SerialOutput):
            serial.setdefault(event.machine, bytearray()).extend(event.data)
        else:
            others.append(event)
    return {machine: bytes(data) for machine, data in serial.items()}, others


def pump(app: App[Any], bus: EventBus,
         deliver: Callable[[dict[str, bytes], list[Event]], None]) -> None:
    """Run in a thread worker until the worker is cancelled."""
    worker = get_current_worker()
    with bus.subscribe(maxsize=1_000_000, replay=True) as subscription:
        while not worker.is_cancelled:
            first = subscription.get(timeout=0.2)
            if first is None:
                continue
            serial, others = coalesce([first, *subscription.get_nowait()])
            app.call_from_thread(deliver, serial, others)
            time.sleep(BATCH_SECONDS)
