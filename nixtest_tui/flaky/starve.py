"""CPU starvation of one machine's QEMU: cgroup v2 `cpu.max`, else SIGSTOP/SIGCONT.

cgroup v2 is exact and costs nothing, but needs a cgroup2 mount with the `cpu` controller
enabled for its children and writable by us. Where that is missing (cgroup v1 hosts, many
containers, no root) a helper process stops and continues the QEMU on a 100 ms cycle instead,
with a seeded phase so two machines starved together are not in lockstep.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import signal
import sys
import time
from pathlib import Path

PERIOD_US = 100_000
PR_SET_PDEATHSIG = 1


def cgroup2_root() -> Path | None:
    """A cgroup2 mount whose `cpu` controller we may hand to a child group, or None."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in mounts:
        fields = line.split()
        if len(fields) < 3 or fields[2] != "cgroup2":
            continue
        root = Path(fields[1])
        try:
            controllers = (root / "cgroup.controllers").read_text().split()
            enabled = (root / "cgroup.subtree_control").read_text().split()
        except OSError:
            continue
        if "cpu" in controllers and "cpu" in enabled and os.access(root, os.W_OK):
            return root
    return None


def cpu_method() -> str:
    return "cgroup2 cpu.max" if cgroup2_root() is not None else "SIGSTOP/SIGCONT"


def die_with_parent() -> None:
    """For `preexec_fn`: the helper must not outlive the QEMU it starves."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def confine(pid: int, share_percent: float) -> Path | None:
    """Put `pid` into a new cgroup capped at `share_percent` of one core; None if we cannot."""
    root = cgroup2_root()
    if root is None:
        return None
    group = root / f"nixtest-flaky-{pid}"
    try:
        group.mkdir()
        (group / "cpu.max").write_text(f"{int(PERIOD_US * share_percent / 100)} {PERIOD_US}\n")
        (group / "cgroup.procs").write_text(f"{pid}\n")
    except OSError:
        remove_group(group)
        return None
    return group


def remove_group(group: Path) -> None:
    """A cgroup can be removed once empty; its QEMU may take a moment to be reaped."""
    deadline = time.monotonic() + 10
    while group.exists() and time.monotonic() < deadline:
        try:
            group.rmdir()
        except OSError:
            time.sleep(0.1)


def _stop_and_go(pid: int, share_percent: float, seed: int) -> None:
    rng = random.Random(seed)
    period = PERIOD_US / 1e6
    running = period * share_percent / 100
    time.sleep(rng.uniform(0, period))
    while True:
        os.kill(pid, signal.SIGSTOP)
        time.sleep(period - running)
        os.kill(pid, signal.SIGCONT)
        time.sleep(running)


def main(argv: list[str] | None = None) -> int:
    """The helper: `python -m nixtest_tui.flaky.starve PID SHARE SEED`, a child of the QEMU."""
    parser = argparse.ArgumentParser(prog="nixtest-flaky-starve")
    parser.add_argument("pid", type=int)
    parser.add_argument("share", type=float)
    parser.add_argument("seed", type=int)
    args = parser.parse_args(argv)
    group: Path | None = None

    def finish(_signum: int, _frame: object) -> None:
        try:
            os.kill(args.pid, signal.SIGCONT)  # never leave the QEMU stopped
        except ProcessLookupError:
            pass
        if group is not None:
            remove_group(group)
        sys.exit(0)

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C ends the run through its driver
    if os.getppid() != args.pid:
        return 0  # the QEMU is gone already
    group = confine(args.pid, args.share)
    if group is not None:
        signal.pause()  # wait for the QEMU's death (PDEATHSIG), then remove the group
        return 0
    try:
        _stop_and_go(args.pid, args.share, args.seed)
    except ProcessLookupError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
