"""Driver figures: command latency (our framing vs upstream's), boot, start_all for 1 and 4 VMs.

Run with ./dev bench. Prints medians measured in one run on the same guests; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import shlex
import statistics
import tempfile
import threading
import time
from pathlib import Path

from nixtest_tui.driver import Driver, QemuMachine
from nixtest_tui.driver.config import load_driver_configuration
from nixtest_tui.driver.logger import CompositeLogger, TerminalLogger
from nixtest_tui.guests.accel import choose_accelerator
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network
from nixtest_tui.guests.tiny import ensure_tiny


def upstream_round_trip(machine: QemuMachine, command: str) -> tuple[int, bytes]:
    """Upstream's framing, faithfully: stdout as base64, then a second trip for the status."""
    assert machine.shell is not None
    sock = machine.shell.sock
    with machine.shell.lock:
        quoted = shlex.quote(f"set -euo pipefail; {command}")
        sock.sendall(f"bash -c {quoted} | (base64 -w 0; echo)\n".encode())
        output = b""
        while not output.endswith(b"\n"):
            output += sock.recv(4096)
        sock.sendall(b"echo ${PIPESTATUS[0]}\n")
        status = b""
        while not status.endswith(b"\n"):
            status += sock.recv(4096)
    return int(status), output


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def network(names: list[str], root: Path) -> Path:
    image = ensure_tiny()
    topology = Topology(tuple(MachineSpec(n) for n in names))
    return write_network(topology, image, choose_accelerator(image.kernel), root, "")


def quiet_driver(config_path: Path, root: Path) -> Driver:
    logger = CompositeLogger([TerminalLogger(io.StringIO(), colour=False)])
    tmp = root / "tmp"
    tmp.mkdir(exist_ok=True)
    return Driver(load_driver_configuration(config_path), root, logger, tmp_dir=tmp)


def bench_latency(count: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with quiet_driver(network(["bench"], root), root) as driver:
            machine = driver.machines[0]
            assert isinstance(machine, QemuMachine)
            machine.connect()
            ours, theirs = [], []
            for _ in range(count):  # interleaved, so that both see the same conditions
                started = time.perf_counter()
                machine.succeed("true")
                ours.append(time.perf_counter() - started)
                started = time.perf_counter()
                upstream_round_trip(machine, "true")
                theirs.append(time.perf_counter() - started)
    print(f"succeed('true'), median of {count}: ours {median_ms(ours):.1f} ms, "
          f"upstream framing {median_ms(theirs):.1f} ms, "
          f"ratio {median_ms(ours) / median_ms(theirs):.2f}")


def bench_boot(runs: int) -> None:
    boots = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            with quiet_driver(network(["bench"], root), root) as driver:
                machine = driver.machines[0]
                assert isinstance(machine, QemuMachine)
                started = time.monotonic()
                machine.connect()
                boots.append(time.monotonic() - started)
    print(f"start -> backdoor connected, median of {runs}: {statistics.median(boots):.2f} s "
          f"(runs: {' '.join(f'{b:.2f}' for b in boots)})")


def bench_start_all(count: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        names = [f"vm{i}" for i in range(count)]
        with quiet_driver(network(names, root), root) as driver:
            started = time.monotonic()
            driver.start_all()
            started_all = time.monotonic() - started
            threads = [threading.Thread(target=m.connect) for m in driver.machines_qemu]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            connected = time.monotonic() - started
    print(f"start_all() with {count} VM(s): returns after {started_all:.2f} s, "
          f"all backdoors connected after {connected:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--boots", type=int, default=5)
    args = parser.parse_args()
    bench_latency(args.commands)
    bench_boot(args.boots)
    bench_start_all(1)
    bench_start_all(4)


if __name__ == "__main__":
    main()
