"""Kernel pieces shared by the guest flavours: the release, a closed module set, depmod.

Both flavours boot the same stock Debian kernel package (guests.md §2.1) and need a small set of
its modules plus everything those depend on. The tiny flavour packs them into its initramfs; the
debian flavour puts them into its root file system and into a stage-1 initramfs. Keeping one
implementation means a kernel ABI bump or a renamed module is fixed once.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from nixtest_tui.guests.cpio import Entry
from nixtest_tui.guests.errors import GuestBuildError

INDEX_FILES = ("modules.order", "modules.builtin", "modules.builtin.modinfo")


def kernel_release(kernel_tree: Path) -> str:
    """The one `lib/modules/<release>` of an unpacked linux-image package."""
    releases = [p.name for p in (kernel_tree / "lib" / "modules").iterdir()]
    if len(releases) != 1:
        raise GuestBuildError(f"expected one kernel release in the package, found {releases}")
    return releases[0]


def install_modules(kernel_tree: Path, release: str, names: list[str], root: Path) -> Path:
    """Copy `names` and their dependencies to `root/lib/modules/<release>`, then run depmod.

    Returns that module directory. `root` may be a scratch directory or a guest's root tree.
    """
    source = kernel_tree / "lib" / "modules" / release
    by_name = {p.stem.replace("-", "_"): p for p in source.rglob("*.ko")}
    wanted: list[Path] = []
    pending = [name.replace("-", "_") for name in names]
    while pending:
        name = pending.pop()
        if name in (p.stem.replace("-", "_") for p in wanted):
            continue
        if name not in by_name:
            raise GuestBuildError(f"kernel {release} has no module {name}")
        wanted.append(by_name[name])
        pending.extend(dep.replace("-", "_") for dep in _module_depends(by_name[name]) if dep)

    target = root / "lib" / "modules" / release
    for module in wanted:
        destination = target / module.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(module, destination)
    for index in INDEX_FILES:
        if (source / index).exists():
            shutil.copyfile(source / index, target / index)
    run_tool(["depmod", "-b", str(root), release], "depmod (package kmod)")
    return target


def module_entries(kernel_tree: Path, release: str, names: list[str],
                   depmod_root: Path) -> list[Entry]:
    """The modules (with depmod's index files) as cpio entries, staged in `depmod_root`."""
    target = install_modules(kernel_tree, release, names, depmod_root)
    prefix = f"lib/modules/{release}"
    return [
        Entry.file(f"{prefix}/{path.relative_to(target).as_posix()}", path.read_bytes())
        for path in sorted(target.rglob("*"))
        if path.is_file()
    ]


def _module_depends(module: Path) -> list[str]:
    output = run_tool(["modinfo", "-F", "depends", str(module)], "modinfo (package kmod)")
    return output.strip().split(",") if output.strip() else []


def run_tool(command: list[str], what: str) -> str:
    """Run a host tool (also found in /usr/sbin for non-root PATHs); its stdout."""
    tool = shutil.which(command[0]) or shutil.which(command[0], path="/usr/sbin:/sbin")
    if tool is None:
        raise GuestBuildError(f"{what} is missing; run ./dev setup or apt-get install it")
    result = subprocess.run([tool, *command[1:]], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise GuestBuildError(f"{what} failed: {result.stderr.strip()}")
    return result.stdout
