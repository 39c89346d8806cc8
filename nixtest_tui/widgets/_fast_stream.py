"""A pyte `ByteStream` that skips pyte's per-character parser for the common sequences.

pyte parses every escape sequence one character at a time through a generator, so a systemd
status line (`[\\x1b[0;32m  OK  \\x1b[0m] Started \\x1b[0;1;39mfoo.service\\x1b[0m.`) costs
about thirty generator round trips. Boot logs are made of text runs, CR LF and plain CSI
sequences (SGR colours, cursor moves, erases); `FastByteStream` matches those with one regular
expression and calls the screen directly, with exactly the arguments pyte's parser would pass.
Anything else (private modes, OSC titles, charsets, a sequence cut by the end of a chunk) goes
through pyte's own parser, so behaviour is pyte's.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pyte

# Plain text is what pyte's parser would hand to `draw` in one piece.
_TEXT = pyte.Stream._text_pattern.pattern
_TOKEN = re.compile(f"({_TEXT})|(\r\n)|\x1b\\[([0-9;]*)([@A-Za-z`])")


class FastByteStream(pyte.ByteStream):
    """`pyte.ByteStream` with a fast path; see the module docstring."""

    def attach(self, screen: pyte.Screen) -> None:
        super().attach(screen)
        self._csi: dict[str, Callable[..., None]] = {
            final: getattr(screen, name) for final, name in self.csi.items()
        }

    def feed(self, data: bytes) -> None:  # type: ignore[override]  # as pyte.ByteStream
        if self.use_utf8:
            self._feed_text(self.utf8_decoder.decode(data))
        else:
            self._feed_text("".join(map(chr, data)))

    def _feed_text(self, data: str) -> None:
        screen = self.listener
        assert screen is not None
        draw, csi, send = screen.draw, self._csi, self._send_to_parser
        match = _TOKEN.match
        offset, length = 0, len(data)
        while offset < length:
            token = match(data, offset) if self._taking_plain_text else None
            if token is None:
                # Mid-sequence, or something only pyte's parser knows: one character through it.
                self._taking_plain_text = send(data[offset])
                offset += 1
                continue
            kind = token.lastindex
            if kind == 1:
                draw(token.group(1))
            elif kind == 2:
                screen.carriage_return()
                screen.linefeed()
            elif (method := csi.get(token.group(4))) is not None:
                method(*[min(int(p or 0), 9999) for p in token.group(3).split(";")])
            else:
                for char in token.group():
                    self._taking_plain_text = send(char)
            offset = token.end()

