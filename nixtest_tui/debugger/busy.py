"""What the script is blocked in right now (a command, a wait), for "pause" to say so."""

from __future__ import annotations

from nixtest_tui.driver.events import (
    CommandFinished,
    CommandStarted,
    EventBus,
    WaitFinished,
    WaitStarted,
)


class BusyWatch:
    """Follows command and wait events; `close()` removes its subscription from the bus."""

    def __init__(self, bus: EventBus) -> None:
        self._busy: dict[str, str] = {}
        self._watch = bus.subscribe(CommandStarted, CommandFinished, WaitStarted, WaitFinished)

    def describe(self) -> str:
        for event in self._watch.get_nowait():
            if isinstance(event, CommandStarted):
                self._busy[event.machine] = f"{event.machine}: `{event.command}`"
            elif isinstance(event, WaitStarted):
                self._busy[f"{event.machine}/wait"] = (
                    f"{event.machine}: waiting for {event.what} {event.target}")
            elif isinstance(event, CommandFinished):
                self._busy.pop(event.machine, None)
            elif isinstance(event, WaitFinished):
                self._busy.pop(f"{event.machine}/wait", None)
        return "; ".join(self._busy.values())

    def close(self) -> None:
        self._watch.close()
