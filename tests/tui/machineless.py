"""The app over a test script with no machines, for Pilot tests of the debugger's panes:
only the debugger and the widgets are under test, so nothing boots."""

from __future__ import annotations

import os
from pathlib import Path

from nixtest_tui.app import NixtestApp
from nixtest_tui.driver.config import DriverConfiguration
from nixtest_tui.session import Session

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def screenshot_dir(tmp_path: Path) -> Path:
    """The README's screens are regenerated with NIXTEST_SAVE_SCREENSHOTS=1; other runs keep
    the checkout clean and still render the SVG."""
    return SCREENSHOTS if os.environ.get("NIXTEST_SAVE_SCREENSHOTS") else tmp_path


def machineless_app(tmp_path: Path, script: str) -> NixtestApp:
    path = tmp_path / "test-script"
    path.write_text(script)
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    config = DriverConfiguration(vms={}, test_script=path)
    return NixtestApp(Session(config, tmp_path, tmp_dir=runtime))
