"""Regenerate the "Hunting a flaky test" screenshot: the live view over six runs that play
back the recorded demo traces in tests/data/flaky (passing runs and runs that lost a ping).

Run: .venv/bin/python screenshots/take_flaky.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from nixtest_tui.flaky.launch import RunSlot
from nixtest_tui.flaky.runner import Hunter
from nixtest_tui.flaky_ui.app import FlakyApp

HERE = Path(__file__).parent
DATA = HERE.parent / "tests" / "data" / "flaky"
PLAYBACK = ("import gzip, pathlib, sys; pathlib.Path('nixtest-trace.jsonl').write_bytes("
            "gzip.decompress(pathlib.Path(sys.argv[1]).read_bytes())); sys.exit(int(sys.argv[2]))")
PLAN = ["pass-a", "fail-ping", "pass-b", "pass-a", "fail-ping", "pass-b"]


class Playback:
    isolation = "recorded demo runs played back (tests/data/flaky)"

    def command(self, slot: RunSlot) -> list[str]:
        name = PLAN[slot.number - 1]
        return [sys.executable, "-c", PLAYBACK, str(DATA / f"{name}.jsonl.gz"),
                "1" if name.startswith("fail") else "0"]

    def environment(self, slot: RunSlot) -> dict[str, str]:
        return dict(os.environ)

    def collect(self, slot: RunSlot, status: int) -> None:
        pass


async def take(out: Path) -> None:
    app = FlakyApp(Hunter(Playback(), out, runs=len(PLAN), jobs=2))
    async with app.run_test(size=(150, 40)) as pilot:
        while not app.finished:
            await pilot.pause(0.1)
        await pilot.pause(1.0)  # the divergence worker
        app.save_screenshot("flaky-live.svg", str(HERE))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(take(Path(directory)))
    print(HERE / "flaky-live.svg")
