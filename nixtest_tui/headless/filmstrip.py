"""`--trace-screens SECONDS`: a film strip of every VM's screen for the post-mortem viewer.

A CI failure often shows on the screen long before the script notices (a stuck boot, a
crashed display manager). Every SECONDS the strip grabs each running VM's screen, keeps it
only when its picture differs from the machine's last few frames (screens sit still most of
the time, and a blinking cursor alternates between two pictures, so the hash check keeps a
one-hour run to a few dozen files), saves it as
`trace-screens/<machine>-<n>.png` in the output directory and adds a `FilmFrame` line to the
trace. Grabs go through the same QMP `screendump` as the script's own screenshots; a machine
that is booting or stopping is simply skipped for that round.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from nixtest_tui.driver.base import BaseMachine
from nixtest_tui.driver.errors import MachineError
from nixtest_tui.driver.qemu import QemuMachine
from nixtest_tui.driver.screen import Screenshot
from nixtest_tui.headless.trace import TraceWriter

DIRECTORY = "trace-screens"
RECENT = 4  # pictures per machine a new grab is compared with


Grab = Callable[[BaseMachine], Screenshot | None]


def grab_screen(machine: BaseMachine) -> Screenshot | None:
    """The VM's screen now, or None for a container or a VM booting or stopping (the next
    round tries again)."""
    if not isinstance(machine, QemuMachine):
        return None
    process = machine.process
    if process is None or process.poll() is not None or not machine.booted:
        return None
    try:
        return machine.screens.grab(publish=False)
    except (MachineError, OSError):
        return None


class FilmStrip:
    def __init__(self, trace: TraceWriter, machines: Callable[[], list[BaseMachine]],
                 every: float, grab: Grab = grab_screen) -> None:
        self._trace = trace
        self._machines = machines
        self._every = every
        self._grab = grab
        self._recent: dict[str, deque[str]] = {}
        self._count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="film-strip", daemon=True)

    @property
    def frames(self) -> int:
        return self._count

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            self.take_round()

    def take_round(self) -> None:
        """One look at every machine's screen."""
        for machine in self._machines():
            if self._stop.is_set():
                return
            shot = self._grab(machine)
            if shot is not None:
                self._keep(machine.name, shot)

    def _keep(self, machine: str, shot: Screenshot) -> None:
        recent = self._recent.setdefault(machine, deque(maxlen=RECENT))
        if shot.digest in recent:
            return
        recent.append(shot.digest)
        self._count += 1
        folder = self._trace.out_dir / DIRECTORY
        folder.mkdir(exist_ok=True)
        path = folder / f"{machine}-{self._count:05d}.png"
        try:
            path.write_bytes(shot.png())
        except OSError:
            return  # a full disk must not fail the test; the strip just has a gap
        self._trace.write_record({"type": "FilmFrame", "machine": machine,
                                  "path": self._trace.relative(path), "digest": shot.digest,
                                  "width": shot.image.width, "height": shot.image.height})
