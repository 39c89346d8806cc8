"""Upstream's `LOGFILE` XML log: `<logfile>` with `<nest>`/`<head>` blocks and `<line>`s.

The document is streamed (SAX) rather than built in memory because a test can run for hours and
the file should be useful even if the driver is killed half-way: every element is flushed as it
is written. Serial lines arrive from console threads at any time; like upstream they are queued
and written at the next regular line or block boundary, so they never split a block's header
from its body.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

from nixtest_tui.driver.logger import AbstractLogger, Attributes, LogLevel

# Everything outside XML 1.0's `Char` production; such characters make a parser reject the file.
_ILLEGAL_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (ESC from firmware, NUL, lone surrogates) and keep
    the rest, so a stray byte from a guest cannot make the whole report unreadable."""
    return _ILLEGAL_XML.sub("", text)


def without_controls(text: str) -> str:
    """Serial lines lose every Unicode category-C character, as upstream does: terminal escape
    sequences and the like mean nothing in a log file."""
    return "".join(c for c in text if not unicodedata.category(c).startswith("C"))


class XMLLogger(AbstractLogger):
    """Writes the XML log to `path` (`/dev/null` works, as upstream's builds use it)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file = open(self.path, "w", encoding="utf-8")  # closed by close()
        self._xml = XMLGenerator(self._file, encoding="utf-8", short_empty_elements=True)
        self._lock = threading.RLock()
        self._level = LogLevel.INFO
        self._serial = True
        self._queue: list[tuple[str, str]] = []
        self._open_nests = 0
        self._closed = False
        self._xml.startDocument()
        self._xml.startElement("logfile", AttributesImpl({}))
        self._xml.ignorableWhitespace("\n")
        self._file.flush()

    # -- writing (callers hold the lock) --------------------------------------------------------

    def _element(self, name: str, attributes: Attributes | None, text: str) -> None:
        safe = {key: xml_safe(value) for key, value in (attributes or {}).items()}
        self._xml.startElement(name, AttributesImpl(safe))
        self._xml.characters(text)
        self._xml.endElement(name)
        self._xml.ignorableWhitespace("\n")

    def _drain_serial(self) -> None:
        queued, self._queue = self._queue, []
        for machine, text in queued:
            self._element("line", {"machine": machine, "type": "serial"}, text)

    def _line(self, message: str, attributes: Attributes | None) -> None:
        with self._lock:
            if self._closed:
                return
            self._drain_serial()
            self._element("line", attributes, xml_safe(message))
            self._file.flush()

    def _begin(self, message: str, attributes: Attributes | None) -> bool:
        with self._lock:
            if self._closed or self._level > LogLevel.INFO:
                return False
            self._drain_serial()
            self._xml.startElement("nest", AttributesImpl({}))
            self._xml.ignorableWhitespace("\n")
            self._element("head", attributes, xml_safe(message))
            self._open_nests += 1
            self._file.flush()
            return True

    def _end(self, finished: str | None, attributes: Attributes | None) -> None:
        with self._lock:
            # close() may already have ended this block to keep the document well-formed.
            if self._closed or self._open_nests == 0:
                return
            self._drain_serial()
            if finished is not None:
                self._element("line", attributes, xml_safe(finished))
            self._xml.endElement("nest")
            self._xml.ignorableWhitespace("\n")
            self._open_nests -= 1
            self._file.flush()

    # -- the logger interface -------------------------------------------------------------------

    def log(self, message: str, attributes: Attributes | None = None) -> None:
        if self._level <= LogLevel.INFO:
            self._line(message, attributes)

    @contextmanager
    def nested(self, message: str, attributes: Attributes | None = None) -> Iterator[None]:
        opened = self._begin(message, attributes)
        started = time.monotonic()
        finished: str | None = None
        try:
            yield
            finished = f"(finished: {message}, in {time.monotonic() - started:.2f} seconds)"
        finally:
            # A failed block gets no `(finished: …)` line, as on the terminal, but must still end.
            if opened:
                machine = (attributes or {}).get("machine")
                self._end(finished, {"machine": machine} if machine else None)

    def debug(self, *args: Any, **kwargs: Any) -> None:
        if self._level <= LogLevel.DEBUG:
            self._line(str(args[0]), kwargs.get("attributes"))

    def info(self, *args: Any, **kwargs: Any) -> None:
        self.log(str(args[0]), kwargs.get("attributes"))

    def warning(self, *args: Any, **kwargs: Any) -> None:
        if self._level <= LogLevel.WARNING:
            self._line(str(args[0]), kwargs.get("attributes"))

    def error(self, *args: Any, **kwargs: Any) -> None:
        self._line(str(args[0]), kwargs.get("attributes"))

    def log_test_error(self, *args: Any, **kwargs: Any) -> None:
        if self._level <= LogLevel.WARNING:
            self._line(str(args[0]), kwargs.get("attributes"))

    def log_serial(self, message: str, machine: str) -> None:
        if not self._serial or self._level > LogLevel.INFO:
            return
        with self._lock:
            if not self._closed:
                self._queue.append((machine, without_controls(message)))

    def print_serial_logs(self, enable: bool) -> None:
        self._serial = enable

    def set_log_level(self, level: LogLevel) -> None:
        self._level = level

    def close(self) -> None:
        """Ends any blocks still open (a signal or timeout may arrive mid-block), then the
        document; safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._drain_serial()
            while self._open_nests:
                self._xml.endElement("nest")
                self._xml.ignorableWhitespace("\n")
                self._open_nests -= 1
            self._xml.endElement("logfile")
            self._xml.endDocument()
            self._closed = True
            self._file.close()
