"""What a host needs before systemd-nspawn can run there (spec §10.1, checklist 42).

Outside a Nix build we check and explain; inside the Nix sandbox (`NIX_BUILD_TOP` set, not a
`nix-shell`) the host is a bare build chroot, so we prepare it as upstream does: a writable
`/run` with `/run/netns`, `/var/run` pointing there, cgroup2 on `/sys/fs/cgroup`, an
`/etc/os-release` and a machine id.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from nixtest_tui.driver.errors import MachineError


def in_nix_sandbox(env: dict[str, str] | None = None) -> bool:
    env = dict(os.environ) if env is None else env
    return "NIX_BUILD_TOP" in env and "IN_NIX_SHELL" not in env


def require_container_host(names: list[str]) -> None:
    """Fail before any VM boots when the test's containers cannot run here."""
    listed = ", ".join(names)
    if os.geteuid() != 0:
        raise MachineError(f"this test declares containers ({listed}); systemd-nspawn needs root: "
                           "run the driver as root (for example with sudo)")
    for tool, package in (("systemd-nspawn", "systemd-container"), ("nsenter", "util-linux"),
                          ("journalctl", "systemd")):
        if shutil.which(tool) is None:
            raise MachineError(f"containers need {tool}: install Debian's {package}")


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def prepare_sandbox_host(root: Path = Path("/")) -> list[str]:
    """Make a Nix build sandbox fit for nspawn; returns what was done, for the log."""
    done: list[str] = []
    run = root / "run"
    if not os.access(run, os.W_OK):
        run.mkdir(exist_ok=True)
        _run("mount", "-t", "tmpfs", "none", str(run))
        done.append("mounted a tmpfs on /run")
    (run / "netns").mkdir(exist_ok=True)
    var_run = root / "var" / "run"
    if not var_run.exists():
        var_run.parent.mkdir(parents=True, exist_ok=True)
        var_run.symlink_to("/run")
        done.append("linked /var/run to /run")
    cgroup = root / "sys" / "fs" / "cgroup"
    if not (cgroup / "cgroup.controllers").exists():
        cgroup.mkdir(parents=True, exist_ok=True)
        _run("mount", "-t", "cgroup2", "none", str(cgroup))
        done.append("mounted cgroup2 on /sys/fs/cgroup")
    os_release = root / "etc" / "os-release"
    if not os_release.exists():
        os_release.parent.mkdir(parents=True, exist_ok=True)
        os_release.write_text("")
        done.append("created an empty /etc/os-release")
    machine_id = root / "etc" / "machine-id"
    if not machine_id.exists() or not machine_id.read_text().strip():
        _run("systemd-machine-id-setup", f"--root={root}")
        done.append("ran systemd-machine-id-setup")
    return done


def layers_dir(root: Path) -> Path:
    """Where our wrapper keeps a container root's overlay layers: beside the root, not in it."""
    return root.parent / f".{root.name}.overlay"


def unmount_root(root: Path) -> None:
    """Unmount an overlay root; lazily if something still holds it (a dying process)."""
    if os.path.ismount(root):
        done = subprocess.run(["umount", str(root)], capture_output=True, check=False)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(root)], capture_output=True, check=False)
