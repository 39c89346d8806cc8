"""Flaky hunter throughput: runs per hour of the demo at --jobs 1 and --jobs 2.

Run with .venv/bin/python bench/flaky.py [--runs 4] [--keep DIR].
Each setting is one hunt of `--runs` demo runs without chaos (`nixtest-tui flaky --demo
--plain`), timed from start to the summary; runs per hour = runs / wall time. Each run boots
the demo's three tiny VMs under TCG, so on a 2-core machine two runs at once compete for the
cores. Other processes skew the figures; the load average is printed. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_hunt(out: Path, runs: int, jobs: int) -> tuple[float, dict[str, object]]:
    out.mkdir(parents=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "nixtest_tui", "flaky", "--demo", "--plain",
                    "--runs", str(runs), "--jobs", str(jobs), "-o", str(out),
                    "--json", str(out / "summary.json")],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - started
    return wall, json.loads((out / "summary.json").read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--keep", type=Path, default=None, help="keep the runs here")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-flaky-"))
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.1f}")
    try:
        for jobs in (1, 2):
            wall, summary = one_hunt(root / f"jobs-{jobs}", args.runs, jobs)
            seconds = [float(r["seconds"]) for r in summary["runs"]]  # type: ignore[union-attr]
            print(f"--jobs {jobs}: {args.runs} runs in {wall:.1f} s = "
                  f"{args.runs * 3600 / wall:.0f} runs/hour; per run {min(seconds):.1f}-"
                  f"{max(seconds):.1f} s; passed {summary['passed']}/{summary['finished']}; "
                  f"load average {os.getloadavg()[0]:.1f}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
