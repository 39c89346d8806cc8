"""A machine's console at any time t: the TUI's terminal model, replayed with keyframes.

The console pane shows what `Terminal` (pyte with the TUI's scrollback rules) made of the
serial bytes, so the replay feeds the same bytes through the same class. Feeding eight
megabytes takes seconds; a seek must take milliseconds. `build()` makes one pass and keeps a
copy of the terminal every `KEYFRAME_BYTES` (only where the byte stream is between escape
sequences and UTF-8 characters, because pyte's parser state cannot be copied); a seek copies
the nearest keyframe before t and feeds at most that many bytes. Moving forward from the last
answer (playback, stepping) just feeds the difference.

Copies are cheap because history lines are immutable strings shared between copies (and kept
once per console, not per keyframe), and so is the cell alphabet (`CellCodes` only grows).
"""

from __future__ import annotations

import bisect
import copy
import threading
from collections import defaultdict, deque
from dataclasses import dataclass

from pyte.screens import Char, StaticDefaultDict

from nixtest_tui.replay.reader import SerialIndex, Trace
from nixtest_tui.widgets._console_screen import ConsoleScreen
from nixtest_tui.widgets._fast_stream import FastByteStream
from nixtest_tui.widgets._terminal import Stored, Terminal

KEYFRAME_BYTES = 32 << 10
READ_CHUNKS = 64  # serial chunks per read while building (and per hold of the lock)


def clone(terminal: Terminal) -> Terminal:
    """An independent copy that goes on exactly as the original would."""
    new = Terminal.__new__(Terminal)
    new.history = deque(terminal.history, maxlen=terminal.history.maxlen)
    new._codes = terminal._codes
    new._changed = set()
    new.first_line = terminal.first_line
    new.screen = _clone_screen(terminal.screen, new)
    new._stream = FastByteStream(new.screen)
    return new


def _clone_screen(screen: ConsoleScreen, owner: Terminal) -> ConsoleScreen:
    new = copy.copy(screen)  # shares the immutable parts and the attribute caches
    new._scrolled = owner._scrolled
    new.buffer = defaultdict(lambda: StaticDefaultDict(new.default_char))
    for y, row in screen.buffer.items():
        copied: StaticDefaultDict[int, Char] = StaticDefaultDict(row.default)
        copied.update(row)
        new.buffer[y] = copied
    new.dirty = set()
    new.mode = set(screen.mode)
    new.tabstops = set(screen.tabstops)
    new.cursor = copy.copy(screen.cursor)
    new.savepoints = [point._replace(cursor=copy.copy(point.cursor))
                      for point in screen.savepoints]
    return new


def _between_sequences(terminal: Terminal) -> bool:
    stream = terminal._stream
    return bool(stream._taking_plain_text) and stream.utf8_decoder.getstate()[0] == b""


Row = tuple[int, Stored, Char]
"""A screen row in a keyframe: its number, its cells encoded as history lines are, its default."""


@dataclass(frozen=True)
class _Keyframe:
    chunks: int  # serial chunks fed before it
    first_line: int
    history_end: int
    screen: ConsoleScreen  # everything but the rows: cursor, modes, margins, charsets
    rows: tuple[Row, ...]


def _freeze(terminal: Terminal, chunks: int) -> _Keyframe:
    screen = terminal.screen
    rows = []
    for y, row in screen.buffer.items():
        cells = [row[x] for x in range(max(row) + 1)] if row else []
        codes = terminal._codes.encode(cells)
        rows.append((y, tuple(cells) if codes is None else codes, row.default))
    shell = copy.copy(screen)
    shell.buffer = defaultdict(lambda: StaticDefaultDict(shell.default_char))
    return _Keyframe(chunks, terminal.first_line, terminal.history_end,
                     _clone_screen(shell, terminal), tuple(rows))


