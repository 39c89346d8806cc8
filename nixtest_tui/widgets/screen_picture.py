"""A screenshot turned into terminal cells: zoomed, legible, with OCR words and matches marked.

A VGA text screen is 720×400 pixels; at 200×50 cells every cell stands for about 4×8 of
them, so a plain downscale averages thin grey strokes into a black block. Three things make
the picture readable here:

* strokes survive the downscale: before averaging, bright strokes on a dark screen are
  widened (a max filter; a min filter for dark text on a light screen), and the result is
  stretched to full contrast;
* the OCR words are written as letters at their place on the picture (the "text layer"), so
  the screen reads at any size: by default whenever a cell covers more than two pixels
  across, i.e. where the picture's own letters are too small to read;
* zoom (a region of the screen fills the pane) for looking at pixels.

Word boxes tint the cells they cover; words inside a regex match are yellow. This module is
pure rendering (PIL in, Rich strips out) so that it can be tested without an app.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageFilter, ImageOps, ImageStat
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from nixtest_tui.driver.ocr import WordBox

HALF_BLOCK = "▀"
ZOOMS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
TEXT_LAYER_BELOW = 0.5  # cells per pixel across under which the text layer is on by default

RGB = tuple[int, int, int]
WORD_TINT: RGB = (40, 90, 200)
MATCH_TINT: RGB = (250, 210, 40)


@dataclass(frozen=True)
class Viewport:
    """The part of the picture shown: its centre (fractions of the picture) and the zoom.

    Zooming keeps the region's top left corner where it was, starting from the picture's: a
    console's text begins there, so the first zoom shows the first lines, not the empty
    middle of the screen.
    """

    zoom: float = 1.0
    centre_x: float = 0.0
    centre_y: float = 0.0

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The region in picture pixels, kept inside the picture."""
        w, h = max(1, round(width / self.zoom)), max(1, round(height / self.zoom))
        left = min(max(0, round(self.centre_x * width - w / 2)), width - w)
        top = min(max(0, round(self.centre_y * height - h / 2)), height - h)
        return left, top, left + w, top + h

    def zoomed(self, step: int) -> Viewport:
        index = min(range(len(ZOOMS)), key=lambda i: abs(ZOOMS[i] - self.zoom))
        zoom = ZOOMS[max(0, min(len(ZOOMS) - 1, index + step))]
        if zoom == 1.0:
            return Viewport()
        # the region's top left corner stays put, as text is read from there
        left = max(0.0, self.centre_x - 0.5 / self.zoom)
        top = max(0.0, self.centre_y - 0.5 / self.zoom)
        return Viewport(zoom, left + 0.5 / zoom, top + 0.5 / zoom).panned(0, 0)  # clamped

    def panned(self, dx: float, dy: float) -> Viewport:
        """Moved by a fraction of the visible width/height, clamped to the picture's edges."""
        half_w, half_h = 0.5 / self.zoom, 0.5 / self.zoom
        x = min(max(half_w, self.centre_x + dx / self.zoom), 1 - half_w)
        y = min(max(half_h, self.centre_y + dy / self.zoom), 1 - half_h)
        return Viewport(self.zoom, x, y)


def matched_words(words: Sequence[WordBox], pattern: re.Pattern[str] | None) -> set[int]:
    """Indexes of the words inside a match of `pattern` over the words joined by spaces (how
    the OCR text reads them, so `tiny\\s+test` spans two words)."""
    if pattern is None or not words:
        return set()
    spans, parts, at = [], [], 0
    for word in words:
        spans.append((at, at + len(word.text)))
        parts.append(word.text)
        at += len(word.text) + 1
    joined = " ".join(parts)
    hits: set[int] = set()
    for match in pattern.finditer(joined):
        start, end = match.span()
        hits.update(i for i, (a, b) in enumerate(spans) if a < max(end, start + 1) and b > start)
    return hits


def legible(picture: Image.Image, shrink: float) -> Image.Image:
    """`picture` prepared for a downscale by `shrink` (> 1): strokes widened to survive it."""
    rgb = picture.convert("RGB")
    size = min(7, int(shrink)) | 1  # odd, at most 7
    if size < 3:
        return rgb
    dark_screen = ImageStat.Stat(rgb.convert("L")).mean[0] < 128
    widen = ImageFilter.MaxFilter(size) if dark_screen else ImageFilter.MinFilter(size)
    return rgb.filter(widen)


def _blend(colour: RGB, tint: RGB, amount: float) -> RGB:
    r, g, b = (round(c * (1 - amount) + t * amount) for c, t in zip(colour, tint, strict=True))
    return (r, g, b)


