"""Debugger overhead: a script with a 200k-iteration Python loop and 50 `succeed("true")`,
run under the ScriptRunner with no breakpoints vs a plain exec, on the same guest, same run.

Run with ./dev bench. Prints medians and the ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

from nixtest_tui.debugger import ScriptRunner
from nixtest_tui.driver import Driver, QemuMachine
from nixtest_tui.driver.config import load_driver_configuration
from nixtest_tui.driver.logger import CompositeLogger, TerminalLogger
from nixtest_tui.guests.accel import choose_accelerator
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network
from nixtest_tui.guests.tiny import ensure_tiny

SCRIPT = """\
total = 0
for i in range(200_000):
    total += i % 7
for _ in range(50):
    bench.succeed("true")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    image = ensure_tiny()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        config = write_network(Topology((MachineSpec("bench", vlans=()),)), image,
                               choose_accelerator(image.kernel), root, SCRIPT)
        logger = CompositeLogger([TerminalLogger(io.StringIO(), colour=False)])
        (root / "tmp").mkdir()
        with Driver(load_driver_configuration(config), root, logger,
                    tmp_dir=root / "tmp") as driver:
            machine = driver.machines[0]
            assert isinstance(machine, QemuMachine)
            machine.connect()
            plain, debugged = [], []
            for _ in range(args.runs):
                started = time.perf_counter()
                driver.run_script()
                plain.append(time.perf_counter() - started)
                runner = ScriptRunner(driver, pause_on_failure=True)
                started = time.perf_counter()
                runner.start()
                runner.wait()
                debugged.append(time.perf_counter() - started)
                assert runner.state == "finished", runner.error
    p, d = statistics.median(plain), statistics.median(debugged)
    print(f"plain exec median {p:.3f} s, under the debugger {d:.3f} s "
          f"(median of {args.runs}), ratio {d / p:.2f}")


if __name__ == "__main__":
    main()
