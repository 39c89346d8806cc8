"""The screen picture as a widget: zoom and pan keys, the OCR text layer and word boxes.

The cells come from `screen_picture.render_picture`, rebuilt lazily when the picture, the
words, the view or the size changes (not on every `render_line`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from PIL import Image
from rich.segment import Segment
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from nixtest_tui.driver.ocr import WordBox
from nixtest_tui.widgets.screen_picture import Viewport, matched_words, render_picture

PAN_STEP = 0.25  # of the visible width or height per key press


class ScreenImage(Widget, can_focus=True):
    """| Key | Action |
    | --- | --- |
    | `+` / `-` | zoom in / out (up to 8×), `0` whole screen |
    | arrows, `h` `j` `k` `l` | move the zoomed region |
    | `t` | text layer: the OCR words written on the picture (auto, on, off) |
    | `w` | word boxes on or off |
    | `enter`, `f` | the picture on the whole terminal |
    """

    DEFAULT_CSS = """
    ScreenImage { width: 1fr; height: 1fr; }
    ScreenImage:focus { background: $boost; }
    """
    BINDINGS = [
        Binding("plus,equals_sign", "zoom(1)", "Zoom in"),
        Binding("minus", "zoom(-1)", "Zoom out"),
        Binding("0", "fit", "Whole screen", show=False),
        Binding("left,h", "pan(-1, 0)", "Pan", show=False),
        Binding("right,l", "pan(1, 0)", "Pan", show=False),
        Binding("up,k", "pan(0, -1)", "Pan", show=False),
        Binding("down,j", "pan(0, 1)", "Pan", show=False),
        Binding("t", "text_layer", "Text layer"),
        Binding("w", "boxes", "Word boxes"),
        Binding("enter,f", "full_size", "Whole terminal"),
    ]
    TEXT_LAYER_MODES: tuple[bool | None, ...] = (None, True, False)

    class ViewChanged(Message):
        """Zoom, pan or a layer changed: owners update what they say about the view."""

    class FullSize(Message):
        """`enter` or `f`: the owner shows the picture on the whole terminal."""

        def __init__(self, image: ScreenImage) -> None:
            super().__init__()
            self.image = image

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.image: Image.Image | None = None
        self.words: tuple[WordBox, ...] = ()
        self.pattern: re.Pattern[str] | None = None
        self.matches: set[int] = set()
        self.viewport = Viewport()
        self.text_layer: bool | None = None
        """None: on when the picture's own letters are too small to read."""
        self.boxes = True
        self._strips: list[Strip] | None = None

    # -- what is shown (set by the owner) ------------------------------------------------------

    def show(self, image: Image.Image | None) -> None:
        """A new picture; its words are gone until the owner gives the new ones."""
        if image is None or self.image is None or image.size != self.image.size:
            self.viewport = Viewport()
        self.image, self.words, self.matches = image, (), set()
        self._changed()

    def show_words(self, words: Sequence[WordBox], pattern: re.Pattern[str] | None) -> None:
        self.words, self.pattern = tuple(words), pattern
        self.matches = matched_words(self.words, pattern)
        self._changed()

    def copy_view(self, other: ScreenImage) -> None:
        """Show what `other` shows, the way it shows it."""
        self.image, self.words, self.pattern = other.image, other.words, other.pattern
        self.matches, self.viewport = set(other.matches), other.viewport
        self.text_layer, self.boxes = other.text_layer, other.boxes
        self._changed()

    def _changed(self) -> None:
        self._strips = None
        self.refresh()
        self.post_message(self.ViewChanged())

    # -- keys ------------------------------------------------------------------------------------

    def action_zoom(self, step: int) -> None:
        self.viewport = self.viewport.zoomed(step)
        self._changed()

    def action_fit(self) -> None:
        self.viewport = Viewport()
        self._changed()

    def action_pan(self, dx: int, dy: int) -> None:
        self.viewport = self.viewport.panned(dx * PAN_STEP, dy * PAN_STEP)
        self._changed()

    def action_text_layer(self) -> None:
        modes = self.TEXT_LAYER_MODES
        self.text_layer = modes[(modes.index(self.text_layer) + 1) % len(modes)]
        self._changed()

    def action_boxes(self) -> None:
        self.boxes = not self.boxes
        self._changed()

    def action_full_size(self) -> None:
        if self.image is not None:
            self.post_message(self.FullSize(self))

    def describe_view(self) -> str:
        """For the status line: zoom and layers, in words."""
        layer = {None: "auto", True: "on", False: "off"}[self.text_layer]
        return (f"zoom {self.viewport.zoom:g}× · text {layer} · boxes "
                f"{'on' if self.boxes else 'off'} · {len(self.matches)} matched words")

    # -- rendering -------------------------------------------------------------------------------

    def on_resize(self) -> None:
        self._strips = None

    def strips(self) -> list[Strip]:
        if self._strips is None:
            self._strips = [] if self.image is None else render_picture(
                self.image, self.size.width, self.size.height, viewport=self.viewport,
                words=self.words, matches=self.matches, boxes=self.boxes,
                text_layer=self.text_layer)
        return self._strips

    def render_line(self, y: int) -> Strip:
        strips = self.strips()
        if y < len(strips):
            return strips[y]
        if y == 0 and self.image is None:
            return Strip([Segment("no screenshot yet: r takes one")]).adjust_cell_length(
                self.size.width)
        return Strip.blank(self.size.width)
