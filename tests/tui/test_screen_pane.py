"""The screen picture widget with a recorded screen (tests/data/screen): keys, the
whole-terminal viewer, and a snapshot at 200×50 (where the old rendering was a black block)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from PIL import Image
from textual.app import App, ComposeResult
from textual.widgets import Static

from nixtest_tui.driver.ocr import WordBox
from nixtest_tui.widgets.screen_image import ScreenImage
from nixtest_tui.widgets.screen_picture import HALF_BLOCK
from nixtest_tui.widgets.screen_viewer import ScreenViewer

DATA = Path(__file__).resolve().parents[1] / "data" / "screen"
WORDS = tuple(WordBox(**word) for word in
              json.loads((DATA / "tiny-login.words.json").read_text())["words"])


class PictureApp(App[None]):
    """A screen picture with a status line, as the screen tab has them."""

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        yield ScreenImage()

    def on_mount(self) -> None:
        image = self.query_one(ScreenImage)
        image.show(Image.open(DATA / "tiny-login.png").convert("RGB"))
        image.show_words(WORDS, re.compile(r"tiny\s+test"))

    def on_screen_image_view_changed(self) -> None:
        self.query_one("#status", Static).update(self.query_one(ScreenImage).describe_view())

    def on_screen_image_full_size(self, event: ScreenImage.FullSize) -> None:
        self.push_screen(ScreenViewer("tiny-login", event.image))


def screen_text(image: ScreenImage) -> str:
    return "\n".join(strip.text for strip in image.strips()).replace(HALF_BLOCK, " ")


async def test_keys_zoom_pan_layers_and_the_whole_terminal_viewer() -> None:
    app = PictureApp()
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("tab")  # the picture is the only thing that takes focus
        image = app.query_one(ScreenImage)
        assert app.focused is image
        assert "Welcome to the tiny test guest server" in screen_text(image)
        assert image.matches == {3, 4}

        await pilot.press("plus")
        assert image.viewport.zoom == 1.5
        assert "zoom 1.5×" in str(app.query_one("#status", Static).render())
        await pilot.press("plus", "plus", "plus", "plus", "plus")
        assert image.viewport.zoom == 8.0
        assert "Welcome" not in screen_text(image)  # big enough: the picture's own letters
        await pilot.press("t")  # auto → on
        assert image.text_layer is True and "Welcome" in screen_text(image)
        await pilot.press("t", "t")  # → off → auto
        assert image.text_layer is None
        await pilot.press("right", "right", "l", "down", "j")
        assert image.viewport.centre_x > 0.1 and image.viewport.centre_y > 0.1
        await pilot.press("0")
        assert image.viewport.zoom == 1.0 and "Welcome" in screen_text(image)

        await pilot.press("w")
        assert image.boxes is False
        await pilot.press("enter")
        assert isinstance(app.screen, ScreenViewer)
        viewer = app.screen.query_one(ScreenImage)
        assert app.focused is viewer
        assert viewer.words == image.words and viewer.boxes is False
        assert "Welcome to the tiny test guest server" in screen_text(viewer)
        await pilot.press("plus")  # the viewer's picture has the same keys
        assert viewer.viewport.zoom == 1.5 and image.viewport.zoom == 1.0
        await pilot.press("enter")  # already on the whole terminal: nothing stacks up
        assert len(app.screen_stack) == 2
        await pilot.press("escape")
        assert not isinstance(app.screen, ScreenViewer) and app.focused is image


async def test_a_new_picture_drops_the_old_words_until_new_ones_come() -> None:
    app = PictureApp()
    async with app.run_test(size=(120, 40)):
        image = app.query_one(ScreenImage)
        image.show(Image.new("RGB", (1280, 800), (0, 0, 0)))
        assert image.words == () and image.matches == set()
        assert "Welcome" not in screen_text(image)


def test_snapshot_of_the_recorded_screen_at_200x50(snap_compare: Any) -> None:
    """The login screen reads as text, `tiny test` marked in yellow."""
    assert snap_compare(PictureApp(), terminal_size=(200, 50))
