"""OCR pieces without a VM: naming, the Pillow variants, and real tesseract runs on drawn text."""

from __future__ import annotations

import threading
from pathlib import Path

import pytesseract
import pytest
from PIL import Image, ImageDraw, ImageFont

from nixtest_tui.driver import ocr_variants
from nixtest_tui.driver.errors import MachineError
from nixtest_tui.driver.ocr import (
    ENGINE,
    FALLBACK_ENGINE,
    UPSTREAM_ENGINE,
    OcrJobs,
    OcrResult,
    Scope,
    recognise,
    tesseract_binary,
)
from nixtest_tui.driver.ocr_variants import Abandoned
from nixtest_tui.driver.screen import screenshot_path


def drawn(text: str = "HELLO OCR 42", size: tuple[int, int] = (640, 160),
          ink: tuple[int, int, int] = (170, 170, 170),
          paper: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    """Light text on black by default, like a Linux console."""
    picture = Image.new("RGB", size, paper)
    ImageDraw.Draw(picture).text((24, 48), text, fill=ink, font=ImageFont.load_default(size=40))
    return picture


def options() -> list[str]:
    return ENGINE.options(lambda _note: None, None)


def test_screenshot_names_follow_upstream(tmp_path: Path) -> None:
    assert screenshot_path("login", tmp_path) == tmp_path / "login.png"
    assert screenshot_path("login.jpg", tmp_path) == tmp_path / "login.jpg"
    assert screenshot_path("shots/login", tmp_path) == Path("shots/login.png")
    # upstream checks for a dot anywhere in the name, directories included
    assert screenshot_path("./shots/login", tmp_path) == Path("./shots/login")


def test_missing_tesseract_is_a_clear_machine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "no-such-tesseract-here")
    with pytest.raises(MachineError, match="OCR requested but `tesseract` is not available"):
        tesseract_binary()


class Audience:
    """A stand-in for a driver's logger: only its identity matters to the engine note."""


def test_engine_mode_is_probed_and_announced_once_per_log() -> None:
    notes: list[str] = []
    first, second = Audience(), Audience()
    chosen = ENGINE.options(notes.append, first)
    assert chosen in (UPSTREAM_ENGINE, FALLBACK_ENGINE)
    assert ENGINE.options(notes.append, first) == chosen
    ENGINE.options(notes.append, second)
    if chosen == FALLBACK_ENGINE:  # Debian's tesseract-ocr-eng has no legacy engine
        assert len(notes) == 2 and "--oem 1" in notes[0]
    else:
        assert notes == []


def test_raw_recognition_gives_text_and_word_boxes(tmp_path: Path) -> None:
    picture = tmp_path / "screen.ppm"
    drawn().save(picture)
    result = recognise(picture, "raw", 1.0, options(), Scope())
    assert "HELLO OCR 42" in result.text
    boxes = {word.text: word for word in result.words}
    assert set(boxes) >= {"HELLO", "OCR", "42"}
    assert 20 <= boxes["HELLO"].left < boxes["OCR"].left < boxes["42"].left < 640
    assert not list(tmp_path.glob("*.txt")) and not list(tmp_path.glob("*.tsv"))


