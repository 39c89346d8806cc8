"""Tesseract runs that answer as soon as they can and can be called off (spec §6.8).

Upstream OCRs every screenshot three ways (raw, and two ImageMagick-preprocessed pictures),
waits for all three, and only then looks at the text: with tesseract taking seconds on the 4x
upscaled pictures, one `wait_for_text` attempt costs tens of seconds (peers-and-pains §A3). Here
each variant is a job whose result is reported the moment it exists, so the caller can stop at
the first match and kill what is still running.

CPU budget: tesseract's OpenMP threads make one run *slower* on a busy small machine (0.48 s vs
0.16 s for a raw tty screen on 2 cores), so every run gets `OMP_THREAD_LIMIT=1` (unless the user
set it) and parallelism comes from running variants side by side instead: one worker for raw
variants, so that a fresh screen is never queued behind slow work, and `cores - 1` (at least
one) for preprocessing and the large variants. `cores` is `NIX_BUILD_CORES`, else the CPU count,
as upstream counts them.

Tesseract is run directly rather than through pytesseract's helpers, because those can neither
kill a run half-way nor write text and word boxes from one recognition; pytesseract's
`tesseract_cmd` setting is honoured, so scripts that point it at a binary keep working.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytesseract
from PIL import Image

from nixtest_tui.driver import ocr_variants
from nixtest_tui.driver.errors import MachineError
from nixtest_tui.driver.ocr_variants import Abandoned

VARIANTS = ("raw", "positive", "negative")
UPSTREAM_ENGINE = ["--oem", "2"]  # legacy + LSTM: needs the legacy parts of the language data
OUTPUTS = ["-c", "tessedit_create_txt=1", "-c", "tessedit_create_tsv=1"]
FALLBACK_ENGINE = ["--oem", "1"]  # LSTM only: what Debian's tesseract-ocr-eng ("fast") carries
COMMON_OPTIONS = ["-c", "debug_file=/dev/null", "--psm", "11"]


@dataclass(frozen=True)
class WordBox:
    """A recognised word, in screen pixels whatever variant it came from."""

    text: str
    left: int
    top: int
    width: int
    height: int
    confidence: float


@dataclass(frozen=True)
class OcrResult:
    variant: str
    text: str
    words: tuple[WordBox, ...]
    seconds: float


# -- the binary and its engine ---------------------------------------------------------------


def tesseract_binary() -> str:
    path = shutil.which(str(pytesseract.pytesseract.tesseract_cmd))
    if path is None:
        raise MachineError("OCR requested but `tesseract` is not available")
    return path


def cores() -> int:
    try:
        count = int(os.environ.get("NIX_BUILD_CORES", "0"))
    except ValueError:
        count = 0
    return count if count > 0 else (os.cpu_count() or 1)


def _environment() -> dict[str, str]:
    return {"OMP_THREAD_LIMIT": "1", **os.environ}


class _Engine:
    """Which `--oem` works with the installed language data, found out once per binary/data.

    Upstream passes `--oem 2`, which fails outright ("OCR failed with exit code 1") when the
    data has no legacy engine, as Debian's does. Falling back to the LSTM engine keeps OCR
    working; every driver log says so once, since the results can differ from upstream's.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str], tuple[list[str], str]] = {}
        self._told: weakref.WeakSet[object] = weakref.WeakSet()

    def options(self, announce: Callable[[str], None], audience: object) -> list[str]:
        binary = tesseract_binary()
        key = (binary, os.environ.get("TESSDATA_PREFIX", ""))
        with self._lock:
            if key not in self._known:
                self._known[key] = self._probe(binary)
            options, note = self._known[key]
            tell = bool(note) and not self._was_told(audience)
        if tell:
            announce(note)
        return options

    def _was_told(self, audience: object) -> bool:
        """Remember whom we told; a logger that goes away is forgotten with it."""
        try:
            if audience in self._told:
                return True
            self._told.add(audience)
        except TypeError:  # not weakly referenceable: tell it every time rather than never
            pass
        return False

    @staticmethod
    def _probe(binary: str) -> tuple[list[str], str]:
        with tempfile.TemporaryDirectory(prefix="nixtest-ocr-probe-") as scratch:
            picture = Path(scratch) / "probe.pgm"
            Image.new("L", (32, 32), 255).save(picture)
            run = subprocess.run([binary, str(picture), "-", *UPSTREAM_ENGINE, *COMMON_OPTIONS],
                                 capture_output=True, env=_environment(), check=False)
        if run.returncode == 0:
            return UPSTREAM_ENGINE, ""
        complaint = run.stderr.decode(errors="replace").strip()
        if "legacy" in complaint.lower():
            return FALLBACK_ENGINE, (
                "OCR: tesseract's language data has no legacy engine, which upstream's "
                f"`--oem 2` needs ({complaint.splitlines()[0]}); using `--oem 1` (LSTM) instead. "
                "Install full tessdata and set TESSDATA_PREFIX for upstream's engine mode."
            )
        raise MachineError(f"OCR failed with exit code {run.returncode}: {complaint}")


ENGINE = _Engine()


# -- one recognition -------------------------------------------------------------------------


