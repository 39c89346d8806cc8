"""Host bridges `br<v>` that join containers' veths to a VLAN's vde switch (spec §7).

Two kinds of owner plug ports into one bridge: the driver's `VLan` (the `vde-tap<v>` device of
`vde_plug2tap`) and each container's `run-<name>-nspawn` wrapper (a veth). Whoever comes first
creates the bridge, whoever leaves it empty deletes it; a file lock per VLAN (upstream's path)
keeps a creator and a deleter from crossing. Everything happens in the caller's network
namespace, which is the driver's: in a Nix build that is the sandbox's private one, and our
tests run the driver under `unshare --net`.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from nixtest_tui.driver.errors import MachineError

LOCK_DIR = Path("/run/nixos-nspawn")


def bridge_name(vlan: int) -> str:
    return f"br{vlan}"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run iproute2's `ip`; a failure becomes a MachineError that quotes ip's complaint."""
    binary = shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin")
    if binary is None:
        raise MachineError("`ip` is missing: install Debian's iproute2")
    done = subprocess.run([binary, *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise MachineError(f"ip {' '.join(args)} failed: {done.stderr.strip()} "
                           "(containers on VLANs need root, i.e. CAP_NET_ADMIN)")
    return done


@contextmanager
def vlan_lock(vlan: int) -> Iterator[None]:
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCK_DIR / f"vlan-{vlan}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def link_exists(name: str) -> bool:
    # asks ip, not /sys/class/net: after `unshare --net` without a new mount namespace,
    # /sys still shows the namespace that mounted it
    return ip("link", "show", "dev", name, check=False).returncode == 0


def _ensure_bridge(vlan: int) -> str:
    """Called with the VLAN's lock held. The bridge gets the `.254`/`::fe` host addresses."""
    name = bridge_name(vlan)
    if not link_exists(name):
        ip("link", "add", name, "type", "bridge")
        ip("addr", "add", f"192.168.{vlan}.254/24", "dev", name)
        _write(f"/proc/sys/net/ipv6/conf/{name}/accept_dad", "0")
        ip("-6", "addr", "add", f"2001:db8:{vlan}::fe/64", "dev", name)
        ip("link", "set", name, "up")
    return name


def attach(vlan: int, port: str) -> None:
    """Plug the existing link `port` into `br<vlan>`, creating the bridge if needed."""
    with vlan_lock(vlan):
        bridge = _ensure_bridge(vlan)
        ip("link", "set", port, "master", bridge)
        ip("link", "set", port, "up")


def detach(vlan: int, port: str | None) -> None:
    """Remove `port` (if it still exists) and the bridge once no port is left in it."""
    with vlan_lock(vlan):
        if port is not None and link_exists(port):
            ip("link", "del", port, check=False)
        bridge = bridge_name(vlan)
        if link_exists(bridge) and not ip("-o", "link", "show", "master", bridge).stdout.strip():
            ip("link", "del", bridge, check=False)


def wait_for_link(name: str, alive: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until the kernel shows `name` (a tap created by another process)."""
    deadline = time.monotonic() + timeout
    while not link_exists(name):
        if time.monotonic() > deadline:
            raise MachineError(f"network device {name} did not appear within {timeout:.0f} s")
        if not alive():
            raise MachineError(f"the process that should create {name} exited")
        time.sleep(0.02)


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w") as handle:
            handle.write(value)
    except OSError:
        pass  # IPv6 disabled: the bridge still works for IPv4

