"""Screenshots, OCR, keyboard input and the tty/X helpers against a real tiny guest.

The guest shows its login screen on tty1 through bochs-drm/fbcon; text written to /dev/tty0
lands there, tesseract (the real one) reads it, and typed keys go through QEMU's keyboard into
getty, login and bash. The X helpers run against the guest's documented stand-ins (`tiny-x`,
`xwininfo`), since the tiny guest has no X server.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytesseract
import pytest
from conftest import logged_driver
from PIL import Image

from nixtest_tui.driver import Driver, QemuMachine, RequestedAssertionFailed
from nixtest_tui.driver.events import WaitFinished, WaitStarted
from nixtest_tui.driver.ocr import ENGINE, FALLBACK_ENGINE, UPSTREAM_ENGINE
from nixtest_tui.driver.screen import OcrFinished, ScreenshotTaken
from nixtest_tui.guests.image import GuestImage

pytestmark = pytest.mark.vm
SECONDS = timedelta(seconds=1)


class Guest:
    def __init__(self, driver: Driver, log: io.StringIO) -> None:
        self.driver = driver
        self.log = log
        machine = driver.machines[0]
        assert isinstance(machine, QemuMachine)
        self.machine = machine

    def log_since(self, mark: int) -> str:
        return self.log.getvalue()[mark:]


@pytest.fixture(scope="module")
def guest(tmp_path_factory: pytest.TempPathFactory, tiny_image: GuestImage,
          accelerator: str) -> Iterator[Guest]:
    root = tmp_path_factory.mktemp("screens")
    out = root / "out"
    out.mkdir()
    with logged_driver(root, tiny_image, accelerator, "screen", out=out) as (driver, log):
        driver.start_all()
        guest = Guest(driver, log)
        guest.machine.wait_for_text("Welcome to the tiny test", timeout=120 * SECONDS)
        yield guest


def write_tty0(guest: Guest, text: str, delay: float = 0) -> None:
    command = f"printf '%s\\n' '{text}' > /dev/tty0"
    if delay:
        command = f"(sleep {delay}; {command}) >/dev/null 2>&1 &"
    guest.machine.succeed(command)


def test_screenshot_names_and_contents(guest: Guest, tmp_path: Path) -> None:
    machine = guest.machine
    write_tty0(guest, "SCREENSHOT MARKER SEVEN")
    machine.wait_for_text("SCREENSHOT MARKER", timeout=60 * SECONDS)
    with guest.driver.bus.subscribe(ScreenshotTaken) as taken:
        machine.screenshot("plain")
        machine.screenshot("dotted.name")
        nested = tmp_path / "deeper" / "shot"
        nested.parent.mkdir()
        machine.screenshot(str(nested))
        events = [e for e in taken.get_nowait() if isinstance(e, ScreenshotTaken) and e.path]
    out = machine.out_dir
    plain, dotted = out / "plain.png", out / "dotted.name"
    slashed = nested if "." in str(nested) else nested.with_name("shot.png")
    assert [Path(e.path) for e in events] == [plain, dotted, slashed]
    for path in (plain, dotted, slashed):
        with Image.open(path) as picture:
            assert picture.format == "PNG" and picture.width >= 640
    assert "making screenshot " + str(plain) in guest.log.getvalue()
    machine.screens._png_dumps = False  # as with QEMU < 7.1: PPM, converted by Pillow
    try:
        machine.screenshot("converted")
    finally:
        machine.screens._png_dumps = None
    with Image.open(out / "converted.png") as picture:
        assert picture.format == "PNG" and picture.width >= 640
    # an independent reader (pytesseract on the saved file) sees the tty0 text
    text = pytesseract.image_to_string(Image.open(plain), config=" ".join(FALLBACK_ENGINE))
    assert "SCREENSHOT MARKER" in text


def test_in_memory_grab_is_hashed_and_quiet(guest: Guest) -> None:
    screens = guest.machine.screens
    with guest.driver.bus.subscribe(ScreenshotTaken) as taken:
        first = screens.grab(publish=False)
        second = screens.grab(publish=False)
        assert taken.get_nowait() == []
    assert first.image.size == second.image.size and first.image.mode == "RGB"
    assert first.png().startswith(b"\x89PNG")
    assert len(first.digest) == 24 and first.file.exists()


def test_screen_text_and_variants(guest: Guest) -> None:
    machine = guest.machine
    write_tty0(guest, "VARIANTS CHECK ALPHA")
    machine.wait_for_text("VARIANTS CHECK", timeout=60 * SECONDS)
    raw = machine.get_screen_text()
    variants = machine.get_screen_text_variants()
    # two screenshots: the blinking cursor may differ between them, the text may not
    assert "VARIANTS CHECK ALPHA" in raw and len(variants) == 3
    assert all("VARIANTS CHECK ALPHA" in text for text in variants), variants
    # word boxes, in screen pixels, for the TUI's overlay
    shot = machine.screens.grab(publish=False)
    raw_result = machine.screens.read(("raw",), shot)[0]
    words = {box.text: box for box in raw_result.words}
    assert "ALPHA" in words and words["ALPHA"].width > 0 and words["ALPHA"].top >= 0
    # a picture read before is not read again
    with guest.driver.bus.subscribe(OcrFinished) as finished:
        assert machine.screens.read(("raw",), shot)[0] == raw_result
        assert finished.get_nowait() == []
    expected = UPSTREAM_ENGINE if "legacy" not in guest.log.getvalue() else FALLBACK_ENGINE
    assert ENGINE.options(lambda _: None, object()) == expected


def test_wait_for_text_sees_text_that_appears_later(guest: Guest) -> None:
    machine = guest.machine
    write_tty0(guest, "DELAYED PINEAPPLE BANNER", delay=3)
    with guest.driver.bus.subscribe(WaitStarted, WaitFinished, OcrFinished) as events:
        machine.wait_for_text(r"PINEAPPLE\s+BANNER", timeout=60 * SECONDS)
        seen = events.get_nowait()
    finished = [e for e in seen if isinstance(e, WaitFinished) and e.what == "text"]
    assert finished and finished[-1].success
    assert any(isinstance(e, OcrFinished) and e.matched for e in seen)


def test_wait_for_text_times_out_with_upstreams_message(guest: Guest) -> None:
    machine = guest.machine
    write_tty0(guest, "ONLY THIS IS SHOWN")
    mark = len(guest.log.getvalue())
    with pytest.raises(RequestedAssertionFailed,
                       match=r"action timed out after [0-9.]+ seconds \(timeout=3\.0\)"):
        machine.wait_for_text("text that never appears", timeout=3 * SECONDS)
    logged = guest.log_since(mark)
    assert "waiting for text that never appears to appear on screen" in logged
    last = re.search(r"Last OCR attempt failed\. Text was: \[(.*)\]", logged, re.DOTALL)
    assert last is not None and "ONLY THIS IS SHOWN" in last.group(1)


def test_typing_on_tty1_logs_in_and_lands_as_typed(guest: Guest) -> None:
    machine = guest.machine
    machine.wait_until_tty_matches("1", "login: ", timeout=30 * SECONDS)
    machine.send_chars("root\n")
    machine.wait_until_tty_matches("1", r"bash-[0-9.]+# ", timeout=60 * SECONDS)
    symbols = "Hello, World! @#$%^&*()_+{}|:\"<>?~` -=[]\\;,./ END"
    machine.send_chars(f"printf '%s\\n' '{symbols}' > /tmp/typed\n")
    machine.wait_until_succeeds("test -s /tmp/typed", timeout=60 * SECONDS)
    assert machine.succeed("cat /tmp/typed") == symbols + "\n"
    screen = machine.get_tty_text("1")
    assert f"printf '%s\\n' '{symbols}' > /tmp/typed" in screen
    machine.send_chars("echo hello world\n")
    machine.wait_until_tty_matches("1", r"(?m)^hello world\s*$", timeout=60 * SECONDS)


def test_tty_wait_timeout_and_dump(guest: Guest) -> None:
    machine = guest.machine
    mark = len(guest.log.getvalue())
    with pytest.raises(RequestedAssertionFailed, match="action timed out"):
        machine.wait_until_tty_matches("1", "not on the tty at all", timeout=2 * SECONDS)
    assert "Last chance to match /not on the tty at all/ on TTY1" in guest.log_since(mark)
    machine.dump_tty_contents("1")
    machine.wait_for_console_text(r"systemd-cat\[[0-9]+\]: .*tiny test guest",
                                  timeout=30 * SECONDS)


def test_x_helpers_against_the_guest_stand_ins(guest: Guest) -> None:
    machine = guest.machine
    with pytest.raises(RequestedAssertionFailed, match="failed"):
        machine.get_window_names()  # no display yet: xwininfo fails as the real one does
    machine.succeed("(sleep 2; tiny-x start) >/dev/null 2>&1 &")
    machine.wait_for_x(timeout=60 * SECONDS)
    assert machine.get_window_names() == []
    machine.succeed("tiny-x open xterm 'Firefox Nightly'")
    machine.succeed("(sleep 2; tiny-x open Calculator) >/dev/null 2>&1 &")
    machine.wait_for_window(r"^Calc", timeout=60 * SECONDS)
    assert machine.get_window_names() == ["xterm", "Firefox Nightly", "Calculator"]
    mark = len(guest.log.getvalue())
    with pytest.raises(RequestedAssertionFailed, match="action timed out"):
        machine.wait_for_window("gimp", timeout=2 * SECONDS)
    assert "which currently contains: xterm" in guest.log_since(mark)
    machine.succeed("tiny-x stop")