class Scope:
    """Everything one caller started; `cancel()` kills its tesseracts and stops preprocessing."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self) -> None:
        if self._cancelled.is_set():
            raise Abandoned()

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            running = list(self._running)
        for process in running:
            process.kill()

    def run(self, argv: list[str]) -> tuple[int, bytes]:
        with self._lock:
            self.check()
            process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       env=_environment())
            self._running.add(process)
        try:
            _, stderr = process.communicate()
        finally:
            with self._lock:
                self._running.discard(process)
        self.check()
        return process.returncode, stderr


def recognise(picture: Path, variant: str, scale: float, options: list[str],
              scope: Scope) -> OcrResult:
    """Text and word boxes of one picture from a single tesseract run (`txt` and `tsv`)."""
    started = time.monotonic()
    base = picture.with_name(f"{picture.stem}-{variant}")  # tesseract adds .txt and .tsv
    text_file, words_file = Path(f"{base}.txt"), Path(f"{base}.tsv")
    # the outputs as variables, not as the `txt`/`tsv` config files: those live in
    # tessdata/configs, which a directory of bare .traineddata files (TESSDATA_PREFIX) lacks
    status, stderr = scope.run([tesseract_binary(), str(picture), str(base), *options,
                                *COMMON_OPTIONS, *OUTPUTS])
    try:
        detail = stderr.decode(errors="replace").strip()
        if status != 0:
            raise MachineError(f"OCR failed with exit code {status}"
                               + (f": {detail}" if detail else ""))
        if not text_file.exists() or not words_file.exists():
            raise MachineError("OCR failed: tesseract exited 0 but wrote no text"
                               + (f"; it said: {detail}" if detail else ""))
        text = text_file.read_text(errors="replace")
        words = _words(words_file.read_text(errors="replace"), scale)
    finally:
        text_file.unlink(missing_ok=True)
        words_file.unlink(missing_ok=True)
    return OcrResult(variant, text, words, time.monotonic() - started)


def _words(tsv: str, scale: float) -> tuple[WordBox, ...]:
    words = []
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        left, top, width, height = (round(int(cell) / scale) for cell in cells[6:10])
        words.append(WordBox(cells[11], left, top, width, height, float(cells[10])))
    return tuple(words)


# -- jobs --------------------------------------------------------------------------------------

ResultHook = Callable[[str, OcrResult], None]
ErrorHook = Callable[[str, BaseException], None]


class _Lanes:
    """Process-wide workers, so that several machines' waits share the CPU budget."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fast: ThreadPoolExecutor | None = None
        self._slow: ThreadPoolExecutor | None = None

    def fast(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._fast is None:
                self._fast = ThreadPoolExecutor(1, thread_name_prefix="ocr-raw")
            return self._fast

    def slow(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._slow is None:
                self._slow = ThreadPoolExecutor(max(1, cores() - 1),
                                                thread_name_prefix="ocr-variants")
            return self._slow


LANES = _Lanes()


class OcrJobs:
    """The variants one caller asked for, on any number of pictures (keyed by their digest).

    Results and failures are handed to the hooks from worker threads as they happen; a
    cancelled job reports nothing.
    """

    def __init__(self, options: list[str], on_result: ResultHook, on_error: ErrorHook) -> None:
        self.scope = Scope()
        self._options = options
        self._on_result = on_result
        self._on_error = on_error
        self._lock = threading.Lock()
        self._started: set[tuple[str, str]] = set()
        self._slow_pending = 0

    @property
    def slow_busy(self) -> bool:
        with self._lock:
            return self._slow_pending > 0

    def _claim(self, key: str, variants: tuple[str, ...]) -> bool:
        with self._lock:
            if any((key, v) in self._started for v in variants):
                return False
            self._started.update((key, v) for v in variants)
            if variants != ("raw",):
                self._slow_pending += 1
            return True

    def start_raw(self, key: str, picture: Path) -> None:
        if self._claim(key, ("raw",)):
            LANES.fast().submit(self._guarded, "raw",
                                lambda: self._report(key, recognise(
                                    picture, "raw", 1.0, self._options, self.scope)))

    def start_preprocessed(self, key: str, image: Image.Image, workdir: Path) -> None:
        if self._claim(key, ("positive", "negative")):
            LANES.slow().submit(self._guarded, "positive",
                                lambda: self._preprocess(key, image, workdir))

    def _preprocess(self, key: str, image: Image.Image, workdir: Path) -> None:
        pictures = {}
        try:
            for variant, picture in zip(("positive", "negative"),
                                        ocr_variants.variants(image, self.scope.check),
                                        strict=True):
                self.scope.check()
                suffix = "pgm" if picture.mode == "L" else "ppm"  # uncompressed: quick to write
                pictures[variant] = workdir / f"{key}-{variant}.{suffix}"
                picture.save(pictures[variant], "PPM")
        except BaseException:
            self._slow_done()
            for path in pictures.values():
                path.unlink(missing_ok=True)
            raise
        remaining = [len(pictures)]

        def one(variant: str, path: Path) -> None:
            try:
                result = recognise(path, variant, ocr_variants.SCALE, self._options, self.scope)
            finally:
                path.unlink(missing_ok=True)
                with self._lock:
                    remaining[0] -= 1
                    last = remaining[0] == 0
                if last:
                    self._slow_done()
            self._report(key, result)

        for variant, path in pictures.items():
            LANES.slow().submit(self._guarded, variant, functools.partial(one, variant, path))

    def _slow_done(self) -> None:
        with self._lock:
            self._slow_pending -= 1

    def _report(self, key: str, result: OcrResult) -> None:
        if not self.scope.cancelled:
            self._on_result(key, result)

    def _guarded(self, variant: str, job: Callable[[], None]) -> None:
        try:
            job()
        except Abandoned:
            pass
        except BaseException as error:  # handed to the waiting caller, who re-raises it
            if not self.scope.cancelled:
                self._on_error(variant, error)

    def cancel(self) -> None:
        self.scope.cancel()
