"""The screen picture in cells: legible at 200×50, zoom and pan, word boxes and matches."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
from PIL import Image
from textual.strip import Strip

from nixtest_tui.driver.ocr import WordBox
from nixtest_tui.widgets.screen_picture import (
    HALF_BLOCK,
    MATCH_TINT,
    ZOOMS,
    Viewport,
    matched_words,
    render_picture,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "screen"


@pytest.fixture(scope="module")
def screen() -> Image.Image:
    return Image.open(DATA / "tiny-login.png").convert("RGB")


@pytest.fixture(scope="module")
def words() -> tuple[WordBox, ...]:
    recorded = json.loads((DATA / "tiny-login.words.json").read_text())
    return tuple(WordBox(**word) for word in recorded["words"])


def rows_text(strips: list[Strip]) -> list[str]:
    return [strip.text for strip in strips]


def brightest(strips: list[Strip], rows: range) -> int:
    """The brightest pixel (either half of a cell) in `rows`, as 0-255 grey."""
    best = 0
    for row in rows:
        for segment in strips[row]:
            style = segment.style
            if style is None:
                continue
            for colour in (style.color, style.bgcolor):
                if colour is not None and colour.triplet is not None:
                    best = max(best, sum(colour.triplet) // 3)
    return best


def test_the_text_layer_reads_the_screen_at_200x50(screen: Image.Image,
                                                   words: tuple[WordBox, ...]) -> None:
    strips = render_picture(screen, 200, 50, words=words)
    assert len(strips) <= 50 and all(strip.cell_length == 200 for strip in strips)
    text = "\n".join(rows_text(strips)).replace(HALF_BLOCK, " ")  # between words: the picture
    assert "Welcome to the tiny test guest server" in text
    assert "server login:" in text and "link becomes ready" in text


def test_without_words_the_strokes_survive_the_downscale(screen: Image.Image) -> None:
    """The old rendering (a plain box average) gave an almost black block at 200×50."""
    ours = render_picture(screen, 200, 50)
    text_rows = range(0, 3)
    plain = screen.resize((160, 100), Image.Resampling.BOX)
    plain_brightest = max(sum(plain.getpixel((x, y))) // 3  # type: ignore[arg-type]
                          for x in range(160) for y in range(6))
    assert brightest(ours, text_rows) >= 200
    assert brightest(ours, text_rows) > 2 * plain_brightest


def test_matches_are_marked_in_yellow_with_black_letters(screen: Image.Image,
                                                         words: tuple[WordBox, ...]) -> None:
    hits = matched_words(words, re.compile(r"tiny\s+test"))
    assert [words[i].text for i in sorted(hits)] == ["tiny", "test"]
    strips = render_picture(screen, 200, 50, words=words, matches=hits)
    row = next(strip for strip in strips if "tiny" in strip.text)
    for word in ("tiny", "test"):
        at = row.text.index(word)
        for segment in row.crop(at, at + len(word)):
            assert segment.style is not None and segment.style.bgcolor is not None
            assert segment.style.bgcolor.triplet == MATCH_TINT, (word, segment)
    at = row.text.index("guest")  # not in the match
    assert all(seg.style is not None and seg.style.bgcolor is not None
               and seg.style.bgcolor.triplet != MATCH_TINT for seg in row.crop(at, at + 5))
    # without the text layer the match is still there: yellow pixels where the words are
    no_text = render_picture(screen, 200, 50, words=words, matches=hits, text_layer=False)
    assert "tiny" not in "".join(rows_text(no_text))
    colours = {seg.style.bgcolor.triplet for strip in no_text[:3] for seg in strip
               if seg.style is not None and seg.style.bgcolor is not None}
    assert MATCH_TINT in colours


def test_matched_words_follow_the_regex() -> None:
    words = tuple(WordBox(text, 10 * i, 0, 8, 8, 90.0)
                  for i, text in enumerate(["root", "login:", "tiny", "test"]))
    assert matched_words(words, re.compile("login")) == {1}
    assert matched_words(words, re.compile(r"login:\s+tiny")) == {1, 2}
    assert matched_words(words, re.compile("nowhere")) == set()
    assert matched_words(words, None) == set()
    assert matched_words(words, re.compile("^")) == {0}  # an empty match marks its word


def test_zoom_keeps_the_top_left_and_pans_within_the_picture() -> None:
    view = Viewport()
    assert view.box(1280, 800) == (0, 0, 1280, 800)
    view = view.zoomed(1)
    assert view.zoom == 1.5 and view.box(1280, 800) == (0, 0, 853, 533)
    view = view.zoomed(1).zoomed(1)
    assert view.zoom == 3.0 and view.box(1280, 800)[:2] == (0, 0)
    for _ in range(20):
        view = view.panned(0.25, 0.25)
    assert view.box(1280, 800)[2:] == (1280, 800)  # stopped at the bottom right corner
    for _ in range(20):
        view = view.panned(-0.25, 0)
    assert view.box(1280, 800)[0] == 0
    assert view.zoomed(-5) == Viewport()
    top = Viewport()
    for _ in range(len(ZOOMS) + 3):
        top = top.zoomed(1)
    assert top.zoom == ZOOMS[-1]


def test_at_8x_the_pixels_are_big_enough_and_the_text_layer_steps_aside(
        screen: Image.Image, words: tuple[WordBox, ...]) -> None:
    view = Viewport()
    while view.zoom < 8:
        view = view.zoomed(1)
    strips = render_picture(screen, 200, 50, viewport=view, words=words)
    assert "Welcome" not in "".join(rows_text(strips))  # the picture's own letters now
    assert brightest(strips, range(0, 10)) >= 150  # the guest's grey, 1:1.28
    forced = render_picture(screen, 200, 50, viewport=view, words=words, text_layer=True)
    assert "Welcome" in "".join(rows_text(forced))


def test_every_size_and_view_renders_exactly_its_cells(screen: Image.Image,
                                                       words: tuple[WordBox, ...]) -> None:
    views = [Viewport()]
    for step in range(len(ZOOMS)):
        zoomed = views[-1].zoomed(1)
        views += [zoomed, zoomed.panned(1, 1), zoomed.panned(-1, 0.5)]
        del step
    hits = matched_words(words, re.compile("e"))
    for (width, height), view in itertools.product(
            [(1, 1), (2, 1), (7, 3), (40, 10), (80, 24), (123, 37), (200, 50), (300, 90)],
            views):
        strips = render_picture(screen, width, height, viewport=view, words=words,
                                matches=hits, text_layer=True)
        assert 1 <= len(strips) <= height
        assert all(strip.cell_length == width for strip in strips), (width, height, view)
    tall = Image.new("RGB", (3, 900), (200, 200, 200))
    assert all(s.cell_length == 50 for s in render_picture(tall, 50, 20, words=words))


def test_two_lines_squeezed_into_one_row_stay_apart(screen: Image.Image,
                                                    words: tuple[WordBox, ...]) -> None:
    """At 90×12 both text lines of the screen fall into the first cell row."""
    strips = render_picture(screen, 90, 12, words=words)
    rows = [strip.text.replace(HALF_BLOCK, " ") for strip in strips]
    first = next(i for i, row in enumerate(rows) if "Welcome" in row)
    assert "login" not in rows[first]
    assert "server login:" in rows[first + 1]
