"""A machine's screen: screenshots and OCR, fast enough to poll (spec §6.7, §6.8).

Screenshots come from QMP `screendump`: straight to PNG where QEMU can write PNG (7.1 and
later), else as PPM converted by Pillow, so netpbm is never needed. Pictures for OCR and for the
TUI stay PPM (10 ms to dump against 30 ms for PNG) and are identified by a hash of their bytes.

Text recognition is remembered per picture hash: a screen that did not change since the last
look is not OCR'd again, which also covers a blinking cursor, since its two pictures alternate.
`wait_for_text` checks each variant the moment tesseract finishes it, stops at the first match,
and takes a fresh screenshot for every attempt while the slow variants of an older picture are
still being worked on (ocr.py explains the scheduling).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PIL import Image

from nixtest_tui.driver import cancel
from nixtest_tui.driver.errors import MachineError, QMPAPIError
from nixtest_tui.driver.events import Event, EventBus
from nixtest_tui.driver.ocr import ENGINE, VARIANTS, OcrJobs, OcrResult

if TYPE_CHECKING:
    from nixtest_tui.driver.monitor import Monitor
    from nixtest_tui.driver.qmp import QMPSession

REMEMBERED = 16  # pictures (files and OCR results) kept per machine
EVENT_TEXT = 2000
POLL = 0.5  # how often a waiting caller re-checks for failures it might not be woken for


@dataclass(frozen=True, kw_only=True)
class ScreenshotTaken(Event):
    """A screenshot was saved (`path`) or grabbed for OCR (`path` empty, `digest` set)."""

    machine: str
    path: str
    digest: str
    width: int
    height: int


@dataclass(frozen=True, kw_only=True)
class OcrFinished(Event):
    """One OCR variant of one picture is done; `matched` is None outside `wait_for_text`.

    `text` stops after EVENT_TEXT characters, so that a long wait on a busy screen does not
    bloat the trace; `Screens.known(digest)` has the full text and the word boxes.
    """

    machine: str
    digest: str
    variant: str
    seconds: float
    text: str
    matched: bool | None = None


@dataclass(frozen=True)
class Screenshot:
    """An in-memory picture of the screen, as the TUI polls it and OCR reads it."""

    digest: str
    image: Image.Image = field(repr=False)
    file: Path

    def png(self) -> bytes:
        out = io.BytesIO()
        self.image.save(out, "PNG")
        return out.getvalue()


class ScreenHost(Protocol):
    """What the screen needs from its machine (QemuMachine provides it)."""

    name: str
    bus: EventBus
    state_dir: Path
    out_dir: Path
    logger: Any
    qmp_client: QMPSession | None
    monitor: Monitor | None

    def log(self, msg: str) -> None: ...

    def nested(self, msg: str, attrs: dict[str, str] | None = None) -> Any: ...


def _identity(path: Path) -> tuple[int, int, int] | None:
    """Which file is at `path` (inode, size, mtime), None when there is none."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


def screenshot_path(filename: str, out_dir: Path) -> Path:
    """Upstream's naming: `.png` unless the name has a dot, `out_dir` unless it has a slash."""
    if "." not in filename:
        filename += ".png"
    if "/" not in filename:
        return out_dir / filename
    return Path(filename)


