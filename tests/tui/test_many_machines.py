"""Sixteen machines in the TUI: the machine list filters, consoles open through a fuzzy picker
and show one, two or four at once, the network tab folds VLAN blocks. The machines are real
start scripts never booted (machines boot lazily), so nothing here needs QEMU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import until
from textual.pilot import Pilot
from textual.widgets import Input, TabbedContent

from nixtest_tui.app import NixtestApp
from nixtest_tui.driver.config import DriverConfiguration, MachineConfig
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_start_scripts
from nixtest_tui.session import Session
from nixtest_tui.widgets.console import SerialConsole
from nixtest_tui.widgets.console_deck import ConsoleDeck
from nixtest_tui.widgets.console_picker import ConsolePicker, ranked
from nixtest_tui.widgets.machines import MachineList, MachinePanel
from nixtest_tui.widgets.network_pane import TopologyPanel

SPECS = (
    *(MachineSpec(f"web-{i}", vlans=(1,)) for i in range(1, 9)),
    *(MachineSpec(f"db-{i}", vlans=(1, 2)) for i in range(1, 5)),
    MachineSpec("cache-1", vlans=(2,)), MachineSpec("cache-2", vlans=(2,)),
    MachineSpec("lb", vlans=(1, 3)), MachineSpec("monitor", vlans=(1, 2, 3)),
)
NAMES = [spec.name for spec in SPECS]
SCRIPT = "start_all()\nfor m in machines:\n    m.succeed('true')\n"


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NixtestApp:
    monkeypatch.setattr(Input, "cursor_blink", False)
    image = GuestImage("tiny", Path("/images/tiny"), {"memory_mb": 256})
    scripts = write_start_scripts(Topology(SPECS), image, "tcg", tmp_path / "bin")
    script = tmp_path / "test-script"
    script.write_text(SCRIPT)
    # no `vlans`: no switch starts (nothing boots), so no pids or paths reach the screen;
    # the network tab reads membership from the start scripts
    config = DriverConfiguration(
        vms={name: MachineConfig(name, str(scripts[name])) for name in NAMES},
        test_script=script)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    return NixtestApp(Session(config, tmp_path, tmp_dir=runtime))



async def ready(pilot: Pilot[Any]) -> None:
    await until(lambda: pilot.app.sub_title.startswith("idle"))
    await pilot.pause()


def deck(app: NixtestApp) -> ConsoleDeck:
    return app.query_one(ConsoleDeck)


def visible(app: NixtestApp) -> list[str]:
    return [c.machine for c in app.query(SerialConsole) if c.display]


async def pick(pilot: Pilot[Any], query: str) -> list[str]:
    """F2, type the query; returns what the picker offers, then enter takes the first."""
    await pilot.press("f2")
    await until(lambda: isinstance(pilot.app.screen, ConsolePicker))
    await pilot.press(*query)
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ConsolePicker)
    offered = screen.options
    await pilot.press("enter")
    await until(lambda: not isinstance(pilot.app.screen, ConsolePicker))
    await pilot.pause()
    return offered


def test_fuzzy_ranking_puts_the_closest_name_first() -> None:
    assert ranked("db3", NAMES)[0] == "db-3"
    assert ranked("mon", NAMES) == ["monitor"]
    assert ranked("", NAMES) == NAMES
    assert ranked("zzz", NAMES) == []


async def test_picker_and_split_with_sixteen_machines(app: NixtestApp) -> None:
    async with app.run_test(size=(130, 40)) as pilot:
        await ready(pilot)
        assert len(app.query(SerialConsole)) == 16 and visible(app) == ["web-1"]

        offered = await pick(pilot, "db3")
        assert offered[0] == "db-3"
        assert app.query_one(TabbedContent).active == "tab-consoles"
        assert visible(app) == ["db-3"]
        assert app.focused is app.query_one("#console-db-3")

        await pilot.press("f3")  # two at once: db-3 and the first machine never shown
        await pilot.pause()
        assert deck(app).split == 2 and visible(app) == ["web-1", "db-3"]
        web1, db3 = (app.query_one(f"#console-{n}").region for n in ("web-1", "db-3"))
        assert web1.y == db3.y and web1.right <= db3.x  # side by side

        offered = await pick(pilot, "cache2")
        assert offered[0] == "cache-2"
        # the console looked at least recently (web-1) made room; db-3 stayed
        assert visible(app) == ["db-3", "cache-2"]

        await pilot.press("f3")
        await pilot.pause()
        assert deck(app).split == 4 and len(visible(app)) == 4
        regions = [app.query_one(f"#console-{n}").region for n in visible(app)]
        assert len({r.x for r in regions}) == 2 and len({r.y for r in regions}) == 2  # 2 × 2
        assert all(r.width >= 40 and r.height >= 5 for r in regions)

        await pick(pilot, "monitor")  # already four: it replaces the least recently used
        assert "monitor" in visible(app) and "cache-2" in visible(app)
        assert len(visible(app)) == 4

        # escape leaves everything as it was
        before = visible(app)
        await pilot.press("f2")
        await until(lambda: isinstance(app.screen, ConsolePicker))
        await pilot.press("w", "e", "b", "escape")
        await until(lambda: not isinstance(app.screen, ConsolePicker))
        assert visible(app) == before

        await pilot.press("f3")  # back to one: the most recently used stays
        await pilot.pause()
        assert visible(app) == ["monitor"]
        await pilot.press("ctrl+q")


async def test_the_picker_offers_only_matches_and_nothing_for_nonsense(app: NixtestApp) -> None:
    async with app.run_test(size=(130, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f2")
        await until(lambda: isinstance(app.screen, ConsolePicker))
        screen = app.screen
        assert isinstance(screen, ConsolePicker)
        assert screen.options == NAMES
        await pilot.press(*"web")
        await pilot.pause()
        assert sorted(screen.options) == [f"web-{i}" for i in range(1, 9)]
        await pilot.press("backspace", "backspace", "backspace", *"qqq")
        await pilot.pause()
        assert screen.options == []
        await pilot.press("enter")  # nothing to open: the picker stays
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("escape", "ctrl+q")


async def test_machine_list_scrolls_and_filters(app: NixtestApp) -> None:
    async with app.run_test(size=(130, 40)) as pilot:
        await ready(pilot)
        machines = app.query_one(MachineList)
        panel = app.query_one(MachinePanel)
        await pilot.click(MachineList)
        assert app.focused is machines
        assert machines.row_count == 16
        assert machines.max_scroll_y > 0  # more machines than rows: it scrolls
        await pilot.press(*["down"] * 15)
        await pilot.pause()
        assert machines.current_machine == "monitor" and machines.scroll_y > 0

        await pilot.press("slash", *"db")
        await pilot.pause()
        assert machines.shown == ["db-1", "db-2", "db-3", "db-4"]
        assert machines.row_count == 4 and panel.border_title == "machines 4/16"
        await pilot.press("enter")  # keeps the filter, back in the list
        assert app.focused is machines
        await pilot.press("down", "down", "enter")  # enter on a row opens its console
        await pilot.pause()
        assert machines.current_machine == "db-3"
        assert visible(app) == ["db-3"] and app.focused is app.query_one("#console-db-3")

        await pilot.click(MachineList)
        await pilot.press("slash", "ctrl+a", *"v3")  # ctrl+a: start of the kept filter
        await pilot.press("shift+end", "backspace")
        await pilot.pause()
        assert app.query_one("#machine-filter", Input).value == "v3"
        assert machines.shown == ["lb", "monitor"]

        await pilot.press("escape")  # clears: all sixteen again
        await pilot.pause()
        assert machines.row_count == 16 and panel.border_title == "machines 16"
        assert app.focused is machines
        await pilot.press("ctrl+q")


async def test_network_tab_folds_vlan_blocks(app: NixtestApp) -> None:
    async with app.run_test(size=(130, 40)) as pilot:
        await ready(pilot)
        app.query_one(TabbedContent).active = "pane-network"
        panel = app.query_one(TopologyPanel)
        panel.focus()
        await pilot.pause()
        # vlan 1: 14 members, vlan 2: 7, vlan 3: 2, with a header each, and the user-mode row
        assert panel.row_count == 3 + 14 + 7 + 2 + 1
        header = [str(cell) for cell in panel.get_row_at(0)]
        assert header[:4] == ["▾ vlan 1", "", "14 machines", "14 off"]
        assert panel.selected is None
        await pilot.press("enter")  # fold vlan 1
        await pilot.pause()
        assert panel.row_count == 3 + 7 + 2 + 1
        assert str(panel.get_row_at(0)[0]) == "▸ vlan 1"
        await pilot.press("down", "down")
        assert panel.selected == ("cache-1", 2)
        assert str(panel.get_row_at(2)[0]) == "  ├ 2"
        await pilot.press("b")  # the switch is not running: nothing happens but a notice
        await pilot.press("up", "up", "enter")
        await pilot.pause()
        assert panel.row_count == 27
        await pilot.press("ctrl+q")


def test_sixteen_machines_four_consoles_snapshot(snap_compare: Any, app: NixtestApp) -> None:
    """130×40: the machine list filtered to `web`, four consoles with some boot output."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        for name in NAMES:
            app.query_one(f"#console-{name}", SerialConsole).feed(
                f"[    0.000000] Linux version 6.1.0 ({name})\r\n"
                f"{name} login: \r\n".encode())
        await pilot.press("f3", "f3")
        for query in ("web2", "db1", "lb"):
            await pick(pilot, query)
        await pilot.click(MachineList)
        await pilot.press("slash", *"web", "enter")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(130, 40), run_before=run_before)


