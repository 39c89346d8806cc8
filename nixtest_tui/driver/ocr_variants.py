"""Upstream's two preprocessed OCR variants, rebuilt from Pillow operations (spec §6.8).

Upstream runs ImageMagick on every screenshot, all options before the input file:
`convert -filter Catrom -density 72 -resample 300 -contrast -normalize -despeckle -type grayscale
-sharpen 1 -posterize 3 [-negate] -gamma 100 -blur 1x65535 <ppm> <out>.png`. We must not need
ImageMagick, but tests written against upstream only pass if tesseract sees (nearly) the same
pictures, so each step below reproduces what ImageMagick 6 does with exactly that command line,
as measured against Debian's `convert` (bench/screens.py prints the pixel agreement):

* Placed before the input, `-type grayscale` is a setting for the writer, which the PNG coder
  ignores: the chain runs on each colour channel and tesseract gets a colour picture. On grey
  screens (most consoles) that is the same as one grey channel, which is then all we compute.
* `-resample 300` from 72 dpi: a Catmull-Rom resize by 300/72, which is Pillow's BICUBIC.
* `-contrast`: raises HSB brightness b by `(0.5 * (sin(pi * (b - 0.5)) + 1) - b) / 2`, keeping
  hue and saturation, i.e. scales the pixel by f(b)/b.
* `-normalize`: ImageMagick 6 stretches 0.15 % black / 0.05 % white, on one histogram of the
  Rec. 709 luma, applied to all channels alike.
* `-despeckle`: Crimmins' speckle removal (below), per channel.
* `-sharpen 1`: a 3x3 kernel, 2x the Gaussian sum in the centre minus a Gaussian (sigma 1)
  around it, normalised; edge pixels see replicated neighbours.
* `-posterize 3`, `-negate`, `-gamma 100`: point operations, folded into one table; the result
  is black where the posterized value is 0 and (almost) white elsewhere.
* `-blur 1x65535`: radius 1 with a huge sigma is a flat 3x3 average, Pillow's BoxBlur(1).

Everything runs in 8 bits where ImageMagick uses 16, so single levels differ now and then, and
a pixel near a posterize threshold can land on the other side (99.95 % or more of the pixels
agree on the console screens of bench/screens.py). The work can be abandoned between steps
through `check`, because the caller stops caring as soon as another variant has matched.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PIL import Image, ImageChops, ImageFilter, ImageMath

SCALE = 300 / 72
REC709 = (0.212656, 0.715158, 0.072186, 0.0)  # ImageMagick 6 intensity
_TILE = 512
_MARGIN = 40  # 16 hulls, each moving a change at most 2 pixels: 32, rounded up


class Abandoned(Exception):
    """Raised between steps once the caller no longer wants the result."""


def _contrast_ratio() -> list[float]:
    table = [0.0]
    for level in range(1, 256):
        b = level / 255
        lifted = b + 0.5 * (0.5 * (math.sin(math.pi * (b - 0.5)) + 1.0) - b)
        table.append(min(1.0, max(0.0, lifted)) / b)
    return table


_CONTRAST = _contrast_ratio()
_AT_LEAST_2 = [1 if d >= 2 else 0 for d in range(256)]
_AT_LEAST_1 = [1 if d >= 1 else 0 for d in range(256)]
# posterize 3 keeps 0 below a quarter of the range; gamma 100 then lifts every other level
# to 253 or 255; negate swaps which side ends up black.
_POSITIVE = [0 if level * 2 / 255 < 0.5 else (253 if level * 2 / 255 < 1.5 else 255)
             for level in range(256)]
_NEGATIVE = [0 if level * 2 / 255 >= 1.5 else (253 if level * 2 / 255 >= 0.5 else 255)
             for level in range(256)]


def _sharpen_kernel() -> list[float]:
    def gauss(u: int, v: int) -> float:
        return math.exp(-(u * u + v * v) / 2.0) / (2.0 * math.pi)

    weights = [-gauss(u, v) for v in (-1, 0, 1) for u in (-1, 0, 1)]
    weights[4] = -2.0 * sum(weights)
    total = sum(weights)
    return [w / total for w in weights]


_SHARPEN = ImageFilter.Kernel((3, 3), _sharpen_kernel(), scale=1)


def resample(image: Image.Image) -> Image.Image:
    size = (int(image.width * SCALE + 0.5), int(image.height * SCALE + 0.5))
    return image.convert("RGB").resize(size, Image.Resampling.BICUBIC)


def contrast(image: Image.Image) -> Image.Image:
    red, green, blue = image.split()
    if _same(red, green) and _same(red, blue):  # grey screens: one table does it
        table = [round(level * _CONTRAST[level]) for level in range(256)]
        return image.point(table * 3)
    value = ImageChops.lighter(red, ImageChops.lighter(green, blue))
    ratio = value.point(_CONTRAST, "F")
    # float products, rounded (Pillow truncates when it converts F to L)
    bands = [_scaled(band, ratio) for band in (red, green, blue)]
    return Image.merge("RGB", [band.convert("L") for band in bands])


def _scaled(band: Image.Image, ratio: Image.Image) -> Image.Image:
    if hasattr(ImageMath, "lambda_eval"):  # Pillow 10.3 and later
        result = ImageMath.lambda_eval(lambda env: env["c"] * env["k"] + 0.5, c=band, k=ratio)
    else:  # older Pillow, which pyproject.toml still admits
        result = getattr(ImageMath, "eval")("c * k + 0.5", c=band, k=ratio)  # noqa: B009
    assert isinstance(result, Image.Image)
    return result


def _same(a: Image.Image, b: Image.Image) -> bool:
    return ImageChops.difference(a, b).getbbox() is None


def normalize(image: Image.Image) -> Image.Image:
    histogram = image.convert("L", matrix=REC709).histogram()
    total = image.width * image.height
    black = _first_level(histogram, 0.0015 * total)
    white = 255 - _first_level(histogram[::-1], 0.0005 * total)
    if white <= black:
        return image
    table = [0 if level <= black else 255 if level >= white
             else round((level - black) * 255 / (white - black)) for level in range(256)]
    return image.point(table * 3)


def _first_level(histogram: list[int], beyond: float) -> int:
    seen = 0
    for level, count in enumerate(histogram):
        seen += count
        if seen > beyond:
            return level
    return len(histogram) - 1


# -- despeckle ----------------------------------------------------------------------------------


def _shifted(image: Image.Image, dx: int, dy: int) -> Image.Image:
    """Pixel (x, y) holds image(x + dx, y + dy); outside the picture counts as black."""
    width, height = image.size
    out = Image.new("L", image.size, 0)
    box = (max(dx, 0), max(dy, 0), width + min(dx, 0), height + min(dy, 0))
    out.paste(image.crop(box), (max(-dx, 0), max(-dy, 0)))
    return out


def _hull(image: Image.Image, dx: int, dy: int, lighten: bool) -> Image.Image:
    """One Crimmins step: nudge pixels one level towards a neighbour two or more levels away,
    then nudge again where the pixel sits between a far and a higher (lower) neighbour."""
    ahead = _shifted(image, dx, dy)
    if lighten:
        step = ImageChops.add(image, ImageChops.subtract(ahead, image).point(_AT_LEAST_2))
    else:
        step = ImageChops.subtract(image, ImageChops.subtract(image, ahead).point(_AT_LEAST_2))
    ahead, behind = _shifted(step, dx, dy), _shifted(step, -dx, -dy)
    if lighten:
        mask = ImageChops.darker(ImageChops.subtract(behind, step).point(_AT_LEAST_2),
                                 ImageChops.subtract(ahead, step).point(_AT_LEAST_1))
        return ImageChops.add(step, mask)
    mask = ImageChops.darker(ImageChops.subtract(step, behind).point(_AT_LEAST_2),
                             ImageChops.subtract(step, ahead).point(_AT_LEAST_1))
    return ImageChops.subtract(step, mask)


def _crimmins(band: Image.Image) -> Image.Image:
    for dx, dy in ((0, 1), (1, 0), (1, 1), (-1, 1)):
        band = _hull(band, dx, dy, True)
        band = _hull(band, -dx, -dy, True)
        band = _hull(band, -dx, -dy, False)
        band = _hull(band, dx, dy, False)
    return band


def _despeckle_band(band: Image.Image, check: Callable[[], None]) -> Image.Image:
    """Crimmins on the tiles that can change: a flat tile stays as it is, except at the picture's
    edge, where the black outside pulls levels above 1 down."""
    width, height = band.size
    out = band.copy()
    for top in range(0, height, _TILE):
        check()
        for left in range(0, width, _TILE):
            box = (max(left - _MARGIN, 0), max(top - _MARGIN, 0),
                   min(left + _TILE + _MARGIN, width), min(top + _TILE + _MARGIN, height))
            region = band.crop(box)
            extrema = region.getextrema()
            assert isinstance(extrema[0], int | float)
            low, high = extrema[0], extrema[1]
            at_edge = box[0] == 0 or box[1] == 0 or box[2] == width or box[3] == height
            if low == high and (not at_edge or high <= 1):
                continue
            done = _crimmins(region)
            inner = (left - box[0], top - box[1],
                     min(left + _TILE, width) - box[0], min(top + _TILE, height) - box[1])
            out.paste(done.crop(inner), (left, top))
    return out


def _bands(image: Image.Image) -> list[Image.Image]:
    """One band for a grey picture, three for a colour one."""
    red, green, blue = image.split()
    return [red] if _same(red, green) and _same(red, blue) else [red, green, blue]


def _merged(bands: list[Image.Image]) -> Image.Image:
    return bands[0] if len(bands) == 1 else Image.merge("RGB", bands)


def despeckle(image: Image.Image, check: Callable[[], None] = lambda: None) -> Image.Image:
    """Crimmins per channel; a grey picture comes back as one band ("L")."""
    return _merged([_despeckle_band(band, check) for band in _bands(image)])


# -- the rest -------------------------------------------------------------------------------------


def _sharpen_band(band: Image.Image) -> Image.Image:
    """The 3x3 kernel on a copy framed by its own edge pixels (Pillow leaves the border as is)."""
    width, height = band.size
    framed = Image.new("L", (width + 2, height + 2))
    framed.paste(band, (1, 1))
    framed.paste(band.crop((0, 0, width, 1)), (1, 0))
    framed.paste(band.crop((0, height - 1, width, height)), (1, height + 1))
    framed.paste(framed.crop((1, 0, 2, height + 2)), (0, 0))
    framed.paste(framed.crop((width, 0, width + 1, height + 2)), (width + 1, 0))
    return framed.filter(_SHARPEN).crop((1, 1, width + 1, height + 1))


def sharpen(image: Image.Image) -> Image.Image:
    return _merged([_sharpen_band(band) for band in image.split()])


def sharpened(image: Image.Image, check: Callable[[], None] = lambda: None) -> Image.Image:
    """The part both variants share: everything up to and including `-sharpen 1`."""
    steps: list[Callable[[Image.Image], Image.Image]] = [
        resample, contrast, normalize, lambda im: despeckle(im, check), sharpen,
    ]
    for step in steps:
        check()
        image = step(image)
    return image


def finish(image: Image.Image, negative: bool) -> Image.Image:
    table = _NEGATIVE if negative else _POSITIVE
    return image.point(table * len(image.getbands())).filter(ImageFilter.BoxBlur(1))


def variants(image: Image.Image, check: Callable[[], None] = lambda: None
             ) -> tuple[Image.Image, Image.Image]:
    """(positive, negative) as upstream's two ImageMagick calls would write them: "L" for a
    grey screen, "RGB" for a colourful one."""
    shared = sharpened(image, check)
    check()
    return finish(shared, False), finish(shared, True)
