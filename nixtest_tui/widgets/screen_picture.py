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

from PIL import Image, ImageDraw, ImageFilter, ImageOps, ImageStat
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from nixtest_tui.driver.ocr import WordBox

HALF_BLOCK = "▀"
ZOOMS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
TEXT_LAYER_BELOW = 0.5  # cells per pixel across under which the text layer is on by default

RGB = tuple[int, int, int]
WORD_TINT: RGB = (60, 130, 255)
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


def legible(picture: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`picture` scaled down to `size` with its thin strokes kept.

    A plain average turns a 1-pixel stroke in a 6-pixel cell into a faint smudge. Instead:
    average to twice the size, widen strokes there (a max filter for light text on a dark
    screen, a min filter for dark on light: 3 pixels at half the cost of doing it at full
    size), then average the last factor of two and stretch the contrast.
    """
    rgb = picture.convert("RGB")
    shrink = rgb.width / size[0]
    if shrink < 3:
        small = rgb.resize(size, Image.Resampling.BOX)
        return ImageOps.autocontrast(small, cutoff=1) if shrink > 1.5 else small
    middle = rgb.resize((size[0] * 2, size[1] * 2), Image.Resampling.BOX)
    dark_screen = ImageStat.Stat(middle.convert("L")).mean[0] < 128
    widen = ImageFilter.MaxFilter(3) if dark_screen else ImageFilter.MinFilter(3)
    small = middle.filter(widen).resize(size, Image.Resampling.BOX)
    return ImageOps.autocontrast(small, cutoff=1)


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
    small = legible(region, (columns, rows * 2))
    hits = set(matches)
    places = [_place(word, (left, top), scale) for word in words]
    for index, box in enumerate(places):
        if index in hits:
            _highlight(small, box)
        elif boxes:
            _outline(small, box)
    data = small.tobytes()
    pixel = [(data[i], data[i + 1], data[i + 2]) for i in range(0, len(data), 3)]
    grid = [[_Cell(HALF_BLOCK, pixel[2 * y * columns + x], pixel[(2 * y + 1) * columns + x])
             for x in range(columns)] for y in range(rows)]
    if (scale < TEXT_LAYER_BELOW) if text_layer is None else text_layer:
        free: dict[int, int] = {}  # per cell row: the first column after the last word
        for index, (word, box, row) in enumerate(zip(words, places, text_rows(words, places),
                                                     strict=True)):
            _write_word(grid, word.text, box[0], row, index in hits, free)
    pad = (width - columns) // 2
    return [_strip(row, pad, width) for row in grid]


Box = tuple[int, int, int, int]


def _place(word: WordBox, origin: tuple[int, int], scale: float) -> Box:
    """`word`'s box in the small picture's pixels (inclusive corners)."""
    x0, y0 = int((word.left - origin[0]) * scale), int((word.top - origin[1]) * scale)
    x1 = max(x0, int((word.left + word.width - origin[0]) * scale + 0.5) - 1)
    y1 = max(y0, int((word.top + word.height - origin[1]) * scale + 0.5) - 1)
    return x0, y0, x1, y1


def _outline(small: Image.Image, box: Box) -> None:
    """A word's box; a box too small to hold its own outline is underlined instead."""
    x0, y0, x1, y1 = box
    if x1 - x0 >= 3 and y1 - y0 >= 3:
        ImageDraw.Draw(small).rectangle(box, outline=WORD_TINT)
    else:
        ImageDraw.Draw(small).line((x0, y1 + 1, x1, y1 + 1), fill=WORD_TINT)


def _highlight(small: Image.Image, box: Box) -> None:
    """A matched word: dark strokes on yellow, whatever its colours were (like a marker)."""
    x0, y0, x1, y1 = max(box[0], 0), max(box[1], 0), box[2] + 1, box[3] + 1
    if x1 <= x0 or y1 <= y0 or x0 >= small.width or y0 >= small.height:
        return
    area = small.crop((x0, y0, x1, y1)).convert("L")
    if ImageStat.Stat(area).mean[0] < 128:  # light strokes on dark: strokes become the ink
        area = ImageOps.invert(area)
    small.paste(Image.composite(Image.new("RGB", area.size, MATCH_TINT),
                                Image.new("RGB", area.size, (0, 0, 0)),
                                area.point(lambda v: 255 if v > 110 else 0)), (x0, y0))


def text_rows(words: Sequence[WordBox], places: Sequence[Box]) -> list[int]:
    """The cell row of each word's letters: the middle of its box, but one line of text per
    row at least, so that two lines squeezed into one row by the scale stay apart.

    Words come in reading order (tesseract's); a word below the middle of the one before
    starts a new line.
    """
    rows: list[int] = []
    for index, (word, box) in enumerate(zip(words, places, strict=True)):
        natural = (box[1] + box[3]) // 4  # pixel rows to cell rows: two per cell
        if index == 0:
            rows.append(natural)
            continue
        before = words[index - 1]
        new_line = word.top > before.top + before.height / 2
        rows.append(max(natural, rows[-1] + 1) if new_line else rows[-1])
    return rows


def _write_word(grid: list[list[_Cell]], text: str, x: int, y: int, hit: bool,
                free: dict[int, int]) -> None:
    """The text layer: `text` as letters from column `x` of cell row `y`.

    A word's letters can be wider than its box (a cell is wider than a glyph when the
    picture is scaled down): it then starts one space after the word before it on the row.
    """
    rows, columns = len(grid), len(grid[0]) if grid else 0
    if not 0 <= y < rows:
        return
    start = max(0, x, free.get(y, 0))
    free[y] = start + len(text) + 1
    for offset, char in enumerate(text):
        column = start + offset
        if column >= columns:
            break
        cell = grid[y][column]
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