class Screens:
    def __init__(self, host: ScreenHost) -> None:
        self._host = host
        self._workdir = host.state_dir / "screens"
        self._lock = threading.Lock()
        self._names = itertools.count()
        self._png_dumps: bool | None = None  # does this QEMU take `format`? None: not asked yet
        self._files: OrderedDict[str, Path] = OrderedDict()
        self._texts: OrderedDict[str, dict[str, OcrResult]] = OrderedDict()

    # -- pictures ------------------------------------------------------------------------------

    def _dump(self, path: Path, png: bool) -> bool:
        """QEMU writes the screen to `path`; returns whether it wrote PNG."""
        host = self._host
        if host.qmp_client is not None:
            arguments: dict[str, Any] = {"filename": str(path)}
            if png and self._png_dumps is not False:
                arguments["format"] = "png"
            try:
                host.qmp_client.send("screendump", arguments)
                if "format" in arguments:
                    self._png_dumps = True
                return "format" in arguments
            except QMPAPIError as error:
                if "format" in arguments and "format" in error.desc:
                    self._png_dumps = False  # QEMU < 7.1
                    return self._dump(path, png)
                raise MachineError(f"{host.name}: screendump failed: {error.desc}") from error
            except ConnectionError as error:
                raise MachineError(f"{host.name} is not running: {error}") from error
        if host.monitor is None:
            raise MachineError(f"{host.name} is not running: start() it first")
        path.unlink(missing_ok=True)
        reply = host.monitor.command(f"screendump {path}")
        if not path.exists():
            raise MachineError(f"{host.name}: screendump failed: {reply.strip()}")
        return False

    def grab(self, publish: bool = True) -> Screenshot:
        """The screen as it is now, in memory (and as a PPM file that OCR can read)."""
        self._workdir.mkdir(parents=True, exist_ok=True)
        scratch = self._workdir / f"grab-{os.getpid()}-{next(self._names)}.ppm"
        self._dump(scratch, png=False)
        data = scratch.read_bytes()
        digest = hashlib.blake2b(data, digest_size=12).hexdigest()
        file = self._workdir / f"{digest}.ppm"
        scratch.replace(file)
        image = Image.open(io.BytesIO(data))
        image.load()
        with self._lock:
            self._files[digest] = file
            self._files.move_to_end(digest)
            while len(self._files) > REMEMBERED:
                _, old = self._files.popitem(last=False)
                old.unlink(missing_ok=True)
        if publish:
            self._host.bus.publish(ScreenshotTaken(machine=self._host.name, path="",
                                                   digest=digest, width=image.width,
                                                   height=image.height))
        return Screenshot(digest, image.convert("RGB"), file)

    def save(self, filename: str) -> Path:
        """`screenshot(filename)`: a PNG, named and logged as upstream does."""
        host = self._host
        path = screenshot_path(filename, host.out_dir)
        with host.nested(f"making screenshot {path}", {"image": path.name}):
            target = Path(os.path.abspath(path))  # QEMU's cwd is the state directory
            before = _identity(target)
            try:
                width, height = self._write_png(target)
            except BaseException:
                # a failed screenshot leaves no file behind: what QEMU or Pillow got to write
                # before the disk filled up is no picture (an older file it never opened stays)
                if _identity(target) not in (None, before):
                    target.unlink(missing_ok=True)
                raise
        host.bus.publish(ScreenshotTaken(machine=host.name, path=str(path), digest="",
                                         width=width, height=height))
        return path

    def _write_png(self, target: Path) -> tuple[int, int]:
        """Dump the screen to `target` as a PNG that reads back; returns its size."""
        if not self._dump(target, png=True):
            scratch = self._workdir / f"save-{os.getpid()}-{next(self._names)}.ppm"
            self._workdir.mkdir(parents=True, exist_ok=True)
            try:
                target.replace(scratch)
                with Image.open(scratch) as picture:
                    picture.save(target, "PNG")
            except OSError as error:
                raise MachineError(f"Cannot convert screenshot: {error}") from error
            finally:
                scratch.unlink(missing_ok=True)
        try:
            with Image.open(target) as picture:
                picture.load()  # a truncated file fails here, not in the user's viewer
                return picture.size
        except OSError as error:
            raise MachineError(f"{self._host.name}: the screenshot {target} is unreadable "
                               f"({error}); is its disk full?") from error

    # -- text ----------------------------------------------------------------------------------

    def known(self, digest: str) -> dict[str, OcrResult]:
        """The variants already recognised for this picture (a copy)."""
        with self._lock:
            return dict(self._texts.get(digest, {}))

    def forget(self) -> None:
        """Drop remembered OCR results, so that the next look reads the screen afresh."""
        with self._lock:
            self._texts.clear()

    def _store(self, digest: str, result: OcrResult, matched: bool | None) -> None:
        with self._lock:
            self._texts.setdefault(digest, {})[result.variant] = result
            self._texts.move_to_end(digest)
            while len(self._texts) > REMEMBERED:
                self._texts.popitem(last=False)
        self._host.bus.publish(OcrFinished(machine=self._host.name, digest=digest,
                                           variant=result.variant, seconds=result.seconds,
                                           text=result.text[:EVENT_TEXT], matched=matched))

    def search(self, regex: str | None = None) -> TextSearch:
        return TextSearch(self, None if regex is None else re.compile(regex))

    def read(self, variants: tuple[str, ...] = VARIANTS,
             shot: Screenshot | None = None) -> list[OcrResult]:
        """OCR of `shot` (a fresh screenshot by default) in the order of `variants`."""
        with self.search() as search:
            return search.read(shot or self.grab(), variants)


