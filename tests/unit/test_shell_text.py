"""Guest output shown in the shell tab keeps its colours and loses every other escape."""

from __future__ import annotations

import pytest

from nixtest_tui.widgets.shell import terminal_text


@pytest.mark.parametrize(("raw", "plain"), [
    ("\x1bc\x1b[2J\x1b[1;1HSeaBIOS (version 1.16)", "SeaBIOS (version 1.16)"),  # reset, clear
    ("x\x1b]0;a window title\x07y", "xy"),  # OSC ended by BEL
    ("x\x1b]2;title\x1b\\y", "xy"),  # OSC ended by ST
    ("bell\x07 back\x08space\r", "bell backspace"),
    ("tab\tkept", "tab\tkept"),
    ("lone escape\x1b", "lone escape"),
    ("\x1b7saved\x1b8", "saved"),
])
def test_only_text_is_left(raw: str, plain: str) -> None:
    assert terminal_text(raw).plain == plain


def test_colours_survive() -> None:
    text = terminal_text("plain \x1b[31mred\x1b[0m plain")
    assert text.plain == "plain red plain"
    [span] = text.spans
    assert text.plain[span.start:span.end] == "red"
    assert "red" in str(span.style) or "color(1)" in str(span.style)
