"""The scheduler: N runs, J at a time, each a subprocess in its own session.

Runs get their own process group so that a Ctrl-C in the terminal reaches only the hunter,
which then ends each run through SIGTERM: the driver unwinds through its normal cleanup
(machines, switches, chaos helpers) and still writes its JUnit and trace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nixtest_tui.flaky.chaos import ChaosPlan, write_sidecar
from nixtest_tui.flaky.launch import Launcher, RunSlot, stop_group
from nixtest_tui.flaky.outcome import LOG_NAME, read_outcome
from nixtest_tui.flaky.starve import cpu_method
from nixtest_tui.flaky.summary import Summary

POLL_SECONDS = 0.2
STOP_GRACE = 60.0


@dataclass
class _Active:
    slot: RunSlot
    process: subprocess.Popen[bytes]
    started: float


class Hunter:
    """Call `hunt()` from a worker thread; `stop()` from anywhere (a signal handler, the UI)."""

    def __init__(self, launcher: Launcher, out_dir: Path, runs: int, jobs: int,
                 until_fail: bool = False, plan: ChaosPlan | None = None,
                 on_change: Callable[[Summary], None] | None = None) -> None:
        self.launcher = launcher
        self.out_dir = out_dir
        self.runs = runs
        self.jobs = max(1, jobs)
        self.until_fail = until_fail
        self.plan = plan or ChaosPlan()
        self.summary = Summary(planned=runs, chaos=self.plan.describe(),
                               isolation=launcher.isolation)
        self.on_change = on_change
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._active: list[_Active] = []
        self._state_root = Path(tempfile.mkdtemp(prefix="nxf-"))
        self.started = threading.Event()
        self.done = threading.Event()

    def stop(self, reason: str = "stopped by the user") -> None:
        if self.done.is_set():
            return
        if not self._stop.is_set():
            self.summary.stopped_early = reason
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def hunt(self) -> Summary:
        self.started.set()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        next_number = 1
        try:
            while True:
                self._reap()
                if not self._stop.is_set():
                    while len(self._active) < self.jobs and next_number <= self.runs:
                        self._start(next_number)
                        next_number += 1
                if self._stop.is_set() or (not self._active and next_number > self.runs):
                    break  # what still runs is ended below
                self._stop.wait(POLL_SECONDS)
        finally:
            self._end_all()
            shutil.rmtree(self._state_root, ignore_errors=True)
            self.done.set()
        return self.summary

    def _start(self, number: int) -> None:
        directory = self.out_dir / f"run-{number:03d}"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        state_dir = self._state_root / f"r{number:03d}"
        state_dir.mkdir(mode=0o700)
        slot = RunSlot(number, directory.resolve(), state_dir, self.plan.for_run(number))
        if slot.plan.active:
            write_sidecar(directory, slot.plan, cpu_method() if slot.plan.cpu_share else "")
        with open(directory / LOG_NAME, "wb") as log:
            process = subprocess.Popen(
                self.launcher.command(slot), env=self.launcher.environment(slot),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=directory)
        with self._lock:
            self._active.append(_Active(slot, process, time.monotonic()))
            self.summary.running = len(self._active)
        self._changed()

    def _reap(self) -> None:
        for active in list(self._active):
            status = active.process.poll()
            if status is None:
                continue
            self._finish(active, status, cancelled=False)

    def _finish(self, active: _Active, status: int, cancelled: bool) -> None:
        seconds = time.monotonic() - active.started
        self.launcher.collect(active.slot, status)
        outcome = read_outcome(active.slot.number, active.slot.directory, status, seconds,
                               cancelled)
        shutil.rmtree(active.slot.state_dir, ignore_errors=True)
        with self._lock:
            self._active.remove(active)
            # a new list, not an in-place sort: the UI thread reads it without the lock
            self.summary.outcomes = sorted([*self.summary.outcomes, outcome],
                                           key=lambda o: o.number)
            self.summary.running = len(self._active)
        if not outcome.passed and not cancelled and self.until_fail:
            self.stop(f"--until-fail: {outcome.name} failed")
        self._changed()

    def _end_all(self) -> None:
        """Stop what still runs (SIGTERM, then SIGKILL), all at once, then record them."""
        stoppers = [threading.Thread(target=stop_group, args=(a.process, STOP_GRACE))
                    for a in self._active]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        for active in list(self._active):
            self._finish(active, active.process.wait(), cancelled=True)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.summary)


def default_jobs(config: Path | None) -> int:
    """As many runs at once as there are cores, fewer when memory is short: each run needs
    its VMs' memory (`-m`, 256 MiB when the script does not say) plus ~300 MiB for QEMU and
    the driver."""
    import json
    import re

    cores = os.cpu_count() or 1
    need = 300
    if config is not None:
        try:
            vms = json.loads(config.read_text()).get("vms", {}).values()
            for vm in vms:
                found = re.search(r"\s-m\s+(\d+)", Path(vm["start_script"]).read_text())
                need += int(found.group(1)) if found else 256
        except (OSError, ValueError, KeyError):
            need += 1024
    available = _available_mib()
    return max(1, min(cores, available // need if available else cores))


def _available_mib() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0