class TextSearch:
    """The OCR work of one caller, across as many screenshots as it takes.

    Use as a context manager: leaving it kills whatever OCR is still running for it.
    """

    def __init__(self, screens: Screens, pattern: re.Pattern[str] | None) -> None:
        self._screens = screens
        self._pattern = pattern
        self._arrived = threading.Condition()
        self._failures: list[BaseException] = []
        # what this search received itself: the shared memory may forget a picture meanwhile
        self._received: dict[str, dict[str, OcrResult]] = {}
        self.match: OcrResult | None = None
        host = screens._host
        options = ENGINE.options(host.log, host.logger)
        self._jobs = OcrJobs(options, self._on_result, self._on_error)

    def __enter__(self) -> TextSearch:
        return self

    def __exit__(self, *exc: object) -> None:
        self._jobs.cancel()

    def _matches(self, result: OcrResult) -> bool:
        return self._pattern is not None and self._pattern.search(result.text) is not None

    def _on_result(self, digest: str, result: OcrResult) -> None:
        matched = self._matches(result) if self._pattern is not None else None
        self._screens._store(digest, result, matched)
        with self._arrived:
            self._received.setdefault(digest, {})[result.variant] = result
            if matched and self.match is None:
                self.match = result
            self._arrived.notify_all()

    def _on_error(self, variant: str, error: BaseException) -> None:
        with self._arrived:
            self._failures.append(error)
            self._arrived.notify_all()

    def _known(self, digest: str) -> dict[str, OcrResult]:
        with self._arrived:
            return {**self._screens.known(digest), **self._received.get(digest, {})}

    def _start(self, shot: Screenshot, variants: tuple[str, ...], eager: bool) -> None:
        known = self._known(shot.digest)
        if "raw" in variants and "raw" not in known:
            self._jobs.start_raw(shot.digest, shot.file)
        slow = [v for v in variants if v != "raw" and v not in known]
        if slow and (eager or not self._jobs.slow_busy):
            self._jobs.start_preprocessed(shot.digest, shot.image, shot.file.parent)

    def _wait(self, done: Any) -> None:
        with self._arrived:
            while not (self.match is not None or self._failures or done()):
                cancel.check()  # the debugger's "cancel" interrupts OCR too
                self._arrived.wait(POLL)
            if self._failures and self.match is None:
                raise self._failures[0]

    def read(self, shot: Screenshot, variants: tuple[str, ...]) -> list[OcrResult]:
        """All of `variants` for one picture, however long they take."""
        self._start(shot, variants, eager=True)

        def done() -> bool:
            return all(v in self._known(shot.digest) for v in variants)

        self._wait(done)
        known = self._known(shot.digest)
        return [known[v] for v in variants]

    def attempt(self, shot: Screenshot, last_try: bool) -> OcrResult | None:
        """One `wait_for_text` attempt: the matching result, or None.

        It returns as soon as any variant of any picture this search has seen matches, or once
        this picture's raw variant is known not to; slow variants carry on in the background
        (one picture's worth at a time) and count at a later attempt. The last try waits for
        every variant of its picture, so that its verdict and its log cover all of them.
        """
        for result in self._known(shot.digest).values():
            if self._matches(result):
                return result
        wanted = VARIANTS if last_try else ("raw",)
        self._start(shot, VARIANTS, eager=last_try)

        def done() -> bool:
            return all(v in self._known(shot.digest) for v in wanted)

        self._wait(done)
        return self.match

    def texts(self, shot: Screenshot) -> list[str]:
        known = self._known(shot.digest)
        return [known[v].text for v in VARIANTS if v in known]
