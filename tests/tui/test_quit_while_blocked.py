"""Quitting stops every machine within seconds, even while the script is blocked in a start
that never completes. The machine here is a real process whose start script never opens
QEMU's sockets (`exec sleep`), so `start()` would wait 300 s for them."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from conftest import until, wait_until

from nixtest_tui.app import NixtestApp
from nixtest_tui.driver.config import DriverConfiguration, MachineConfig
from nixtest_tui.driver.qemu import QemuMachine
from nixtest_tui.session import Session
from nixtest_tui.widgets.machines import MachineList

QUIT_BOUND = 30.0  # generous on a loaded 2-core host; the session itself waits 3 s


def blocked_app(tmp_path: Path) -> NixtestApp:
    start = tmp_path / "run-stuck-vm"
    start.write_text("#!/bin/sh\nexec sleep 600\n")
    start.chmod(0o755)
    script = tmp_path / "test-script"
    script.write_text("stuck.start()\ndone = True\n")
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    config = DriverConfiguration(vms={"stuck": MachineConfig("stuck", str(start))},
                                 test_script=script)
    return NixtestApp(Session(config, tmp_path, tmp_dir=runtime))


async def start_and_block(app: NixtestApp) -> subprocess.Popen[bytes]:
    await until(lambda: app.sub_title.startswith("idle"), 30)
    await app.run_action("run")
    rows = app.query_one(MachineList).rows_by_name
    await until(lambda: rows["stuck"].state_label == "starting", 30)
    machine = app.session.machine("stuck")
    assert isinstance(machine, QemuMachine)
    await until(lambda: machine.process is not None, 30)  # (spawned just after "starting")
    assert machine.process is not None
    return machine.process


async def test_quit_stops_a_machine_whose_start_never_completes(tmp_path: Path) -> None:
    app = blocked_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        process = await start_and_block(app)
        quit_at = time.monotonic()
        await pilot.press("ctrl+q")
        await until(lambda: not app.is_running, QUIT_BOUND)
    assert time.monotonic() - quit_at < QUIT_BOUND
    assert process.poll() is not None, "the machine's process outlived the TUI"
    assert app.session.runner is not None and app.session.runner.state == "stopped"


async def test_ending_a_pilot_session_stops_the_machines(tmp_path: Path) -> None:
    """No quit key at all: the app is unmounted, and that alone stops everything."""
    app = blocked_app(tmp_path)
    async with app.run_test(size=(120, 40)):
        process = await start_and_block(app)
    wait_until(lambda: process.poll() is not None, QUIT_BOUND,
               "the end of the machine's process after the Pilot session")
    assert not app.session.opened
