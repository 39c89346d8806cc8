"""Debian guest (real systemd) figures through the real driver: boot to backdoor, round trip.

Run with ./dev bench (needs root for the first build). Prints medians; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

from nixtest_tui.driver import Driver, QemuMachine
from nixtest_tui.driver.config import load_driver_configuration
from nixtest_tui.driver.logger import CompositeLogger, TerminalLogger
from nixtest_tui.guests.accel import choose_accelerator
from nixtest_tui.guests.debian import ensure_debian
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network


def boot_once(work: Path, image: GuestImage, accelerator: str,
              commands: int) -> tuple[float, float, list[float], float]:
    """(start → backdoor, → is-system-running, `succeed("true")` times, shutdown) of one VM."""
    config_path = write_network(Topology((MachineSpec("bench"),)), image, accelerator,
                                work / "net", "")
    config = load_driver_configuration(config_path)
    tmp = work / "tmp"
    tmp.mkdir()
    logger = CompositeLogger([TerminalLogger(io.StringIO(), colour=False)])
    with Driver(config, out_dir=work, logger=logger, tmp_dir=tmp) as driver:
        (machine,) = driver.machines
        assert isinstance(machine, QemuMachine)
        started = time.monotonic()
        machine.start()
        machine.connect()
        boot = time.monotonic() - started
        machine.succeed("systemctl is-system-running --wait")
        running = time.monotonic() - started
        trips = []
        for _ in range(commands):
            t0 = time.perf_counter()
            machine.succeed("true")
            trips.append(time.perf_counter() - t0)
        t0 = time.monotonic()
        machine.shutdown()
        return boot, running, trips, time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--boots", type=int, default=3)
    parser.add_argument("--commands", type=int, default=50)
    args = parser.parse_args()

    started = time.monotonic()
    image = ensure_debian()
    print(f"ensure_debian() (cached unless it had to build): {time.monotonic() - started:.2f} s")
    manifest = image.manifest
    print(f"image {image.directory}: build {manifest['build_seconds']} s (base tree "
          f"{manifest['base_tree_seconds']} s), {manifest['package_count']} packages")
    print(f"  vmlinux {manifest['vmlinux_bytes'] / 1e6:.1f} MB, stage1 "
          f"{manifest['initrd_bytes'] / 1e6:.2f} MB, rootfs.ext4 "
          f"{manifest['rootfs_image_bytes'] / 1e6:.0f} MB apparent, tree "
          f"{manifest['rootfs_tree_bytes'] / 1e6:.0f} MB")
    accelerator = choose_accelerator(image.kernel)
    print(f"accelerator: {accelerator}")

    boots, runnings, shutdowns, trips = [], [], [], []
    for run in range(args.boots):
        with tempfile.TemporaryDirectory() as out:
            boot, running, run_trips, shutdown = boot_once(Path(out), image, accelerator,
                                                           args.commands)
        boots.append(boot)
        runnings.append(running)
        shutdowns.append(shutdown)
        trips.extend(run_trips)
        print(f"  run {run + 1}: backdoor {boot:.2f} s, running {running:.2f} s, "
              f"shutdown {shutdown:.2f} s")
    print(f"driver start() -> backdoor connected, median of {len(boots)}: "
          f"{statistics.median(boots):.2f} s")
    print(f"-> is-system-running = running, median: {statistics.median(runnings):.2f} s")
    print(f"shutdown() -> QEMU exited, median: {statistics.median(shutdowns):.2f} s")
    print(f"succeed(\"true\"), median of {len(trips)}: {statistics.median(trips) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
