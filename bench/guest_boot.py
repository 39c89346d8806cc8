"""Guest image and boot figures: build time (scratch, cached), size, boot to backdoor, round trip.

Run with ./dev bench. Prints medians; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nixtest_tui.driver import Driver, QemuMachine
from nixtest_tui.driver.config import load_driver_configuration
from nixtest_tui.driver.logger import CompositeLogger
from nixtest_tui.guests.accel import choose_accelerator
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network
from nixtest_tui.guests.tiny import ensure_tiny


def timed_build(cache_dir: Path) -> float:
    env = dict(os.environ, NIXTEST_CACHE_DIR=str(cache_dir))
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "nixtest_tui", "guests", "build"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def boot_once(work: Path, config: Path) -> tuple[float, list[float]]:
    """Start to backdoor through the driver's QemuMachine, then 100 `true` round trips."""
    driver = Driver(load_driver_configuration(config), work, CompositeLogger([]), tmp_dir=work)
    with driver:
        machine = driver.machines[0]
        assert isinstance(machine, QemuMachine)
        started = time.monotonic()
        machine.connect()
        boot = time.monotonic() - started
        trips = []
        for _ in range(100):
            t0 = time.perf_counter()
            machine.execute("true", timeout=None)
            trips.append(time.perf_counter() - t0)
        machine.shutdown()
        return boot, trips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--boots", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        cold = timed_build(Path(scratch))
        warm = timed_build(Path(scratch))
    print(f"image build from scratch (download included): {cold:.2f} s")
    print(f"image build when cached:                      {warm:.2f} s")

    image = ensure_tiny()
    sizes = {p.name: p.stat().st_size for p in (image.kernel, image.initrd)}
    print(f"image: vmlinux {sizes['vmlinux'] / 1e6:.1f} MB, initrd {sizes['initrd'] / 1e6:.2f} MB")
    for name, version in image.manifest["packages"].items():
        print(f"  {name} {version}")
    accelerator = choose_accelerator(image.kernel)
    print(f"accelerator: {accelerator}")

    boots, trips = [], []
    with tempfile.TemporaryDirectory() as out:
        work = Path(out)
        config = write_network(Topology((MachineSpec("bench"),)), image, accelerator, work, "")
        for run in range(args.boots):
            run_dir = work / f"run{run}"
            run_dir.mkdir()
            boot, run_trips = boot_once(run_dir, config)
            boots.append(boot)
            trips.extend(run_trips)
    print(f"QEMU start -> backdoor connected (driver), median of {len(boots)}: "
          f"{statistics.median(boots):.2f} s "
          f"(runs: {' '.join(f'{b:.2f}' for b in boots)})")
    print(f"`execute('true')` round trip, median of {len(trips)}: "
          f"{statistics.median(trips) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
