"""The screen picture on the whole terminal (`enter` or `f` on the picture; Escape closes).

In the screen tab the picture shares the lower part of the window with the OCR text; on a
200×50 terminal that leaves it about 110×22 cells. Here it gets every cell, with the same
zoom, layers and keys. Where the terminal speaks a graphics protocol (sixel, kitty's; see
`screen_pixels.py`) the picture is shown with real pixels, boxes and matches painted in; the
half-block `ScreenImage` then stays hidden and keeps the view (zoom, region, layers), which
the keys here change.
"""

from __future__ import annotations

from PIL import Image
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

from nixtest_tui.widgets import screen_pixels
from nixtest_tui.widgets.screen_image import ScreenImage


class ScreenViewer(ModalScreen[None]):
    DEFAULT_CSS = """
    ScreenViewer { background: $background; }
    ScreenViewer > #viewer-status { height: 1; padding: 0 1; color: $text-muted; }
    ScreenViewer > ScreenImage { height: 1fr; width: 1fr; }
    ScreenViewer > #viewer-pixels { height: 1fr; width: auto; }
    ScreenViewer.-pixels > ScreenImage { display: none; }
    """
    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        # the picture's own keys, for when it is drawn with pixels (the cells have no focus)
        Binding("plus,equals_sign", "view('zoom', 1)", "Zoom in", show=False),
        Binding("minus", "view('zoom', -1)", "Zoom out", show=False),
        Binding("0", "view('fit')", "Whole screen", show=False),
        Binding("left,h", "view('pan', -1, 0)", "Pan", show=False),
        Binding("right,l", "view('pan', 1, 0)", "Pan", show=False),
        Binding("up,k", "view('pan', 0, -1)", "Pan", show=False),
        Binding("down,j", "view('pan', 0, 1)", "Pan", show=False),
        Binding("w", "view('boxes')", "Word boxes", show=False),
    ]

    def __init__(self, title: str, source: ScreenImage) -> None:
        super().__init__()
        self.title_text = title
        self.source = source
        self.protocol = screen_pixels.protocol() if source.image is not None else None
        """"sixel" or "kitty" when the picture is shown with real pixels."""

    def compose(self) -> ComposeResult:
        yield Static("", id="viewer-status")
        yield ScreenImage(id="viewer-image")
        if self.protocol is not None and self.source.image is not None:
            yield screen_pixels.pixel_widget(self._painted(self.source), "viewer-pixels")

    def on_mount(self) -> None:
        image = self.query_one(ScreenImage)
        image.copy_view(self.source)
        if self.protocol is not None:
            self.add_class("-pixels")
        else:
            image.focus()
        self._status()

    def action_view(self, action: str, *arguments: int) -> None:
        getattr(self.query_one(ScreenImage), f"action_{action}")(*arguments)

    def on_screen_image_view_changed(self) -> None:
        if self.protocol is not None and self.is_mounted:
            pixels = self.query_one("#viewer-pixels")
            pixels.image = self._painted(self.query_one(ScreenImage))  # type: ignore[attr-defined]
        self._status()

    def on_screen_image_full_size(self, event: ScreenImage.FullSize) -> None:
        event.stop()  # already on the whole terminal

    @staticmethod
    def _painted(image: ScreenImage) -> Image.Image:
        assert image.image is not None
        return screen_pixels.painted(image.image, image.viewport, image.words, image.matches,
                                     image.boxes)

    def _status(self) -> None:
        view = self.query_one(ScreenImage).describe_view()
        how = f"{self.protocol} pixels" if self.protocol else "half blocks, t text"
        self.query_one("#viewer-status", Static).update(
            f"{self.title_text} · {view} · {how} · +/- zoom, arrows move, w boxes, "
            "escape closes")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
