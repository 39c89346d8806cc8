"""Parsing serial bytes in time-boxed turns on the event loop, with a bounded backlog.

pyte parses a few MB/s at best, and a guest can print faster than that. Parsing whatever
arrives inside the handler that received it would hold the event loop for as long as the flood
lasts; instead each console's `SlicedFeed` queues the bytes, and one `_Turns` scheduler per
event loop parses a little of every busy console per loop iteration, `TURN_SECONDS` in all,
round robin. A key press crosses several message queues (app, screen, focused widget) and each
hop waits for one loop iteration, so the latency of a key is a few turns however many consoles
are streaming. Textual's own message queue would not do: a widget's task handles queued
messages back to back without yielding to the loop.

The same scheduler tells the consoles to redraw, all at once so that one screen update paints
them all: at most `UPDATE_RATE` times a second, or `FLOOD_RATE` while some console is more than
`FLOOD_BYTES` behind (a repaint costs as much as parsing 20 KB, and nobody reads a console
scrolling at megabytes a second anyway).

A loop kept this busy starves other threads, the terminal driver's key reader among them: it
releases the GIL for a moment at every iteration, which restarts the 5 ms a waiting thread
allows before asking for it, and retakes it before that thread wakes; keys then arrived 100 ms
late. So every `YIELD_EVERY` of busy time the scheduler sleeps `YIELD_SECONDS`, long enough
for a waiting thread to take the GIL.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from time import monotonic, perf_counter, sleep
from weakref import WeakKeyDictionary

TURN_SECONDS = 0.002
"""Parsing time per event-loop iteration, shared by all consoles on that loop."""
UPDATE_RATE = 30.0
FLOOD_RATE = 8.0
FLOOD_BYTES = 256 * 1024
YIELD_EVERY = 0.004
YIELD_SECONDS = 0.0002
"""Idle time the scheduler gives other threads, at most every `YIELD_EVERY` (about 5%)."""


class _Turns:
    """Round robin over the feeds of one loop that have bytes waiting, and their redraws."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._busy: deque[SlicedFeed] = deque()
        self._handle: asyncio.Handle | None = None
        self._parsed: dict[SlicedFeed, None] = {}
        self._tick: asyncio.TimerHandle | None = None
        self._last_tick = 0.0
        self._last_yield = 0.0

    def want(self, feed: SlicedFeed) -> None:
        if feed not in self._busy:
            self._busy.append(feed)
        if self._handle is None:
            self._handle = self._loop.call_soon(self._turn)

    def drop(self, feed: SlicedFeed) -> None:
        if feed in self._busy:
            self._busy.remove(feed)
        self._parsed.pop(feed, None)

    def _turn(self) -> None:
        self._handle = None
        if perf_counter() - self._last_yield > YIELD_EVERY:
            # Let other threads take the GIL (see the module docstring).
            sleep(YIELD_SECONDS)
            self._last_yield = perf_counter()
        deadline = perf_counter() + TURN_SECONDS
        busy = self._busy
        while busy and perf_counter() < deadline:
            feed = busy[0]
            busy.rotate(-1)
            self._parsed[feed] = None
            if not feed._parse_slice():
                busy.remove(feed)
        if busy:
            self._handle = self._loop.call_soon(self._turn)
        if self._tick is None and self._parsed:
            flooded = any(feed.pending_bytes > FLOOD_BYTES for feed in busy)
            delay = self._last_tick + 1 / (FLOOD_RATE if flooded else UPDATE_RATE) - monotonic()
            self._tick = self._loop.call_later(max(0.0, delay), self._redraw)

    def _redraw(self) -> None:
        self._tick = None
        self._last_tick = monotonic()
        parsed, self._parsed = self._parsed, {}
        for feed in parsed:
            feed._parsed()


_turns: WeakKeyDictionary[asyncio.AbstractEventLoop, _Turns] = WeakKeyDictionary()


def _turns_of(loop: asyncio.AbstractEventLoop) -> _Turns:
    turns = _turns.get(loop)
    if turns is None:
        turns = _turns[loop] = _Turns(loop)
    return turns


class SlicedFeed:
    """A FIFO of unparsed bytes, parsed a slice at a time by its loop's `_Turns`; `parsed` is
    called (by the same scheduler) when the parsed bytes should be drawn."""

    def __init__(
        self, parse: Callable[[bytes], None], parsed: Callable[[], None], slice_bytes: int = 2048
    ) -> None:
        self._parse = parse
        self._parsed = parsed
        self.slice_bytes = slice_bytes
        self._backlog: deque[bytes] = deque()
        self.pending_bytes = 0
        """Bytes queued and not parsed yet."""
        self.skipped_bytes = 0
        """Bytes dropped by `shed` over the feed's lifetime."""
        self._turns: _Turns | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Parse on `loop` from now on (bytes fed before were kept)."""
        self._turns = _turns_of(loop)
        if self._backlog:
            self._turns.want(self)

    def stop(self) -> None:
        if self._turns is not None:
            self._turns.drop(self)
        self._turns = None

    def feed(self, data: bytes) -> None:
        self._backlog.append(bytes(data))
        self.pending_bytes += len(data)
        if self._turns is not None:
            self._turns.want(self)

    def flush(self) -> None:
        """Parse everything queued now, however long that takes, and report it at once."""
        while self._backlog:
            self._parse_chunk(self._backlog.popleft())
        self._parsed()

    def shed(self, keep: int, marker: Callable[[int], bytes]) -> None:
        """Drop the oldest bytes down to about `keep`, cutting after a newline when one is near,
        and queue `marker(skipped)` in their place so the console says what it left out."""
        excess = self.pending_bytes - keep
        skipped = 0
        while excess > 0 and self._backlog:
            chunk = self._backlog.popleft()
            if len(chunk) > excess:
                newline = chunk.find(b"\n", excess)
                cut = newline + 1 if 0 <= newline < excess + 4096 else excess
                self._backlog.appendleft(chunk[cut:])
                chunk = chunk[:cut]
            excess -= len(chunk)
            skipped += len(chunk)
            self.pending_bytes -= len(chunk)
        if skipped:
            self.skipped_bytes += skipped
            note = marker(skipped)
            self._backlog.appendleft(note)
            self.pending_bytes += len(note)

    def _parse_slice(self) -> bool:
        """Parse one slice; False once nothing is left."""
        if not self._backlog:
            return False
        chunk = self._backlog.popleft()
        if len(chunk) > self.slice_bytes:
            self._backlog.appendleft(chunk[self.slice_bytes :])
            chunk = chunk[: self.slice_bytes]
        self._parse_chunk(chunk)
        return bool(self._backlog)

    def _parse_chunk(self, chunk: bytes) -> None:
        self.pending_bytes -= len(chunk)
        self._parse(chunk)
