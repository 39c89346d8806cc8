"""`--trace-screens`: a frame only when the screen shows something new, blinking included."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from nixtest_tui.driver.base import BaseMachine
from nixtest_tui.driver.events import EventBus
from nixtest_tui.driver.screen import Screenshot
from nixtest_tui.headless.filmstrip import FilmStrip
from nixtest_tui.headless.trace import TraceWriter


class Named:
    def __init__(self, name: str) -> None:
        self.name = name


def test_unchanged_and_blinking_screens_are_skipped(tmp_path: Path) -> None:
    screens = {"a": iter("ABABABCA"), "b": iter("XXXXXXXX")}
    colours = {"A": "red", "B": "blue", "C": "green", "X": "white"}

    def grab(machine: BaseMachine) -> Screenshot | None:
        digest = next(screens[machine.name])
        image = Image.new("RGB", (64, 48), colours[digest])
        return Screenshot(digest, image, tmp_path / "unused.ppm")

    writer = TraceWriter(EventBus(), tmp_path / "trace.jsonl", tmp_path)
    machines: list[BaseMachine] = [Named("a"), Named("b")]  # type: ignore[list-item]
    strip = FilmStrip(writer, lambda: machines, every=60, grab=grab)
    for _ in range(8):
        strip.take_round()
    writer.close()
    frames = [r for r in map(json.loads, (tmp_path / "trace.jsonl").read_text().splitlines())
              if r["type"] == "FilmFrame"]
    assert [(r["machine"], r["digest"]) for r in frames] == [
        ("a", "A"), ("b", "X"), ("a", "B"), ("a", "C")]
    for record in frames:
        assert record["path"].startswith("trace-screens/")
        with Image.open(tmp_path / record["path"]) as image:
            assert image.size == (64, 48) == (record["width"], record["height"])
    assert strip.frames == 4
