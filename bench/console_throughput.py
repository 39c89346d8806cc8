"""Serial console figures: bytes/s rendered, key latency while consoles stream, memory after
an hour's worth of output.

Run with ./dev bench (or .venv/bin/python bench/console_throughput.py --mb 20 --mb4 5).
Headless Textual at 200x50; the stream is a generated boot log (kernel lines, systemd status
lines with SGR colours) fed in 64 KiB chunks, as the bridge hands them over. A keyboard thread
presses a key every 40 ms through the driver, as the terminal driver's input thread would;
latency runs from that press to the key's handler, to the next screen update after it, and (in
input mode) to the moment `send` runs in its thread. Other processes on the machine skew the
wall-clock figures, so the load average and the process's CPU time are printed too. Prints
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from rich.console import RenderableType
from textual import events
from textual.app import App, ComposeResult
from textual.containers import Grid
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nixtest_tui.widgets.console import SerialConsole  # noqa: E402

CHUNK = 64 * 1024
HIGH_WATER = 1024 * 1024
KEY_INTERVAL = 0.04
UNITS = ["systemd-journald", "network-setup", "sshd", "nginx", "backdoor", "nix-daemon"]


def boot_log(size: int, seed: int) -> bytes:
    """Mixed kernel and systemd lines, about 75 bytes each, a third of them coloured."""
    rnd = random.Random(seed)
    lines: list[str] = []
    total, t = 0, 0.0
    while total < size:
        t += rnd.random() / 50
        unit = rnd.choice(UNITS)
        kind = rnd.random()
        if kind < 0.6:
            line = f"[{t:12.6f}] virtio_net virtio{rnd.randint(0, 3)} eth0: link becomes ready\r\n"
        elif kind < 0.95:
            line = f"[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39m{unit}.service\x1b[0m.\r\n"
        else:
            line = f"[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39m{unit}\x1b[0m.\r\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Latencies:
    """Press times from the keyboard thread, matched with handler, screen and send times."""

    def __init__(self) -> None:
        self.pending: deque[float] = deque()
        self.to_handler: list[float] = []
        self.handled: list[tuple[float, float]] = []  # (press, handler)
        self.displays: list[float] = []
        self.to_send: list[float] = []

    def to_screen(self) -> list[float]:
        result, displays, index = [], self.displays, 0
        for press, handled in self.handled:
            while index < len(displays) and displays[index] < handled:
                index += 1
            if index < len(displays):
                result.append(displays[index] - press)
        return result


class Probe(Widget):
    """One line the key handler repaints: the cheapest visible effect of a key press (a
    `Static.update` would also re-layout the screen, which costs more as the app grows)."""

    DEFAULT_CSS = "Probe { height: 1; dock: bottom; }"
    count: reactive[int] = reactive(0)

    def render(self) -> str:
        return f"probe {self.count}"


class BenchApp(App[None]):
    CSS = "Grid { grid-size: 2; }"
    BINDINGS = [("x", "probe", "Probe")]

    def __init__(self, consoles: list[SerialConsole], latencies: Latencies) -> None:
        super().__init__()
        self.consoles = consoles
        self.latencies = latencies
        self.probes = 0

    def compose(self) -> ComposeResult:
        if len(self.consoles) == 1:
            yield self.consoles[0]
        else:
            with Grid():
                yield from self.consoles
        yield Probe()

    def on_mount(self) -> None:
        self.consoles[0].focus()

    def action_probe(self) -> None:
        now = time.perf_counter()
        if self.latencies.pending:
            press = self.latencies.pending.popleft()
            self.latencies.to_handler.append(now - press)
            self.latencies.handled.append((press, now))
        self.probes += 1
        self.query_one(Probe).count = self.probes


def keyboard(app: BenchApp, key: str, stop: threading.Event) -> None:
    """Press `key` every KEY_INTERVAL, from another thread like the terminal driver's input thread.

    A press counts from when it was due, not from when this thread got to run: a thread kept
    waiting for the GIL delays keys just as a starved input thread would, and the presses it
    missed meanwhile are sent in a burst, as a terminal's buffered input would arrive.
    """
    driver = app._driver
    assert driver is not None
    due = time.perf_counter() + KEY_INTERVAL
    while not stop.wait(max(0.0, due - time.perf_counter())):
        now = time.perf_counter()
        while due <= now:
            event = events.Key(key, key)
            event.set_sender(app)
            app.latencies.pending.append(due)
            driver.send_message(event)
            due += KEY_INTERVAL


async def stream(console: SerialConsole, data: bytes, checkpoints: list[tuple[int, float]]) -> None:
    """Feed 64 KiB at a time, holding back while the console is 1 MiB behind: the figures are
    then the parse-and-draw rate, not the rate at which a console sheds bytes it cannot take."""
    for offset in range(0, len(data), CHUNK):
        console.feed(data[offset : offset + CHUNK])
        while console.pending_bytes > HIGH_WATER:
            await asyncio.sleep(0.005)
        if (offset // CHUNK) % 80 == 79:
            checkpoints.append((offset + CHUNK, rss_mib()))
    while console.pending_bytes:
        await asyncio.sleep(0.005)


@dataclass
class Result:
    consoles: int
    fed: int
    wall: float
    cpu: float
    latencies: Latencies
    checkpoints: list[tuple[int, float]]
    history_lines: list[int]
    history_bytes: int
    skipped: int
    last_lines: list[str]


async def run(consoles: int, megabytes: float, input_mode: bool) -> Result:
    latencies = Latencies()

    def send(data: bytes) -> None:  # runs in a worker thread; one byte per key pressed
        now = time.perf_counter()
        for _ in range(min(len(data), len(latencies.pending))):
            latencies.to_send.append(now - latencies.pending.popleft())

    widgets = [SerialConsole(f"m{i}", send=send) for i in range(consoles)]
    app = BenchApp(widgets, latencies)
    data = [boot_log(int(megabytes * 1e6), seed=i) for i in range(consoles)]
    checkpoints: list[tuple[int, float]] = [(0, rss_mib())]
    stop = threading.Event()
    async with app.run_test(size=(200, 50)) as pilot:
        display = app._display

        def timed_display(screen: Screen[object], renderable: RenderableType | None) -> None:
            latencies.displays.append(time.perf_counter())
            display(screen, renderable)

        app._display = timed_display  # type: ignore[method-assign]
        if input_mode:
            await pilot.press("i")
        await pilot.pause()
        thread = threading.Thread(target=keyboard, args=(app, "x", stop), daemon=True)
        wall, cpu = time.perf_counter(), time.process_time()
        thread.start()
        feeds = [stream(widgets[0], data[0], checkpoints)]
        feeds += [stream(c, more, []) for c, more in zip(widgets[1:], data[1:], strict=True)]
        await asyncio.gather(*feeds)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        stop.set()
        thread.join()
        await pilot.pause(0.2)
        checkpoints.append((len(data[0]), rss_mib()))
        terminals = [c._terminal for c in widgets]
        history_bytes = sum(sys.getsizeof(line) for line in terminals[0].history)
    return Result(
        consoles=consoles,
        fed=sum(len(d) for d in data),
        wall=wall,
        cpu=cpu,
        latencies=latencies,
        checkpoints=checkpoints,
        history_lines=[len(t.history) for t in terminals],
        history_bytes=history_bytes,
        skipped=sum(c.skipped_bytes for c in widgets),
        last_lines=[t.plain_text(last=1) for t in terminals],
    )


def summary(name: str, seconds: list[float]) -> str:
    if not seconds:
        return f"key to {name}: no samples"
    ms = sorted(v * 1000 for v in seconds)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return (
        f"key to {name}: n={len(ms)} median {statistics.median(ms):.1f} ms, "
        f"p95 {p95:.1f} ms, max {ms[-1]:.1f} ms"
    )


def report(title: str, result: Result) -> None:
    print(f"== {title}")
    per = f" ({result.fed / result.wall / result.consoles / 1e6:.2f} MB/s per console)"
    print(
        f"   {result.fed / 1e6:.1f} MB in {result.wall:.2f} s: "
        f"{result.fed / result.wall / 1e6:.2f} MB/s parsed and drawn"
        f"{per if result.consoles > 1 else ''}; {result.fed / result.cpu / 1e6:.2f} MB per "
        f"CPU-second of this process; {result.skipped} bytes skipped"
    )
    latencies = result.latencies
    for name, values in (
        ("handler", latencies.to_handler),
        ("screen update", latencies.to_screen()),
        ("send()", latencies.to_send),
    ):
        if values:
            print("   " + summary(name, values))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0, help="MB for the single console")
    parser.add_argument("--mb4", type=float, default=5.0, help="MB for each of the 4 consoles")
    args = parser.parse_args()
    print(f"load average before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")

    one = asyncio.run(run(1, args.mb, input_mode=False))
    report(f"1 console, {args.mb:g} MB; keys go to an app binding", one)
    print("   memory while feeding (5 KB/s is a busy guest: 18 MB is an hour of it):")
    points = one.checkpoints
    shown = points[:-1:max(1, len(points) // 6)] + points[-1:]
    for fed, rss in shown:
        print(f"     {fed / 1e6:5.1f} MB fed (~{fed / 5000 / 3600:4.2f} h): RSS {rss:5.0f} MiB")
    print(
        f"   history kept: {one.history_lines[0]} lines, {one.history_bytes / 2**20:.1f} MiB "
        f"of encoded lines; last line {one.last_lines[0]!r}"
    )
    typed = asyncio.run(run(1, args.mb / 4, input_mode=True))
    report(f"1 console, {args.mb / 4:g} MB, input mode; keys go to the guest", typed)
    four = asyncio.run(run(4, args.mb4, input_mode=False))
    report(f"4 consoles streaming at once, {args.mb4:g} MB each; keys to an app binding", four)


if __name__ == "__main__":
    main()