class ConsoleReplay:
    """One machine's console; thread-safe (a builder thread and the viewer share it).

    A keyframe holds only the screen: lines that scrolled into the history never change, so
    the console keeps all of them once (`_lines`, by absolute line number) and a keyframe
    just says which of them its history held. That keeps a keyframe to a few kilobytes, so
    they can sit close together.
    """

    def __init__(self, trace: Trace, machine: str, columns: int = 160, rows: int = 24,
                 scrollback: int = 10_000) -> None:
        self.machine = machine
        self._trace = trace
        self._index = trace.serial.get(machine, SerialIndex())
        self._lock = threading.RLock()
        self._start = Terminal(columns=columns, rows=rows, scrollback=scrollback)
        self._lines: list[Stored] = []
        self._frames: list[int] = [0]  # `chunks` of each keyframe, for bisect
        self._keyframes = [_freeze(self._start, 0)]
        self._built = 0
        self._current: tuple[int, Terminal] | None = None

    @property
    def built(self) -> bool:
        return self._built >= len(self._index.times)

    @property
    def keyframes(self) -> int:
        return len(self._frames)

    def build(self, stop: threading.Event | None = None) -> None:
        """One pass over the serial bytes, keeping keyframes; resumable, stoppable."""
        with self._lock:
            last = self._keyframes[-1]
            terminal = self._restore(last)
            del self._lines[last.history_end:]  # a stopped pass had gone further
            fed = last.chunks
        ends = self._index.ends
        last_frame_bytes = ends[fed - 1] if fed else 0
        total = len(self._index.times)
        while fed < total:
            if stop is not None and stop.is_set():
                return
            with self._lock:
                for chunk in self._chunks(fed, min(total, fed + READ_CHUNKS)):
                    terminal.feed(chunk)
                    fed += 1
                    self._keep_lines(terminal)
                    if (ends[fed - 1] - last_frame_bytes >= KEYFRAME_BYTES
                            and _between_sequences(terminal)):
                        self._frames.append(fed)
                        self._keyframes.append(_freeze(terminal, fed))
                        last_frame_bytes = ends[fed - 1]
                self._built = fed

    def _keep_lines(self, terminal: Terminal) -> None:
        """Copy the lines that scrolled into the history since the last chunk."""
        new = terminal.history_end - len(self._lines)
        if new <= 0:
            return
        history = terminal.history
        kept = min(new, len(history))
        # more lines than the scrollback in one chunk: the oldest are gone, and no keyframe
        # can need them (each keyframe's history ends at or after this chunk's)
        self._lines.extend([""] * (new - kept))
        self._lines.extend(history[i] for i in range(len(history) - kept, len(history)))

    def _restore(self, frame: _Keyframe) -> Terminal:
        start = self._start
        new = Terminal.__new__(Terminal)
        new.history = deque(self._lines[frame.first_line:frame.history_end],
                            maxlen=start.history.maxlen)
        new._codes = start._codes
        new._changed = set()
        new.first_line = frame.first_line
        new.screen = _clone_screen(frame.screen, new)
        buffer = new.screen.buffer
        for y, stored, default in frame.rows:
            row: StaticDefaultDict[int, Char] = StaticDefaultDict(default)
            row.update(enumerate(start._codes.decode(stored) if isinstance(stored, str)
                                 else stored))
            buffer[y] = row
        new._stream = FastByteStream(new.screen)
        return new

    def at(self, t: float) -> Terminal:
        """The console as it was at time t. Read it, do not feed it."""
        return self.after_chunks(self._index.chunks_until(t))

    def after_chunks(self, count: int) -> Terminal:
        with self._lock:
            frame = bisect.bisect_right(self._frames, count) - 1
            start = self._frames[frame]
            current = self._current
            if current is not None and start <= current[0] <= count:
                fed, terminal = current  # going forward: feed only what is new
            else:
                fed, terminal = start, self._restore(self._keyframes[frame])
            for chunk in self._chunks(fed, count):
                terminal.feed(chunk)
            self._current = (count, terminal)
            return terminal

    def _chunks(self, start: int, stop: int) -> list[bytes]:
        """Each chunk of [start, stop) decoded, read from the trace in one go."""
        if start >= stop:
            return []
        data = self._trace.read_serial(self.machine, start, stop)
        ends = self._index.ends
        base = ends[start - 1] if start else 0
        pieces, position = [], 0
        for i in range(start, stop):
            size = ends[i] - base - position
            pieces.append(data[position:position + size])
            position += size
        return pieces


def console_lines(terminal: Terminal, last: int | None = None) -> list[str]:
    """Plain text of the console, scrollback included (the last `last` lines)."""
    text = terminal.plain_text(last)
    return text.split("\n") if text else []
