"""Files between host and guest through the 9p shared directory (`/tmp/shared` in the guest).

The guest runs upstream's commands, quoted as upstream quotes them, so the log reads the same
(`must succeed: mkdir -p /tmp/shared/tmpab12cd34`, `must succeed: cp -r ...`).

Where a copy from the guest lands: `out_dir / target_dir / name`, as upstream computes it, so an
absolute `target_dir` (a `TemporaryDirectory()` in the script) is that host directory. The
script is trusted; what the guest made is not. A name that is `..`, a symlink that an earlier
copy from the guest left inside the output directory, or a symlink at the destination (writing
through it would write wherever the guest pointed it) is refused with a `MachineError`.
Symlinks the guest copies out stay symlinks and are never followed.
"""

from __future__ import annotations

import base64
import os
import shlex
import shutil
import tempfile
import warnings
from abc import abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nixtest_tui.driver.errors import MachineError

GUEST_SHARED = Path("/tmp/shared")


def make_command(*args: str | Path) -> str:
    """A guest command line with every word quoted, as upstream builds them."""
    return " ".join(shlex.quote(str(arg)) for arg in args)


def _refuse(target_dir: str, name: str, why: str) -> MachineError:
    return MachineError(
        f"copy_from_machine(): {target_dir!r}/{name!r} is outside the chosen directory: {why}; "
        "remove it, or give another target_dir"
    )


def copy_destination(out_dir: Path, target_dir: str, name: str) -> Path:
    """`out_dir / target_dir / name` (an absolute `target_dir` replaces `out_dir`), refused
    when following it would leave the chosen directory through something a guest made."""
    if name in ("", ".", ".."):
        raise _refuse(target_dir, name, "the source has no file name (it ends in '/' or '..')")
    chosen = Path(os.path.normpath(out_dir / target_dir))
    root = Path(os.path.normpath(out_dir.absolute()))
    inside = [p for p in (chosen, *chosen.parents) if p.is_relative_to(root) and p != root]
    for part in reversed(inside):
        if part.is_symlink():
            raise _refuse(target_dir, name, f"{part} is a symlink (an earlier copy from a guest?)")
    destination = chosen / name
    if destination.is_symlink():
        raise _refuse(target_dir, name, f"{destination} is a symlink (an earlier copy from a "
                                        "guest?)")
    return destination


def _symlinks_in_the_way(copied: Path, target: Path) -> Iterable[Path]:
    """Paths of an existing target tree that a directory copy would write through."""
    for directory, subdirs, files in os.walk(copied):
        relative = Path(directory).relative_to(copied)
        for entry in (*subdirs, *files):
            existing = target / relative / entry
            if existing.is_symlink():
                yield existing


def _staging(shared_dir: Path) -> tempfile.TemporaryDirectory[str]:
    """A fresh directory per copy, so copies never meet each other's leftovers; what the guest
    wrote there as root is removed even when it is read-only."""
    return tempfile.TemporaryDirectory(dir=shared_dir, ignore_cleanup_errors=True)


class FileCopies:
    """`copy_from_host`, `copy_from_host_via_shell`, `copy_from_machine`, `copy_from_vm`."""

    out_dir: Path
    shared_dir: Path

    @abstractmethod
    def succeed(self, *commands: str, timeout: Any = None) -> str: ...

    def copy_from_host(self, source: str | Path, target: str) -> None:
        """Host file or directory to the guest; root owns the copy, the mode follows the host."""
        source = Path(source)
        with _staging(self.shared_dir) as staging:
            guest_staging = GUEST_SHARED / Path(staging).name
            self.succeed(make_command("mkdir", "-p", guest_staging))
            if source.is_dir():
                shutil.copytree(source, Path(staging) / source.name)
            else:
                shutil.copy(source, Path(staging) / source.name)
            self.succeed(make_command("mkdir", "-p", Path(target).parent))
            self.succeed(make_command("cp", "-r", guest_staging / source.name, target))

    def copy_from_host_via_shell(self, source: str | Path, target: str) -> None:
        """Small files only: the whole file travels base64-encoded in one command."""
        encoded = base64.b64encode(Path(source).read_bytes()).decode()
        self.succeed(f"mkdir -p $(dirname {target})", f"echo -n {encoded} | base64 -d > {target}")

    def copy_from_machine(self, source: str, target_dir: str = "") -> None:
        """Guest path to `out_dir / target_dir / <basename>`, through the shared directory."""
        name = Path(source).name
        target = copy_destination(self.out_dir, target_dir, name)
        with _staging(self.shared_dir) as staging:
            guest_staging = GUEST_SHARED / Path(staging).name
            self.succeed(make_command("mkdir", "-p", guest_staging))
            self.succeed(make_command("cp", "-r", source, guest_staging / name))
            copied = Path(staging) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if copied.is_dir() and not copied.is_symlink():
                if in_the_way := next(iter(_symlinks_in_the_way(copied, target)), None):
                    raise _refuse(target_dir, name, f"{in_the_way} is a symlink (an earlier "
                                                    "copy from a guest?)")
                shutil.copytree(copied, target, symlinks=True, dirs_exist_ok=True)
            else:
                shutil.copy(copied, target, follow_symlinks=False)

    def copy_from_vm(self, source: str, target_dir: str = "") -> None:
        """Upstream's deprecated name for `copy_from_machine`."""
        warnings.warn("Use copy_from_machine() instead", DeprecationWarning, stacklevel=2)
        self.copy_from_machine(source, target_dir)
