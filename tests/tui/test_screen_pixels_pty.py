"""Real pixels in a real terminal: a pseudo-terminal that answers the device-attributes query
as a sixel terminal does (`4` among the attributes); the whole-terminal screen viewer then
draws the recorded screen as sixel data, and says so. The same viewer in a terminal that
does not answer falls back to half blocks."""

from __future__ import annotations

import fcntl
import os
import struct
import sys
import termios
import textwrap
import time
from pathlib import Path

import pexpect
import pytest
from harness import COLUMNS, ROWS, Terminal

pytest.importorskip("textual_image", reason="the optional `pixels` extra is not installed")

DATA = Path(__file__).resolve().parents[1] / "data" / "screen"
SIXEL_TERMINAL_ANSWER = "\x1b[?62;4;22c"  # VT220-ish, with sixel graphics (4)
DCS = b"\x1bP"  # a sixel picture starts with a device control string

APP = textwrap.dedent(f"""\
    import json, re
    from PIL import Image
    from nixtest_tui.widgets import screen_pixels
    protocol = screen_pixels.detect()  # as run_tui() does, before the app starts
    from textual.app import App
    from textual.widgets import Static
    from nixtest_tui.driver.ocr import WordBox
    from nixtest_tui.widgets.screen_image import ScreenImage
    from nixtest_tui.widgets.screen_viewer import ScreenViewer

    class Viewer(App[None]):
        def compose(self):
            yield Static(f"protocol={{protocol}}")
            yield ScreenImage()

        def on_mount(self):
            image = self.query_one(ScreenImage)
            image.show(Image.open({str(DATA / "tiny-login.png")!r}).convert("RGB"))
            words = json.load(open({str(DATA / "tiny-login.words.json")!r}))["words"]
            image.show_words([WordBox(**w) for w in words], re.compile("tiny"))
            image.focus()

        def on_screen_image_full_size(self, event):
            self.push_screen(ScreenViewer("recorded", event.image))

    Viewer().run()
""")


def spawn(tmp_path: Path) -> pexpect.spawn:
    script = tmp_path / "viewer.py"
    script.write_text(APP)
    env = dict(os.environ, TERM="xterm-256color")
    child = pexpect.spawn(sys.executable, [str(script)], env=env,
                          dimensions=(ROWS, COLUMNS), cwd=str(tmp_path))
    # cells of 10×20 pixels, as a real terminal reports them: the cell size is then read
    # from the window size, and no query but the graphics one reads the terminal's input
    size = struct.pack("HHHH", ROWS, COLUMNS, COLUMNS * 10, ROWS * 20)
    fcntl.ioctl(child.child_fd, termios.TIOCSWINSZ, size)
    return child


def read_for(terminal: Terminal, raw: bytearray, needle: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while needle not in terminal.text():
        assert time.monotonic() < deadline, f"{needle!r} never appeared:\n{terminal.text()}"
        try:
            chunk = terminal.child.read_nonblocking(65536, timeout=0.2)
        except pexpect.TIMEOUT:
            continue
        raw.extend(chunk)
        terminal.stream.feed(chunk)


def test_a_sixel_terminal_gets_real_pixels(tmp_path: Path) -> None:
    child = spawn(tmp_path)
    # the answer waits in the terminal's input until the query reads it (it reads with a
    # 0.1 s timeout, too short to wait for the query on a loaded host)
    child.send(SIXEL_TERMINAL_ANSWER)
    terminal, raw = Terminal(child), bytearray()
    try:
        read_for(terminal, raw, "protocol=sixel")
        child.send("\r")  # enter on the picture: the whole terminal
        read_for(terminal, raw, "sixel pixels")
        deadline = time.monotonic() + 30
        while DCS not in raw[raw.find(b"sixel pixels"):]:
            assert time.monotonic() < deadline, "no sixel data was written"
            try:
                raw.extend(child.read_nonblocking(65536, timeout=0.2))
            except pexpect.TIMEOUT:
                pass
        child.send("\x1b")
        read_for(terminal, raw, "protocol=sixel")
        child.send("\x11")  # ctrl+q
        child.expect(pexpect.EOF, timeout=30)
    finally:
        child.close(force=True)


def test_a_terminal_without_graphics_gets_half_blocks(tmp_path: Path) -> None:
    child = spawn(tmp_path)
    terminal, raw = Terminal(child), bytearray()
    try:
        read_for(terminal, raw, "protocol=None")
        child.send("\r")
        read_for(terminal, raw, "half blocks")
        assert "Welcome to the" in terminal.text().replace("▀", " ")  # the text layer
        child.send("\x11")
        child.expect(pexpect.EOF, timeout=30)
    finally:
        child.close(force=True)
