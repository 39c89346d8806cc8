"""The shell tab's lines on a tiny guest: what a quick line costs, and how soon ctrl+c frees it.

* a quick line (`echo $((6*7))`) through `ShellSession.run` against the same command through
  `machine.execute` (one round trip): the job, its poll and the clean-up;
* `sleep 100` cancelled at a random moment: from `cancel()` to `run()` returning (the
  guest command killed), then to the next line's answer.

Prints medians and p95; asserts nothing.
"""

from __future__ import annotations

import io
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from nixtest_tui.driver import Driver, QemuMachine
from nixtest_tui.driver.config import load_driver_configuration
from nixtest_tui.driver.logger import CompositeLogger, TerminalLogger
from nixtest_tui.driver.shell_line import LineResult, ShellSession
from nixtest_tui.guests.accel import choose_accelerator
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network
from nixtest_tui.guests.tiny import ensure_tiny


def summary(name: str, values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"{name}: median {statistics.median(values) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def run_into(shell: ShellSession, line: str, results: list[LineResult]) -> None:
    results.append(shell.run(line))


def main() -> None:
    image = ensure_tiny()
    with tempfile.TemporaryDirectory() as root_name:
        root = Path(root_name)
        config = write_network(Topology((MachineSpec("bench"),)), image,
                               choose_accelerator(image.kernel), root / "net", "")
        (root / "tmp").mkdir()
        logger = CompositeLogger([TerminalLogger(io.StringIO(), colour=False)])
        with Driver(load_driver_configuration(config), out_dir=root, logger=logger,
                    tmp_dir=root / "tmp") as driver:
            [machine] = driver.machines
            assert isinstance(machine, QemuMachine)
            machine.connect()
            shell = ShellSession(machine)
            plain, lines = [], []
            for _ in range(30):
                started = time.monotonic()
                machine.execute("echo $((6*7))")
                plain.append(time.monotonic() - started)
                started = time.monotonic()
                shell.run("echo $((6*7))")
                lines.append(time.monotonic() - started)
            print(summary("execute('echo $((6*7))')", plain))
            print(summary("shell line 'echo $((6*7))'", lines))
            freed, answered = [], []
            for _ in range(10):
                results: list[LineResult] = []
                thread = threading.Thread(target=run_into, args=(shell, "sleep 100", results))
                thread.start()
                time.sleep(random.uniform(0.2, 1.5))  # noqa: S311 - a benchmark's jitter
                cancelled = time.monotonic()
                shell.cancel()
                thread.join()
                freed.append(time.monotonic() - cancelled)
                shell.run("echo ok")
                answered.append(time.monotonic() - cancelled)
            print(summary("ctrl+c to the line's end (guest command killed)", freed))
            print(summary("ctrl+c to `echo ok` answered", answered))


if __name__ == "__main__":
    main()
