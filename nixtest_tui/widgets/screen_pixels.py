"""Real pixels for the whole-terminal screen viewer, where the terminal has a graphics protocol.

`textual-image` (optional: `pip install 'nixtest-tui[pixels]'`) draws a picture with sixel or
kitty's graphics protocol. Which of them the terminal speaks it learns by asking the terminal
when it is imported, which must happen before Textual takes the terminal over: `run_tui()`
calls `detect()` just before the app starts (never at import time: the headless driver and
the tests must not write queries to a terminal). Without the package, in a terminal that
speaks neither protocol, or with `NIXTEST_PIXELS=0`, `protocol()` is None and the viewer uses
the half-block picture.

The word boxes and regex matches are painted into the pixels here, at the screen's own
resolution (a protocol picture cannot carry cell colours over it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

from PIL import Image, ImageDraw
from textual.widget import Widget

from nixtest_tui.driver.ocr import WordBox
from nixtest_tui.widgets.screen_picture import MATCH_TINT, WORD_TINT, Viewport

_PIXEL_WIDGET: Callable[..., Widget] | None = None
_PROTOCOL: str | None = None


def detect() -> str | None:
    """Ask the terminal (through textual-image) which protocol it speaks; call it once, before
    the app starts. Returns what `protocol()` will say."""
    global _PIXEL_WIDGET, _PROTOCOL
    if os.environ.get("NIXTEST_PIXELS", "1") == "0":
        return None
    try:  # importing it queries the terminal
        from textual_image.renderable import Image as detected
        from textual_image.renderable.sixel import Image as sixel_renderable
        from textual_image.renderable.tgp import Image as kitty_renderable
        from textual_image.widget import SixelImage, TGPImage
    except ImportError:  # the optional package is not installed
        return None
    if detected is sixel_renderable:
        _PROTOCOL, _PIXEL_WIDGET = "sixel", SixelImage
    elif detected is kitty_renderable:
        _PROTOCOL, _PIXEL_WIDGET = "kitty", TGPImage
    return _PROTOCOL


def protocol() -> str | None:
    """"sixel" or "kitty" when the viewer can show real pixels, else None."""
    return _PROTOCOL


def pixel_widget(picture: Image.Image, widget_id: str) -> Widget:
    """A widget that shows `picture` through the terminal's graphics protocol."""
    if _PIXEL_WIDGET is None:
        raise RuntimeError("no graphics protocol: check protocol() first")
    return _PIXEL_WIDGET(picture, id=widget_id)


def painted(picture: Image.Image, viewport: Viewport, words: Sequence[WordBox],
            matches: Iterable[int], boxes: bool) -> Image.Image:
    """The zoomed region of `picture` with word boxes (blue) and matched words (yellow)."""
    left, top, right, bottom = viewport.box(picture.width, picture.height)
    region = picture.convert("RGB").crop((left, top, right, bottom))
    draw = ImageDraw.Draw(region, "RGBA")
    hits = set(matches)
    for index, word in enumerate(words):
        box = (word.left - left, word.top - top, word.left + word.width - left,
               word.top + word.height - top)
        if index in hits:
            draw.rectangle(box, fill=(*MATCH_TINT, 110), outline=MATCH_TINT, width=2)
        elif boxes:
            draw.rectangle(box, outline=WORD_TINT, width=1)
    return region
