"""Container vs Debian VM vs tiny VM: start-to-ready and per-command latency, in one run.

"Ready" is what a test waits for first: the backdoor for a VM (`wait_for_unit` of
multi-user.target on the Debian VM, which is where its systemd is done), the notify socket's
READY=1 for a container. Needs root (containers). Prints medians; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from nixtest_tui.driver import Driver
from nixtest_tui.driver.base import BaseMachine
from nixtest_tui.driver.config import load_driver_configuration
from nixtest_tui.driver.logger import CompositeLogger, TerminalLogger
from nixtest_tui.guests.accel import choose_accelerator
from nixtest_tui.guests.debian import ensure_debian
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network
from nixtest_tui.guests.tiny import ensure_tiny


def one_machine(root: Path, image: GuestImage, kind: str, tree: Path | None) -> Driver:
    topology = Topology((MachineSpec("m", vlans=(), kind=kind),))
    config = write_network(topology, image, choose_accelerator(image.kernel), root / "net", "",
                           container_tree=tree)
    logger = CompositeLogger([TerminalLogger(io.StringIO(), colour=False)])
    (root / "tmp").mkdir()
    return Driver(load_driver_configuration(config), root, logger, tmp_dir=root / "tmp")


def measure(label: str, image: GuestImage, kind: str, ready: Callable[[BaseMachine], object],
            boots: int, commands: int, tree: Path | None = None) -> tuple[float, float]:
    starts, latencies = [], []
    for _ in range(boots):
        with tempfile.TemporaryDirectory(prefix="nixtest-bench-") as tmp, \
                one_machine(Path(tmp), image, kind, tree) as driver:
            machine = driver.machines[0]
            began = time.monotonic()
            machine.start()
            ready(machine)
            starts.append(time.monotonic() - began)
            for _ in range(commands):
                began = time.monotonic()
                machine.succeed("true")
                latencies.append(time.monotonic() - began)
            machine.shutdown()
    start, command = statistics.median(starts), statistics.median(latencies) * 1000
    print(f"{label:<12} start-to-ready {start:6.2f} s (median of {boots}: "
          f"{' '.join(f'{s:.2f}' for s in starts)})   succeed('true') {command:6.1f} ms "
          f"(median of {len(latencies)})", flush=True)
    return start, command


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--boots", type=int, default=3)
    parser.add_argument("--commands", type=int, default=50)
    args = parser.parse_args()
    debian, tiny = ensure_debian(), ensure_tiny()
    print(f"guests: tiny {tiny.directory.name}, debian {debian.directory.name}; "
          f"accelerator {choose_accelerator(tiny.kernel)}")
    results = {
        "container": measure("container", debian, "container",
                             lambda m: m.wait_for_unit("multi-user.target"),
                             args.boots, args.commands, debian.rootfs_tree),
        "tiny VM": measure("tiny VM", tiny, "vm", lambda m: m.succeed("true"),
                           args.boots, args.commands),
        "debian VM": measure("debian VM", debian, "vm",
                             lambda m: m.wait_for_unit("multi-user.target"),
                             args.boots, args.commands),
    }
    container_start, container_command = results["container"]
    for label in ("tiny VM", "debian VM"):
        start, command = results[label]
        print(f"container vs {label}: start {start / container_start:.1f}x faster, "
              f"command {command / container_command:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