def test_sixteen_machines_network_tab_snapshot(snap_compare: Any, app: NixtestApp) -> None:
    """130×40: three VLAN blocks with their headers, vlan 2 folded."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        app.query_one(TabbedContent).active = "pane-network"
        panel = app.query_one(TopologyPanel)
        panel.focus()
        await pilot.press(*["down"] * 15, "enter")  # vlan 2's header: fold it
        await pilot.pause()
        assert panel.folded == {2}

    assert snap_compare(app, terminal_size=(130, 40), run_before=run_before)


def test_sixteen_machines_picker_snapshot(snap_compare: Any, app: NixtestApp) -> None:
    """130×40: the console picker over the screen, `web` typed, its eight matches highlighted;
    behind it the machine filter box open with `db` typed."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.click(MachineList)
        await pilot.press("slash", *"db")
        await pilot.press("f2", *"web")
        await until(lambda: isinstance(app.screen, ConsolePicker))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(130, 40), run_before=run_before)


async def test_palette_opens_the_picker_and_splits(app: NixtestApp) -> None:
    async with app.run_test(size=(130, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p", *"open a machine's console")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConsolePicker))
        await pilot.press(*"lb", "enter")
        await until(lambda: visible(app) == ["lb"])
        await pilot.press("ctrl+p", *"split the consoles")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(lambda: deck(app).split == 2)
        assert visible(app) == ["web-1", "lb"]
        await pilot.press("ctrl+q")
