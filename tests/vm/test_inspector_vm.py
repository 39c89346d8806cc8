"""The screen tab against a real tiny guest: the picture, its OCR text and the regex check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import NetworkFactory, tui_session, until
from PIL import Image
from textual.widgets import Input, TabbedContent

from nixtest_tui.app import NixtestApp
from nixtest_tui.widgets.inspector import HALF_BLOCK, ScreenImage, ScreenInspector, halfblock_strips
from nixtest_tui.widgets.screen_viewer import ScreenViewer

TTY_TEXT = r"tiny\s+test|login"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def test_halfblocks_keep_upper_and_lower_pixels_apart() -> None:
    image = Image.new("RGB", (4, 2), (255, 0, 0))
    image.paste((0, 0, 255), (0, 1, 4, 2))  # lower row blue
    [strip] = halfblock_strips(image, 4, 1)
    [segment] = [s for s in strip if s.text.strip()]
    assert segment.text == HALF_BLOCK * 4 and segment.style is not None
    assert segment.style.color is not None and segment.style.bgcolor is not None
    assert segment.style.color.triplet == (255, 0, 0)
    assert segment.style.bgcolor.triplet == (0, 0, 255)


@pytest.mark.vm
async def test_screen_tab_shows_the_screen_its_text_and_regex_verdicts(
        network: NetworkFactory, tmp_path: Path) -> None:
    config = network("screen", script='screen.succeed("true")\n')
    app = NixtestApp(tui_session(config, tmp_path))
    async with app.run_test(size=(200, 50)) as pilot:
        await until(lambda: app.sub_title.startswith("idle"))
        await pilot.press("f5")
        await until(lambda: app.sub_title == "finished")
        app.query_one(TabbedContent).active = "pane-screen"
        inspector = app.query_one(ScreenInspector)
        image = inspector.query_one(ScreenImage)
        image.focus()
        await pilot.press("r")
        await until(lambda: image.image is not None)
        await pilot.pause()
        assert any(HALF_BLOCK in strip.text for strip in image.strips())

        def raw_text() -> str:
            result = inspector.results.get("raw")
            return "" if result is None else result.text

        # the issue line can come a moment after the backdoor: refresh until OCR sees it
        await until(lambda: "tiny test" in raw_text() or "login" in raw_text(),
                    between=inspector.action_refresh_screen)
        def all_read() -> bool:  # the auto-refresh may bring a new picture (cursor blink)
            return len(inspector.results) == 3 and not inspector.stale

        await until(all_read)
        assert all(r.seconds > 0 for r in inspector.results.values())

        regex = inspector.query_one("#inspector-regex", Input)
        regex.focus()
        await pilot.press(*TTY_TEXT)
        assert inspector.verdicts["raw"] is True
        assert set(inspector.verdicts) == {"raw", "positive", "negative"}
        await until(all_read)
        # the words the regex matches are marked on the picture, and their letters written
        await until(lambda: bool(image.matches))
        drawn = "\n".join(strip.text for strip in image.strips())
        assert any(image.words[i].text in drawn for i in image.matches)
        folder = SCREENSHOTS if os.environ.get("NIXTEST_SAVE_SCREENSHOTS") else tmp_path
        image.focus()
        await pilot.pause()
        app.save_screenshot("screen-pane.svg", str(folder))
        await pilot.press("plus", "plus")
        assert image.viewport.zoom == 2.0
        assert "zoom 2×" in str(inspector.query_one("#inspector-status").render())
        await pilot.press("0", "enter")
        assert isinstance(app.screen, ScreenViewer)
        assert app.screen.query_one(ScreenImage).matches == image.matches
        await pilot.press("escape")
        assert not isinstance(app.screen, ScreenViewer)
        regex.focus()
        await until(all_read)  # the auto-refresh may have brought a new picture meanwhile
        regex.value = "no such text anywhere"
        await pilot.pause()
        assert list(inspector.verdicts.values()) == [False, False, False]
        assert image.matches == set()
        assert "no match" in str(inspector.query_one("#inspector-verdicts").render())
        regex.value = "(unclosed"
        await pilot.pause()
        assert "bad regex" in str(inspector.query_one("#inspector-verdicts").render())

        save = inspector.query_one("#inspector-save", Input)
        save.focus()
        await pilot.press(*"from-tui", "enter")
        await until(lambda: (tmp_path / "from-tui.png").exists())
        image.focus()
        await pilot.press("q")
