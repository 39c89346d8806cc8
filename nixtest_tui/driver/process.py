"""Child processes that never outlive the driver.

Every QEMU and vde_switch child gets PR_SET_PDEATHSIG=SIGKILL, so even a SIGKILL of the driver
takes them along. The kernel ties that signal to the *thread* that forked, not the process, so
all children are forked from one long-lived spawner thread: a machine started from a short-lived
worker thread (start_all starts machines in parallel) would otherwise be killed the moment its
starter thread ends.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nixtest-spawner")
_spawner_lock = threading.Lock()


def _die_with_parent(parent_pid: int, death_signal: int) -> None:
    # Runs in the child between fork and exec: async-signal-safe calls only.
    _libc.prctl(PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def spawn(args: list[str] | str, death_signal: int = signal.SIGKILL,
          **popen_kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(args, **popen_kwargs)` whose child dies with this process.

    `death_signal` SIGTERM suits children that must clean up after themselves (a container
    wrapper removes its network links), SIGKILL everything else.
    """
    parent = os.getpid()

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 - arguments are the caller's
            args, preexec_fn=lambda: _die_with_parent(parent, death_signal), **popen_kwargs
        )

    with _spawner_lock:
        return _spawner.submit(start).result()


def terminate(process: subprocess.Popen[Any], grace: float = 5.0) -> int:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL; returns the exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            return process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()
