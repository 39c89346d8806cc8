"""`screenshot()` never leaves a file that is not a picture (a CI run on a full disk did)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from nixtest_tui.driver.errors import MachineError, QMPAPIError
from nixtest_tui.driver.events import EventBus
from nixtest_tui.driver.screen import Screens


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "navy").save(out, "PNG")
    return out.getvalue()


class FakeQmp:
    """A QMP peer whose `screendump` writes `written` bytes of a PNG, then maybe fails."""

    def __init__(self, written: int, error: str | None) -> None:
        self.written = written
        self.error = error

    def send(self, command: str, arguments: dict[str, Any]) -> dict[str, Any]:
        assert command == "screendump" and arguments["format"] == "png"
        Path(arguments["filename"]).write_bytes(png_bytes()[:self.written])
        if self.error is not None:
            raise QMPAPIError("GenericError", self.error)
        return {}


class FakeHost:
    name = "alice"
    logger = None
    monitor = None

    def __init__(self, tmp_path: Path, qmp: FakeQmp) -> None:
        self.bus = EventBus()
        self.state_dir = tmp_path / "state"
        self.out_dir = tmp_path / "out"
        self.out_dir.mkdir()
        self.qmp_client = qmp

    def log(self, msg: str) -> None:
        pass

    def nested(self, msg: str, attrs: dict[str, str] | None = None) -> Any:
        return contextlib.nullcontext()


@pytest.mark.parametrize(("written", "error"), [
    (0, "failed to write: No space left on device"),
    (40, "failed to write: No space left on device"),
    (40, None),  # QEMU said nothing, the file is cut short all the same
])
def test_a_failed_screenshot_leaves_no_file(tmp_path: Path, written: int,
                                            error: str | None) -> None:
    host = FakeHost(tmp_path, FakeQmp(written, error))
    with pytest.raises(MachineError) as failure:
        Screens(host).save("cut-short")  # type: ignore[arg-type]
    assert list(host.out_dir.iterdir()) == []
    assert (error or "unreadable") in str(failure.value)


def test_an_older_screenshot_survives_a_dump_that_never_opened_it(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, FakeQmp(0, None))
    old = host.out_dir / "kept.png"
    old.write_bytes(png_bytes())

    class Refusing(FakeQmp):
        def send(self, command: str, arguments: dict[str, Any]) -> dict[str, Any]:
            raise QMPAPIError("GenericError", "failed to open file: Permission denied")

    host.qmp_client = Refusing(0, None)
    with pytest.raises(MachineError, match="Permission denied"):
        Screens(host).save("kept")  # type: ignore[arg-type]
    assert old.read_bytes() == png_bytes()


def test_a_whole_screenshot_is_kept_and_reported(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, FakeQmp(len(png_bytes()), None))
    path = Screens(host).save("whole")  # type: ignore[arg-type]
    assert path == host.out_dir / "whole.png"
    with Image.open(path) as picture:
        assert picture.size == (64, 48)
