"""Screenshots of the TUI with sixteen real tiny guests on three VLANs, saved as SVG.

Run: .venv/bin/python screenshots/take_many.py   (boots 16 VMs; a few minutes under TCG)
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

from nixtest_tui.app import NixtestApp
from nixtest_tui.driver.config import load_driver_configuration
from nixtest_tui.guests.accel import choose_accelerator
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network
from nixtest_tui.guests.tiny import ensure_tiny
from nixtest_tui.session import Session
from nixtest_tui.widgets.machines import MachineList
from nixtest_tui.widgets.network_pane import TopologyPanel

HERE = Path(__file__).parent
# Sixteen TCG guests booting at once on a loaded 2-core host have made one guest's kernel give
# up its IO-APIC timer check ("IO-APIC + timer doesn't work!", a panic): skip that check.
QUIET = "no_timer_check"
CLUSTER = Topology((
    *(MachineSpec(f"web-{i}", vlans=(1,), kernel_params=QUIET) for i in range(1, 9)),
    *(MachineSpec(f"db-{i}", vlans=(1, 2), kernel_params=QUIET) for i in range(1, 5)),
    MachineSpec("cache-1", vlans=(2,), kernel_params=QUIET),
    MachineSpec("cache-2", vlans=(2,), kernel_params=QUIET),
    MachineSpec("lb", vlans=(1, 3), kernel_params=QUIET),
    MachineSpec("monitor", vlans=(1, 2, 3), kernel_params=QUIET),
))
SCRIPT = """\
# Sixteen machines: eight web servers, four databases, two caches, a balancer, a monitor.
start_all()

with subtest("every machine is up"):
    for machine in machines:
        machine.wait_for_unit("multi-user.target")

with subtest("the balancer reaches every web server"):
    for i in range(1, 9):
        lb.succeed(f"ping -c 1 -W 5 web-{i}")

with subtest("the monitor sees every database on VLAN 2"):
    for i in range(1, 5):
        monitor.succeed(f"nc -z 192.168.2.{i + 2} 7")
"""


async def until(check: Callable[[], bool], seconds: float = 600) -> None:
    for _ in range(int(seconds / 0.2)):
        if check():
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("state not reached")


async def shoot(root: Path) -> None:
    image = ensure_tiny()
    config_path = write_network(CLUSTER, image, choose_accelerator(image.kernel), root, SCRIPT)
    runtime = root / "runtime"
    runtime.mkdir()
    app = NixtestApp(Session(load_driver_configuration(config_path), root, tmp_dir=runtime))
    async with app.run_test(size=(140, 44)) as pilot:
        await until(lambda: app.sub_title.startswith("idle"))
        await pilot.press("f5")
        await until(lambda: app.sub_title == "finished" or app.sub_title.startswith("paused"))
        if app.sub_title != "finished":
            runner = app.session.runner
            raise SystemExit(f"the cluster test did not pass: {app.sub_title}: "
                             f"{runner.failure if runner else ''}")
        await pilot.press("f3", "f3")  # four consoles
        for name in ("lb", "db-3", "monitor"):
            await pilot.press("f2", *name, "enter")
            await pilot.pause(0.3)
        await pilot.click(MachineList)
        await pilot.press("slash", *"db", "enter")
        await pilot.pause(1.0)
        app.save_screenshot("sixteen-machines-consoles.svg", str(HERE))
        await pilot.press("f2", *"web")
        await pilot.pause(0.5)
        app.save_screenshot("sixteen-machines-picker.svg", str(HERE))
        await pilot.press("escape")
        app.query_one("#bottom").active = "pane-network"  # type: ignore[attr-defined]
        app.query_one(TopologyPanel).focus()
        await pilot.pause(0.5)
        app.save_screenshot("sixteen-machines-network.svg", str(HERE))
        await pilot.press("q")


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(shoot(Path(scratch)))
    print("saved:", ", ".join(sorted(p.name for p in HERE.glob("sixteen-*.svg"))))


if __name__ == "__main__":
    main()
