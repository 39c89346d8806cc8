"""Post-mortem figures: a generated one-hour run of four machines, 8 MB of serial output each.

Run with .venv/bin/python bench/replay.py [--mb 8] [--keep DIR].
The trace is written by the real recorder (`TraceWriter`) from synthetic driver events: boot and
service log lines with SGR colours cut into 64-1024 byte serial chunks (and the `SerialLine`
events the driver publishes beside them), a command every ~2 s per machine, a wait with
probes every 30 s, 60 subtests, a screenshot every 5 minutes, a film-strip frame per machine
every minute, and a failure at the end. Then it prints:

* open: reading the trace and folding it (library), and `ReplayApp` start to its first frame
  (headless Textual, at the failure, log tab shown);
* keyframes: one pass over each console (the viewer does this in a background thread);
* seek: median and p95 over random times, in the library (the moment plus one console) and
  through the viewer (seek to frame applied, console tab shown);
* report: build time, size, and Chromium's time to load and render it (the page's own clock).

Other processes on the 2-core machine skew wall-clock figures; the load average is printed.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nixtest_tui.driver.config import DriverConfiguration, MachineConfig  # noqa: E402
from nixtest_tui.driver.events import (  # noqa: E402
    CommandFinished,
    CommandStarted,
    EventBus,
    LogMessage,
    MachineStateChanged,
    NestFinished,
    NestStarted,
    ScriptLine,
    SerialLine,
    SerialOutput,
    WaitFinished,
    WaitProgress,
    WaitStarted,
)
from nixtest_tui.driver.screen import ScreenshotTaken  # noqa: E402
from nixtest_tui.headless.trace import TraceWriter  # noqa: E402
from nixtest_tui.replay.console import ConsoleReplay, clone  # noqa: E402
from nixtest_tui.replay.model import build_run  # noqa: E402
from nixtest_tui.replay.moment import moment  # noqa: E402
from nixtest_tui.replay.reader import open_trace  # noqa: E402
from nixtest_tui.report import write_report  # noqa: E402

MACHINES = ("alpha", "bravo", "charlie", "delta")
HOUR = 3600.0
SCRIPT = "".join(f'with subtest("step {n}"):\n    alpha.succeed("true")\n' for n in range(60))


def log_lines(rng: random.Random, machine: str) -> list[bytes]:
    units = [f"unit-{n}.service" for n in range(40)]
    kinds = [
        lambda i: f"[{i / 100:12.6f}] kernel: probe of device {i % 97:02x}:{i % 13} done\r\n",
        lambda i: (f"[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39m{rng.choice(units)}"
                   f"\x1b[0m - test service {i}.\r\n"),
        lambda i: f"{machine} systemd[1]: {rng.choice(units)}: Deactivated successfully.\r\n",
        lambda i: f"\x1b[1;31m{machine} app[{i}]: error: retrying request {i}\x1b[0m\r\n",
    ]
    return [kinds[rng.randrange(len(kinds))](i).encode() for i in range(64)]


def publish_serial(bus: EventBus, base: float, machine: str, size: int,
                   rng: random.Random) -> None:
    pool = log_lines(rng, machine)
    stream = bytearray()
    while len(stream) < size:
        stream += rng.choice(pool)
    chunks, position = [], 0
    while position < size:
        step = rng.randint(64, 1024)
        chunks.append(bytes(stream[position:position + step]))
        position += step
    for n, chunk in enumerate(chunks):
        when = base + HOUR * (n + 1) / (len(chunks) + 1)
        bus.publish(SerialOutput(time=when, machine=machine, data=chunk))
        for line in chunk.split(b"\n")[:-1]:
            bus.publish(SerialLine(time=when, machine=machine,
                                   line=line.decode(errors="replace").rstrip("\r")))


def picture(path: Path, text: str) -> None:
    image = Image.new("RGB", (1024, 768), "black")
    ImageDraw.Draw(image).text((20, 20), text, fill="white")
    image.save(path)


def publish_script(bus: EventBus, writer: TraceWriter, base: float, out: Path,
                   rng: random.Random) -> None:
    for machine in MACHINES:
        bus.publish(MachineStateChanged(time=base + 0.1, machine=machine, state="connected"))
    t = 1.0
    for n in range(60):
        bus.publish(ScriptLine(time=base + t, line=2 * n + 1, function="<module>"))
        bus.publish(NestStarted(time=base + t, message=f"subtest: step {n}", subtest=True))
        end = t + 59.0
        while t < end:
            machine = rng.choice(MACHINES)
            bus.publish(ScriptLine(time=base + t, line=2 * n + 2, function="<module>"))
            bus.publish(CommandStarted(time=base + t, machine=machine, command="true",
                                       timeout=None))
            bus.publish(CommandFinished(time=base + t + 0.01, machine=machine, command="true",
                                        status=0, duration=0.01, output_size=0))
            bus.publish(LogMessage(time=base + t, level="info", message="must succeed: true",
                                   machine=machine))
            if rng.random() < 0.07:
                bus.publish(WaitStarted(time=base + t, machine=machine, what="unit",
                                        target="unit-1.service", timeout=900))
                for k in range(3):
                    bus.publish(WaitProgress(time=base + t + k, machine=machine, what="unit",
                                             target="unit-1.service", elapsed=k,
                                             last_result="activating"))
                bus.publish(WaitFinished(time=base + t + 3, machine=machine, what="unit",
                                         target="unit-1.service", elapsed=3, success=True))
            t += rng.uniform(1.0, 3.0)
        failed = n == 59
        bus.publish(NestFinished(time=base + t, message=f"subtest: step {n}", duration=59.0,
                                 ok=not failed, subtest=True,
                                 error="command `true` failed" if failed else ""))
        if n % 5 == 4:
            name = f"shot-{n}.png"
            picture(out / name, f"screenshot {n}")
            bus.publish(ScreenshotTaken(time=base + t, machine="alpha", path=str(out / name),
                                        digest="", width=1024, height=768))
        t += 1.0
    bus.publish(LogMessage(time=base + t, level="test-error", message=(
        'Traceback (most recent call last):\n  File "<string>", line 120, in <module>\n'
        "RequestedAssertionFailed: command `true` failed (exit code 1)")))
    strip = out / "trace-screens"
    strip.mkdir(exist_ok=True)
    for minute in range(60):
        for machine in MACHINES:
            path = strip / f"{machine}-{minute:05d}.png"
            picture(path, f"{machine} minute {minute}")
            writer.write_record({"t": minute * 60.0 + 30, "type": "FilmFrame",
                                 "machine": machine, "path": f"trace-screens/{path.name}",
                                 "digest": f"{machine}{minute}", "width": 1024, "height": 768})


def generate(out: Path, megabytes: float) -> Path:
    script = out / "test-script.py"
    script.write_text(SCRIPT)
    bus = EventBus()
    writer = TraceWriter(bus, out / "nixtest-trace.jsonl", out)
    writer.describe(DriverConfiguration(
        vms={m: MachineConfig(m, f"/bin/run-{m}-vm") for m in MACHINES}, test_script=script,
        vlans=[1]))
    base = time.monotonic() - 0.0
    writer._started = base  # events carry their own times: an hour from the trace's start
    rng = random.Random(17)
    for machine in MACHINES:
        publish_serial(bus, base, machine, int(megabytes * (1 << 20)), rng)
    publish_script(bus, writer, base, out, rng)
    writer.close()
    return writer.path


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def viewer_figures(out: Path, times: list[float]) -> tuple[float, list[float]]:
    from nixtest_tui.replay_ui.app import ReplayApp

    started = time.perf_counter()
    app = ReplayApp(build_run(open_trace(out)))
    async with app.run_test(size=(200, 50)) as pilot:
        while app.shown is None:
            await asyncio.sleep(0.005)
        first_frame = time.perf_counter() - started
        while not all(c.built for c in app.consoles.values()):
            await asyncio.sleep(0.1)
        await pilot.click("#--content-tab-tab-console-alpha")
        seeks = []
        for t in times:
            begin = time.perf_counter()
            app.seek(t)
            while app.shown is None or app.shown.moment.t != t or "alpha" not in \
                    app.shown.consoles:
                await asyncio.sleep(0.002)
            seeks.append(time.perf_counter() - begin)
    return first_frame, seeks


def chromium_load_ms(page: Path, profile: Path) -> float:
    """The page's own clock: navigation start to the end of its load handler."""
    chromium = shutil.which("chromium")
    if chromium is None:
        return float("nan")
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom",
         page.as_uri()], capture_output=True, text=True, check=True, timeout=120)
    found = re.search(r'data-load-ms="(\d+)"', result.stdout)
    return float(found.group(1)) if found else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=8.0, help="serial MB per machine")
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    args = parser.parse_args()
    out = args.keep or Path(tempfile.mkdtemp(prefix="nixtest-replay-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.2f}; trace in {out}")
    begin = time.perf_counter()
    path = generate(out, args.mb)
    print(f"generated: {path.stat().st_size / 1e6:.1f} MB trace, {len(MACHINES)} machines x "
          f"{args.mb:g} MB serial, 1 hour, in {time.perf_counter() - begin:.1f} s")

    begin = time.perf_counter()
    trace = open_trace(out)
    opened = time.perf_counter() - begin
    run = build_run(trace)
    folded = time.perf_counter() - begin
    print(f"open (library): read+index {opened:.2f} s, with the run folded {folded:.2f} s "
          f"({len(trace.events)} events, {sum(len(i.times) for i in trace.serial.values())} "
          "serial chunks)")

    replays = {m: ConsoleReplay(trace, m) for m in MACHINES}
    begin = time.perf_counter()
    for replay in replays.values():
        replay.build()
    print(f"keyframes: {time.perf_counter() - begin:.1f} s for the 4 consoles "
          f"({sum(r.keyframes for r in replays.values())} keyframes)")
    tracemalloc.start()
    ConsoleReplay(trace, MACHINES[0]).build()
    held = tracemalloc.get_traced_memory()[0] / (1 << 20)
    tracemalloc.stop()
    print(f"memory: one console's keyframes and scrollback lines hold {held:.0f} MiB")

    rng = random.Random(5)
    times = [round(rng.uniform(0, run.duration), 3) for _ in range(200)]
    library = []
    for t in times:
        started = time.perf_counter()
        moment(run, t)
        clone(replays[rng.choice(MACHINES)].at(t))
        library.append(time.perf_counter() - started)
    print(f"seek (library, moment + one console): median {ms(statistics.median(library))}, "
          f"p95 {ms(percentile(library, 0.95))}, max {ms(max(library))} (200 random times)")

    first_frame, seeks = asyncio.run(viewer_figures(out, times[:40]))
    print(f"viewer: start to first frame {first_frame:.2f} s; seek with a console shown: "
          f"median {ms(statistics.median(seeks))}, p95 {ms(percentile(seeks, 0.95))} "
          "(40 random times)")

    report = out / "report.html"
    begin = time.perf_counter()
    write_report(out, report)
    print(f"report: {report.stat().st_size / 1e6:.2f} MB, built in "
          f"{time.perf_counter() - begin:.1f} s")
    profile = out / "chromium-profile"
    loads = [chromium_load_ms(report, profile) for _ in range(3)]
    print(f"report in headless Chromium: loaded and rendered in {statistics.median(loads):.0f} "
          "ms (navigation start to the load handler, median of 3)")
    if args.keep is None:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