@dataclass
class _Cell:
    char: str
    fg: RGB
    bg: RGB
    bold: bool = False


def render_picture(picture: Image.Image, width: int, height: int, *,
                   viewport: Viewport = Viewport(), words: Sequence[WordBox] = (),
                   matches: Iterable[int] = (), boxes: bool = True,
                   text_layer: bool | None = None) -> list[Strip]:
    """`picture` in `width`×`height` cells (two pixels per cell, one above the other).

    `text_layer` None: on when the picture's letters are too small to read (see module doc).
    """
    if width < 1 or height < 1:
        return []
    left, top, right, bottom = viewport.box(picture.width, picture.height)
    region = picture.crop((left, top, right, bottom))
    scale = min(width / region.width, 2 * height / region.height)
    columns = max(1, min(width, int(region.width * scale)))
    rows = max(1, min(height, int(region.height * scale + 1) // 2))
    shrink = region.width / columns
    small = legible(region, shrink).resize((columns, rows * 2), Image.Resampling.BOX)
    if shrink > 1.5:
        small = ImageOps.autocontrast(small, cutoff=1)
    data = small.tobytes()
    pixel = [(data[i], data[i + 1], data[i + 2]) for i in range(0, len(data), 3)]
    grid = [[_Cell(HALF_BLOCK, pixel[2 * y * columns + x], pixel[(2 * y + 1) * columns + x])
             for x in range(columns)] for y in range(rows)]
    show_text = (scale < TEXT_LAYER_BELOW) if text_layer is None else text_layer
    hits = set(matches)
    for index, word in enumerate(words):
        _mark_word(grid, word, index in hits, (left, top), scale, boxes, show_text)
    pad = (width - columns) // 2
    return [_strip(row, pad, width) for row in grid]


def _mark_word(grid: list[list[_Cell]], word: WordBox, hit: bool, origin: tuple[int, int],
               scale: float, boxes: bool, show_text: bool) -> None:
    """Tint the cells under `word` (boxes, matches) and write its letters (text layer)."""
    rows, columns = len(grid), len(grid[0]) if grid else 0
    x0 = int((word.left - origin[0]) * scale)
    x1 = max(x0 + 1, int((word.left + word.width - origin[0]) * scale + 0.5))
    y0 = int((word.top - origin[1]) * scale / 2)
    y1 = max(y0 + 1, int((word.top + word.height - origin[1]) * scale / 2 + 0.5))
    if x1 <= 0 or y1 <= 0 or x0 >= columns or y0 >= rows:
        return  # outside the zoomed region
    if hit or boxes:
        tint, amount = (MATCH_TINT, 0.75) if hit else (WORD_TINT, 0.35)
        for y in range(max(0, y0), min(rows, y1)):
            for x in range(max(0, x0), min(columns, x1)):
                cell = grid[y][x]
                cell.fg, cell.bg = _blend(cell.fg, tint, amount), _blend(cell.bg, tint, amount)
    if not show_text:
        return
    y = min(rows - 1, max(0, (y0 + y1 - 1) // 2))
    for offset, char in enumerate(word.text):
        x = max(0, x0) + offset
        if x >= columns:
            break
        cell = grid[y][x]
        cell.char, cell.bold = char, True
        cell.fg = (0, 0, 0) if hit else (255, 255, 255)
        cell.bg = MATCH_TINT if hit else _blend(cell.bg, (0, 0, 0), 0.6)


def _strip(row: list[_Cell], pad: int, width: int) -> Strip:
    styles: dict[tuple[RGB, RGB, bool], Style] = {}
    segments = [Segment(" " * pad)] if pad else []
    text, style = "", None
    for cell in row:
        key = (cell.fg, cell.bg, cell.bold)
        cell_style = styles.get(key)
        if cell_style is None:
            cell_style = styles[key] = Style(color=Color.from_rgb(*cell.fg),
                                             bgcolor=Color.from_rgb(*cell.bg), bold=cell.bold)
        if cell_style is not style and text:
            segments.append(Segment(text, style))
            text = ""
        text, style = text + cell.char, cell_style
    if text:
        segments.append(Segment(text, style))
    return Strip(segments).adjust_cell_length(width)


def halfblock_strips(image: Image.Image, width: int, height: int) -> list[Strip]:
    """The whole picture fitted to `width`×`height` cells, nothing drawn over it."""
    return render_picture(image, width, height, text_layer=False, boxes=False)
