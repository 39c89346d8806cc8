"""Regenerate the "Debugging a CI failure" screenshots from the recorded demo run
(tests/data/replay/demo-run.tar.xz): the replay viewer as SVG, the HTML report as PNG.

Run: .venv/bin/python screenshots/take_replay.py   (needs Debian's chromium for the PNG)
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from nixtest_tui.replay import open_trace
from nixtest_tui.replay.model import build_run
from nixtest_tui.replay_ui.app import ReplayApp
from nixtest_tui.report import write_report

HERE = Path(__file__).parent
DATA = HERE.parent / "tests" / "data" / "replay" / "demo-run.tar.xz"


async def replay_screens(out: Path) -> None:
    app = ReplayApp(build_run(open_trace(out)))
    async with app.run_test(size=(150, 46)) as pilot:
        while app.shown is None or app.shown.moment.t != app.t:
            await pilot.pause(0.05)
        await pilot.pause(0.5)  # let the panes lay out and the log follow its end
        app.save_screenshot(str(HERE / "replay-failure.svg"))
        await pilot.press("g")
        await pilot.press("ctrl+a", "ctrl+k", *"7.5", "enter")
        await pilot.click("#--content-tab-tab-console-client")
        while app.shown is None or app.shown.moment.t != 7.5 or "client" not in \
                app.shown.consoles:
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        app.save_screenshot(str(HERE / "replay-console.svg"))


def report_png(out: Path) -> None:
    report = out / "report.html"
    write_report(out, report)
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium not installed: report.png not regenerated")
        return
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", f"--user-data-dir={out / 'profile'}",
                    "--window-size=1100,1400", "--hide-scrollbars",
                    f"--screenshot={HERE / 'report.png'}", report.as_uri()],
                   check=True, capture_output=True, timeout=120)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="nixtest-replay-shots-") as scratch:
        out = Path(scratch)
        with tarfile.open(DATA) as archive:
            archive.extractall(out, filter="data")
        asyncio.run(replay_screens(out))
        report_png(out)


if __name__ == "__main__":
    main()
