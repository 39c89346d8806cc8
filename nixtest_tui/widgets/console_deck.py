"""The consoles tab: one, two or four serial consoles at once, out of any number of machines.

One tab per machine stops working at about six machines (the tab bar overflows and you cannot
see two machines talking to each other). Every console stays mounted, hidden or not, so each
keeps receiving its bytes and its scrollback; the deck only decides which are displayed. A
newly picked console replaces the one looked at least recently, so the console you are
reading never disappears under you; grid order follows the machine list, so the layout stays
predictable.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import events
from textual.containers import Container

from nixtest_tui.widgets.console import SerialConsole

SPLITS = (1, 2, 4)


class ConsoleDeck(Container):
    DEFAULT_CSS = """
    ConsoleDeck { layout: grid; grid-size: 1 1; grid-gutter: 0 1; height: 1fr; }
    """

    def __init__(self, consoles: Iterable[SerialConsole], **kwargs: object) -> None:
        super().__init__(*consoles, **kwargs)  # type: ignore[arg-type]
        self.split = 1
        self.shown: list[str] = []
        self._last_used: dict[str, int] = {}
        self._clock = 0

    @property
    def machines(self) -> list[str]:
        return [console.machine for console in self.query_children(SerialConsole)]

    def console(self, machine: str) -> SerialConsole:
        return self.query_one(f"#console-{machine}", SerialConsole)

    def on_mount(self) -> None:
        if self.machines:
            self.shown = self.machines[:1]
        self._apply()

    def show(self, machine: str) -> None:
        """Display `machine`'s console (replacing the least recently used) and focus it."""
        if machine not in self.machines:
            raise KeyError(machine)
        if machine not in self.shown:
            if len(self.shown) >= self.split:
                self.shown.remove(min(self.shown, key=self._used))
            self.shown.append(machine)
            self._apply()
        self._touch(machine)
        self.console(machine).focus()

    def set_split(self, split: int) -> None:
        """Show `split` consoles: growing adds recently used then listed machines; shrinking
        keeps the most recently used."""
        if split not in SPLITS:
            raise ValueError(f"split {split}: choose one of {SPLITS}")
        self.split = split
        by_recency = sorted(self.machines, key=self._used, reverse=True)
        keep = sorted(self.shown, key=self._used, reverse=True)[:split]
        for machine in by_recency:
            if len(keep) >= split:
                break
            if machine not in keep:
                keep.append(machine)
        self.shown = keep
        self._apply()

    def cycle_split(self) -> int:
        self.set_split(SPLITS[(SPLITS.index(self.split) + 1) % len(SPLITS)])
        return self.split

    def _used(self, machine: str) -> tuple[int, int]:
        """Recency first, then list order reversed, so never-used machines fill in list order."""
        return self._last_used.get(machine, 0), -self.machines.index(machine)

    def _touch(self, machine: str) -> None:
        self._clock += 1
        self._last_used[machine] = self._clock

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        for console in self.query_children(SerialConsole):
            if event.widget is console or console in event.widget.ancestors:
                self._touch(console.machine)

    def _apply(self) -> None:
        visible = [m for m in self.machines if m in self.shown]
        columns = 1 if len(visible) <= 1 else 2
        rows = 2 if len(visible) > 2 else 1
        self.styles.grid_size_columns = columns
        self.styles.grid_size_rows = rows
        for console in self.query_children(SerialConsole):
            console.display = console.machine in self.shown
        self.border_title = "  ".join(visible)
