"""The one bridge from the driver's event bus to the UI thread.

A thread worker reads the bus, batches what arrived (a flooding console becomes one chunk per
machine per batch) and hands the batch to the UI with `call_from_thread`, which waits for the
UI to take it: natural back-pressure, so the driver never waits on the UI and the UI is never
buried under messages.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

from textual.worker import Worker, get_current_worker

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


Deliver = Callable[[dict[str, bytes], list[Event]], None]


def pump(loop: asyncio.AbstractEventLoop, bus: EventBus, deliver: Deliver) -> None:
    """Run in a thread worker until the worker is cancelled or the UI's loop has ended."""
    worker = get_current_worker()
    with bus.subscribe(maxsize=1_000_000, replay=True) as subscription:
        while not worker.is_cancelled:
            first = subscription.get(timeout=0.2)
            if first is None:
                continue
            serial, others = coalesce([first, *subscription.get_nowait()])
            if not hand_over(loop, worker, deliver, serial, others):
                return
            time.sleep(BATCH_SECONDS)


def hand_over(loop: asyncio.AbstractEventLoop, worker: Worker[Any], deliver: Deliver,
              serial: dict[str, bytes], others: list[Event]) -> bool:
    """`App.call_from_thread`, except that it gives up once the UI is gone.

    A UI that ended without cancelling this worker (SIGHUP while a machine boots) would
    leave `call_from_thread` waiting for ever, and the interpreter joins worker threads at
    exit: the TUI would never quit. Returns whether the batch was delivered.
    """
    async def call() -> None:
        deliver(serial, others)

    try:
        future = asyncio.run_coroutine_threadsafe(call(), loop)
    except RuntimeError:  # the loop is closed
        return False
    while True:
        try:
            future.result(timeout=0.5)
            return True
        except concurrent.futures.TimeoutError:
            if worker.is_cancelled or not loop.is_running():
                future.cancel()
                return False
