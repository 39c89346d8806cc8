"""One stream of driver events that any number of consumers can follow.

Modelled on qemu.qmp's `EventListener`: every subscriber gets its own bounded FIFO with an
optional filter, so no consumer can steal another's events, and a slow consumer never blocks
the driver (when its queue is full the oldest events are dropped and counted). Late subscribers
can ask for the recent history first. The bus is thread-safe: the driver publishes from machine
reader threads and the script thread; every consumer reads from a plain thread (`get`,
iteration): the TUI's event pump is a thread worker that posts Textual messages.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

HISTORY = 5000


@dataclass(frozen=True, kw_only=True)
class Event:
    time: float = field(default_factory=time.monotonic)  # for ordering and durations


@dataclass(frozen=True, kw_only=True)
class MachineStateChanged(Event):
    """state: starting, running (QEMU up, guest booting), connected (backdoor), shutting-down,
    exited (with exit_code), off."""

    machine: str
    state: str
    exit_code: int | None = None
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class SerialOutput(Event):
    """Raw bytes from the machine's first serial port, for terminal emulation."""

    machine: str
    data: bytes


@dataclass(frozen=True, kw_only=True)
class SerialLine(Event):
    machine: str
    line: str


@dataclass(frozen=True, kw_only=True)
class CommandStarted(Event):
    machine: str
    command: str
    timeout: float | None


@dataclass(frozen=True, kw_only=True)
class CommandFinished(Event):
    machine: str
    command: str
    status: int
    duration: float
    output_size: int
    stdout_left_open: bool = False


@dataclass(frozen=True, kw_only=True)
class WaitStarted(Event):
    """A wait_* helper began: `what` is unit/port/file/command/console/window/text/..."""

    machine: str | None
    what: str
    target: str
    timeout: float | None


@dataclass(frozen=True, kw_only=True)
class WaitProgress(Event):
    machine: str | None
    what: str
    target: str
    elapsed: float
    last_result: str


@dataclass(frozen=True, kw_only=True)
class WaitFinished(Event):
    machine: str | None
    what: str
    target: str
    elapsed: float
    success: bool


@dataclass(frozen=True, kw_only=True)
class LogMessage(Event):
    level: str
    message: str
    machine: str | None = None


@dataclass(frozen=True, kw_only=True)
class NestStarted(Event):
    message: str
    machine: str | None = None
    subtest: bool = False


@dataclass(frozen=True, kw_only=True)
class NestFinished(Event):
    message: str
    duration: float
    ok: bool
    machine: str | None = None
    subtest: bool = False
    error: str = ""
    left: bool = False  # the debugger jumped out of the block: not failed, not passed either


@dataclass(frozen=True, kw_only=True)
class ScriptLine(Event):
    """The test script is about to run this line (only while line tracing is on)."""

    line: int
    function: str


@dataclass(frozen=True, kw_only=True)
class ScriptStateChanged(Event):
    """The debugger's script runner: running, paused, finished or failed.

    `reason` says why it paused: breakpoint, step, run-to, user, failure.
    """

    state: str
    line: int | None = None
    reason: str = ""
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class PauseRequested(Event):
    """A pause waits for the next script statement; `busy` says what the script waits in."""

    busy: str


@dataclass(frozen=True, kw_only=True)
class EvaluationFinished(Event):
    source: str
    output: str
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class VLanChanged(Event):
    nr: int
    up: bool
    pid: int | None = None


@dataclass(frozen=True, kw_only=True)
class LinkChanged(Event):
    machine: str
    blocked: bool
    nic: int = 1  # QEMU's virtio-net-pci.<nic>: 1 is the first VLAN NIC (upstream's block())


Filter = Callable[[Event], bool]


class Subscription:
    """One consumer's FIFO. Use as a context manager so that it is removed from the bus."""

    def __init__(self, bus: EventBus, kinds: tuple[type[Event], ...], predicate: Filter | None,
                 maxsize: int) -> None:
        self._bus = bus
        self._kinds = kinds
        self._predicate = predicate
        self._queue: deque[Event] = deque(maxlen=maxsize)
        self._ready = threading.Condition()
        self.dropped = 0
        self.closed = False

    def wants(self, event: Event) -> bool:
        if self._kinds and not isinstance(event, self._kinds):
            return False
        return self._predicate is None or self._predicate(event)

    def _put(self, event: Event) -> None:
        with self._ready:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(event)
            self._ready.notify_all()

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after `timeout` seconds or once closed and drained."""
        with self._ready:
            if not self._ready.wait_for(lambda: self._queue or self.closed, timeout):
                return None
            return self._queue.popleft() if self._queue else None

    def get_nowait(self) -> list[Event]:
        with self._ready:
            events = list(self._queue)
            self._queue.clear()
            return events

    def __iter__(self) -> Iterator[Event]:
        while (event := self.get()) is not None:
            yield event

    def close(self) -> None:
        self._bus._remove(self)
        with self._ready:
            self.closed = True
            self._ready.notify_all()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    def __init__(self, history: int = HISTORY) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscription] = []
        self._history: deque[Event] = deque(maxlen=history)

    def publish(self, event: Event) -> None:
        with self._lock:
            self._history.append(event)
            subscribers = [s for s in self._subscribers if s.wants(event)]
        for subscriber in subscribers:
            subscriber._put(event)

    def subscribe(self, *kinds: type[Event], predicate: Filter | None = None,
                  maxsize: int = 10000, replay: bool = False) -> Subscription:
        """A new FIFO for events of `kinds` (all if none) passing `predicate`.

        With `replay`, the matching events still in the history come first.
        """
        subscription = Subscription(self, kinds, predicate, maxsize)
        with self._lock:
            if replay:
                for event in self._history:
                    if subscription.wants(event):
                        subscription._put(event)
            self._subscribers.append(subscription)
        return subscription

    def history(self) -> list[Event]:
        with self._lock:
            return list(self._history)

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)