def test_a_tessdata_directory_without_configs_works(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The usual layout of downloaded language data: bare .traineddata files, no configs/."""
    system = next(Path("/usr/share/tesseract-ocr").glob("*/tessdata"))
    bare = tmp_path / "tessdata"
    bare.mkdir()
    for data in system.glob("*.traineddata"):
        (bare / data.name).symlink_to(data)
    monkeypatch.setenv("TESSDATA_PREFIX", str(bare))
    picture = tmp_path / "screen.ppm"
    drawn().save(picture)
    result = recognise(picture, "raw", 1.0, FALLBACK_ENGINE, Scope())
    assert "HELLO OCR 42" in result.text and result.words


def test_a_run_that_writes_nothing_quotes_tesseracts_words(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "tesseract"
    fake.write_text("#!/bin/sh\necho 'read_params_file: Cannot open everything' >&2\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(fake))
    picture = tmp_path / "screen.ppm"
    drawn().save(picture)
    with pytest.raises(MachineError, match="wrote no text; it said: read_params_file"):
        recognise(picture, "raw", 1.0, FALLBACK_ENGINE, Scope())


def test_preprocessed_variants_read_the_same_words_in_screen_pixels(tmp_path: Path) -> None:
    source = drawn()
    positive, negative = ocr_variants.variants(source)
    scaled = (int(640 * 300 / 72 + 0.5), int(160 * 300 / 72 + 0.5))
    assert positive.size == negative.size == scaled and positive.mode == "L"
    raw_path = tmp_path / "raw.ppm"
    source.save(raw_path)
    raw = {w.text: w for w in recognise(raw_path, "raw", 1.0, options(), Scope()).words}
    for variant, picture in (("positive", positive), ("negative", negative)):
        path = tmp_path / f"{variant}.pgm"
        picture.save(path)
        result = recognise(path, variant, ocr_variants.SCALE, options(), Scope())
        assert "HELLO OCR 42" in result.text, (variant, result.text)
        hello = next(w for w in result.words if w.text == "HELLO")
        assert abs(hello.left - raw["HELLO"].left) <= 3 and abs(hello.top - raw["HELLO"].top) <= 3


def test_colour_screens_are_preprocessed_per_channel(tmp_path: Path) -> None:
    """Upstream's `-type grayscale` sits before the input file, where it does not convert."""
    positive, negative = ocr_variants.variants(drawn(ink=(0, 0, 170), paper=(170, 170, 170)))
    assert positive.mode == negative.mode == "RGB"
    assert len(positive.getcolors(1 << 16) or []) > 3  # channels went separate ways
    path = tmp_path / "negative.ppm"
    negative.save(path)
    assert "HELLO" in recognise(path, "negative", ocr_variants.SCALE, options(), Scope()).text


def test_variants_are_black_where_upstreams_posterize_leaves_zero() -> None:
    grey = Image.new("L", (4, 1))
    grey.putdata([0, 63, 64, 255])
    positive = grey.point(ocr_variants._POSITIVE)
    negative = grey.point(ocr_variants._NEGATIVE)
    assert list(positive.tobytes()) == [0, 0, 253, 255]
    assert list(negative.tobytes()) == [255, 255, 253, 0]


def test_contrast_follows_imagemagicks_curve() -> None:
    grey = Image.new("RGB", (3, 1))
    grey.putdata([(0, 0, 0), (128, 128, 128), (200, 200, 200)])
    lifted = list(ocr_variants.contrast(grey).getchannel(0).tobytes())
    assert lifted[0] == 0 and abs(lifted[1] - 128) <= 1 and lifted[2] > 200
    red = Image.new("RGB", (1, 1), (200, 40, 0))
    r, g, b = ocr_variants.contrast(red).getpixel((0, 0))  # type: ignore[misc]
    assert r > 200 and b == 0 and abs(g / r - 40 / 200) < 0.02  # hue and saturation kept


def test_tiled_despeckle_equals_despeckling_the_whole_picture() -> None:
    picture = drawn("speckles 0123", (1200, 700)).convert("L")
    for x in range(5, 1200, 97):  # isolated specks, some at the edges
        picture.putpixel((x, (x * 7) % 700), 230)
    whole = ocr_variants._crimmins(picture)
    tiled = ocr_variants._despeckle_band(picture, lambda: None)
    assert whole.tobytes() == tiled.tobytes()
    assert tiled.tobytes()[35 * 1200 + 5] < 230  # a speck is worn down


def test_cancelling_kills_running_recognition(tmp_path: Path) -> None:
    big = drawn("MANY WORDS " * 8, (4000, 3000))
    path = tmp_path / "big.ppm"
    big.save(path)
    scope = Scope()
    outcome: list[BaseException | OcrResult] = []

    def work() -> None:
        try:
            outcome.append(recognise(path, "raw", 1.0, options(), scope))
        except BaseException as error:  # noqa: BLE001 - recorded for the assertion
            outcome.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    scope.cancel()
    thread.join(60)
    assert not thread.is_alive() and isinstance(outcome[0], Abandoned)
    with pytest.raises(Abandoned):
        scope.run(["true"])


def test_jobs_report_each_variant_as_it_finishes(tmp_path: Path) -> None:
    picture = drawn()
    raw = tmp_path / "key.ppm"
    picture.save(raw)
    arrived: list[str] = []
    done = threading.Event()

    def on_result(key: str, result: OcrResult) -> None:
        arrived.append(result.variant)
        if len(arrived) == 3:
            done.set()

    jobs = OcrJobs(options(), on_result, lambda _variant, error: done.set())
    jobs.start_raw("key", raw)
    jobs.start_preprocessed("key", picture, tmp_path)
    jobs.start_raw("key", raw)  # already started: not run twice
    assert done.wait(120)
    assert sorted(arrived) == ["negative", "positive", "raw"] and not jobs.slow_busy
    assert sorted(path.name for path in tmp_path.iterdir()) == ["key.ppm"]  # scratch removed
