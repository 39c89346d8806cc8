"""The screen picture on the whole terminal (`enter` or `f` on the picture; Escape closes).

In the screen tab the picture shares the lower part of the window with the OCR text; on a
200×50 terminal that leaves it about 150×20 cells. Here it gets every cell, with the same
zoom, layers and keys.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

from nixtest_tui.widgets.screen_image import ScreenImage


class ScreenViewer(ModalScreen[None]):
    DEFAULT_CSS = """
    ScreenViewer { background: $background; }
    ScreenViewer > #viewer-status { height: 1; padding: 0 1; color: $text-muted; }
    ScreenViewer > ScreenImage { height: 1fr; width: 1fr; }
    """
    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, title: str, source: ScreenImage) -> None:
        super().__init__()
        self.title_text = title
        self.source = source

    def compose(self) -> ComposeResult:
        yield Static("", id="viewer-status")
        yield ScreenImage(id="viewer-image")

    def on_mount(self) -> None:
        image = self.query_one(ScreenImage)
        image.copy_view(self.source)
        image.focus()
        self._status()

    def on_screen_image_view_changed(self) -> None:
        self._status()

    def on_screen_image_full_size(self, event: ScreenImage.FullSize) -> None:
        event.stop()  # already on the whole terminal

    def _status(self) -> None:
        view = self.query_one(ScreenImage).describe_view()
        self.query_one("#viewer-status", Static).update(
            f"{self.title_text} · {view} · +/- zoom, arrows move, t text, w boxes, "
            "escape closes")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
