"""Where a driver keeps its state, and the paths it must not leave.

Upstream names every state dir after the machine alone (`<tmp>/vm-state-<name>`, `vde<n>.ctl`,
`shared-xchg`), so two drivers sharing `$XDG_RUNTIME_DIR` delete each other's sockets (spec
§13 item 17). The first driver keeps upstream's layout, which `--keep-machine-state` and the
advice to delete `/tmp/vm-state-<name>` rely on; a second one, finding the root locked, works
in a private per-run subdirectory instead of refusing, because running two tests side by side
is legitimate.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO

from nixtest_tui.driver.errors import MachineError

LOCK_NAME = "nixtest-driver.lock"


class StateRoot:
    """The directory one driver owns while it runs; `release()` gives it back."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.path = base
        self.per_run = False
        self.holder = ""
        self._lock: IO[str] | None = None

    def claim(self) -> Path:
        """`base` when no other driver holds it, else a fresh 0700 subdirectory of it."""
        lock = open(self.base / LOCK_NAME, "a+")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.holder = _holder(lock)
            lock.close()
            self.path = Path(tempfile.mkdtemp(prefix="run-", dir=self.base))
            self.per_run = True
            return self.path
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}\n")
        lock.flush()
        self._lock = lock
        return self.path

    def release(self, keep: bool) -> None:
        """Drop the lock; a per-run directory goes too unless the state is to be kept."""
        if self._lock is not None:
            self._lock.close()  # closing releases the flock
            self._lock = None
        if self.per_run and not keep:
            shutil.rmtree(self.path, ignore_errors=True)


def _holder(lock: IO[str]) -> str:
    """Who holds the lock: it writes its pid just after taking it, so allow it a moment."""
    deadline = time.monotonic() + 1.0
    while True:
        lock.seek(0)
        holder = lock.read().strip()
        if holder or time.monotonic() > deadline:
            return holder or "another driver"
        time.sleep(0.01)


def private_dir(directory: Path) -> None:
    """A state dir in a shared /tmp could have been planted (a symlink, another user's dir):
    refuse those, and tighten one that a previous run left with wider permissions."""
    info = os.lstat(directory)
    if directory.is_symlink() or not directory.is_dir() or info.st_uid != os.getuid():
        raise MachineError(f"{directory} is not a directory owned by this user; remove it or "
                           "set XDG_RUNTIME_DIR to a private directory")
    if info.st_mode & 0o077:
        directory.chmod(0o700)


def inside_out_dir(out_dir: Path, target_dir: str, name: str) -> Path:
    """`out_dir/target_dir/name`, refused when it would land outside the output dir (`..`, an
    absolute target_dir, a symlink that an earlier copy from the guest left there)."""
    root = out_dir.resolve()
    destination = (root / target_dir / name).resolve()
    if name in ("", ".", "..") or destination == root or not destination.is_relative_to(root):
        raise MachineError(
            f"copy_from_machine(): {target_dir!r}/{name!r} is outside the output directory "
            f"{root}; give a relative target_dir below it"
        )
    return destination
