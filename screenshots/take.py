"""Regenerate the README's screenshots: the TUI on real tiny guests, saved as SVG.

Run: .venv/bin/python screenshots/take.py   (boots the demo machines; about a minute)
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

from textual.widgets import TabbedContent

from nixtest_tui.app import NixtestApp
from nixtest_tui.demo.network import TOPOLOGY, test_script_text
from nixtest_tui.driver.config import load_driver_configuration
from nixtest_tui.guests.accel import choose_accelerator
from nixtest_tui.guests.debian import ensure_debian
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network
from nixtest_tui.guests.tiny import ensure_tiny
from nixtest_tui.session import Session
from nixtest_tui.widgets.repl import ReplPane
from nixtest_tui.widgets.script_pane import ScriptPane

HERE = Path(__file__).parent
FAILING = test_script_text().replace(
    'outsider.fail("ping -c 1 -W 2 192.168.1.3")',
    'outsider.succeed("ping -c 1 -W 2 192.168.1.3")  # wrong on purpose: it must fail',
)


async def until(check: Callable[[], bool], seconds: float = 180) -> None:
    for _ in range(int(seconds / 0.2)):
        if check():
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("state not reached")


async def shoot(script: str, root: Path) -> None:
    image = ensure_tiny()
    config_path = write_network(TOPOLOGY, image, choose_accelerator(image.kernel), root, script)
    runtime = root / "runtime"
    runtime.mkdir()
    app = NixtestApp(Session(load_driver_configuration(config_path), root, tmp_dir=runtime))
    async with app.run_test(size=(130, 40)) as pilot:
        await until(lambda: app.sub_title.startswith("idle"))
        pane = app.query_one(ScriptPane)
        pane.focus()
        await pilot.press(*["down"] * 12, "b")
        app.save_screenshot("idle.svg", str(HERE))
        await pilot.press("f5")
        await until(lambda: bool(app.query_one("WaitingStrip").waits))
        await pilot.pause(0.5)
        app.save_screenshot("running-waiting.svg", str(HERE))
        await until(lambda: app.sub_title.startswith("paused at line 13"))
        app.query_one(TabbedContent).active = "tab-repl"
        repl = app.query_one(ReplPane)
        repl.query_one("#repl-input").focus()
        await pilot.press(*'client.succeed("ip -4 addr show eth1 | grep inet")', "enter")
        await until(lambda: "192.168.1.1" in "".join(
            str(line) for line in repl.query_one("#repl-output").lines))  # type: ignore[attr-defined]
        app.save_screenshot("paused-breakpoint-repl.svg", str(HERE))
        pane.focus()
        await pilot.press("c")
        await until(lambda: "failure" in app.sub_title)
        app.open_console("outsider")
        await pilot.pause(1.0)
        app.save_screenshot("failure-console.svg", str(HERE))
        await pilot.press("q")


CONTAINERS = """\
start_all()
web.wait_for_unit("multi-user.target")
web.succeed("systemctl start echo.socket")
web.wait_for_open_port(7)
web.succeed("echo hello from the journal | systemd-cat -t demo")
vm.succeed("uname -a")
"""


async def shoot_containers(root: Path) -> None:
    """A container (its console is the journal) beside a tiny VM; needs root."""
    debian, tiny = ensure_debian(), ensure_tiny()
    topology = Topology((MachineSpec("web", vlans=(), kind="container"),
                         MachineSpec("vm", vlans=())))
    config_path = write_network(topology, tiny, choose_accelerator(tiny.kernel), root,
                                CONTAINERS, container_tree=debian.rootfs_tree)
    runtime = root / "runtime"
    runtime.mkdir()
    app = NixtestApp(Session(load_driver_configuration(config_path), root, tmp_dir=runtime))
    async with app.run_test(size=(130, 40)) as pilot:
        await until(lambda: app.sub_title.startswith("idle"))
        await pilot.press("f5")
        await until(lambda: app.sub_title == "finished")
        app.open_console("web")
        await pilot.pause(1.0)
        app.save_screenshot("container-journal.svg", str(HERE))
        await pilot.press("q")


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(shoot(FAILING, Path(scratch)))
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(shoot_containers(Path(scratch)))
    print("saved:", ", ".join(sorted(p.name for p in HERE.glob("*.svg"))))


if __name__ == "__main__":
    main()
