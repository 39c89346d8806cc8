"""`run-<name>-nspawn`'s body: prepare a container's root and network, run systemd-nspawn.

This is our counterpart of nixpkgs' nspawn-container wrapper (spec §10.2), for the Debian
guest tree instead of a NixOS closure. The driver starts it with a clean environment
(`RUN_NSPAWN_ROOT_DIR`, `RUN_NSPAWN_SHARED_DIR`, `NOTIFY_SOCKET`) and learns readiness from the
notify socket, which systemd-nspawn itself writes to.

Network: the container's namespace is held by a `sleep` child started under `unshare --net`,
not a name in /run/netns, so nothing named outlives a killed wrapper; each interface is a veth
pair whose host end joins the `br<vlan>` bridge of the driver's namespace (driver/netbridge.py)
and whose container end carries the 52:54:00:12:VV:NN MAC from which the guest's network-setup
derives its addresses, exactly as for a VM.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from nixtest_tui.driver import netbridge
from nixtest_tui.driver.errors import MachineError
from nixtest_tui.driver.nspawn_host import layers_dir, unmount_root

STOP_GRACE = 20.0  # seconds nspawn gets for an orderly container shutdown after SIGTERM
JOURNALD_DROP_IN = "[Journal]\nStorage=persistent\nForwardToConsole=no\n"
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
PR_SET_PDEATHSIG = 1


class WrapperError(Exception):
    """Anything that keeps the container from starting; printed as one line, exit 1."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="run-nspawn",
        description="Start one test container with systemd-nspawn (needs root).",
    )
    parser.add_argument("--container-name", required=True)
    parser.add_argument("--root-dir", help="container root; $RUN_NSPAWN_ROOT_DIR wins")
    parser.add_argument("--template", help="tree copied into an empty root dir")
    parser.add_argument("--interfaces-json", default="[]",
                        help='[{"name": "eth1", "vlan": 1, "mac": "52:54:00:12:01:02"}, ...]')
    parser.add_argument("--cmdline-json", default="[]",
                        help="kernel-command-line words for the guest's setup scripts")
    parser.add_argument("nspawn_options", nargs=argparse.REMAINDER,
                        help="after --: options passed to systemd-nspawn")
    args = parser.parse_args(argv)
    if args.nspawn_options[:1] == ["--"]:
        args.nspawn_options = args.nspawn_options[1:]
    return args


def host_link_name(container: str, ifname: str) -> str:
    """Upstream's `<container>-<ifname>`, shortened with a hash to the kernel's 15 bytes."""
    name = f"{container}-{ifname}"
    if len(name) <= 15:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:4]
    return f"{name[:10]}-{digest}"


def prepare_root(root: Path, template: str | None, name: str, cmdline: list[str]) -> bool:
    """Give an empty root the template's tree, then write this container's own settings.

    The tree is mounted as the lower layer of an overlay (instant, and the shared tree is never
    written); where overlayfs is unavailable it is copied (~1-4 s for the debian tree).
    Returns whether an overlay was mounted, which the caller unmounts at the end.
    """
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    root.chmod(0o755)  # the driver makes state dirs 0700; users inside must traverse "/"
    mounted = False
    if not (root / "usr").is_dir():
        if not template:
            raise WrapperError(f"{root} holds no system and no --template was given")
        mounted = _mount_overlay(Path(template), root)
        if not mounted:
            _copy_tree(Path(template), root)
    etc = root / "etc"
    (etc / "testguest.cmdline").write_text(" ".join(cmdline) + "\n")
    (etc / "hostname").write_text(_host_name(name, cmdline) + "\n")
    drop_ins = etc / "systemd" / "journald.conf.d"
    drop_ins.mkdir(parents=True, exist_ok=True)
    (drop_ins / "90-container.conf").write_text(JOURNALD_DROP_IN)
    (root / "var" / "log" / "journal").mkdir(parents=True, exist_ok=True)
    return mounted


def _host_name(name: str, cmdline: list[str]) -> str:
    """The host name network-setup will set (`one_two` → `onetwo`), so systemd sets it first."""
    for word in cmdline:
        if word.startswith("testguest.hostname="):
            return word.partition("=")[2]
    return name


def _mount_overlay(template: Path, root: Path) -> bool:
    layers = layers_dir(root)
    for part in ("upper", "work"):
        (layers / part).mkdir(parents=True, exist_ok=True)
    options = f"lowerdir={template},upperdir={layers / 'upper'},workdir={layers / 'work'}"
    done = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(root)],
                          capture_output=True, text=True, check=False)
    return done.returncode == 0


def _copy_tree(template: Path, root: Path) -> None:
    copied = subprocess.run(["cp", "-a", "--reflink=auto", f"{template}/.", str(root)],
                            capture_output=True, text=True, check=False)
    if copied.returncode != 0:
        raise WrapperError(f"copying {template} to {root} failed: {copied.stderr.strip()}")


def _die_with_parent(sig: int) -> None:
    _libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


class Container:
    """The processes and links of one container, torn down in reverse on every way out."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.name: str = args.container_name
        self.root = Path(os.environ.get("RUN_NSPAWN_ROOT_DIR") or args.root_dir
                         or f"./{self.name}-root").absolute()
        self.interfaces: list[dict[str, object]] = json.loads(args.interfaces_json)
        self.cmdline: list[str] = json.loads(args.cmdline_json)
        self.template: str | None = args.template
        self.options: list[str] = list(args.nspawn_options)
        self.holder: subprocess.Popen[bytes] | None = None
        self.nspawn: subprocess.Popen[bytes] | None = None
        self.host_links: list[tuple[int, str]] = []
        self.stopping = False
        self.mounted = False

    def run(self) -> int:
        self.mounted = prepare_root(self.root, self.template, self.name, self.cmdline)
        self.holder = self._hold_network_namespace()
        for interface in self.interfaces:
            self._add_interface(str(interface["name"]), int(str(interface["vlan"])),
                                str(interface["mac"]))
        command = ["systemd-nspawn", *self.options, f"--directory={self.root}",
                   f"--network-namespace-path=/proc/{self.holder.pid}/ns/net"]
        shared = os.environ.get("RUN_NSPAWN_SHARED_DIR")
        if shared:
            command.insert(1, f"--bind={shared}:/tmp/shared")
        self.nspawn = subprocess.Popen(  # noqa: S603 - our own argv
            command, preexec_fn=lambda: _die_with_parent(signal.SIGTERM))
        print(f"systemd-nspawn's PID is {self.nspawn.pid}", flush=True)
        return self.nspawn.wait()

    def stop(self, _signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        """SIGTERM makes nspawn power the container off in order; SIGKILL if that stalls."""
        if self.stopping or self.nspawn is None:
            if self.nspawn is None:
                raise SystemExit(143)
            return
        self.stopping = True
        self.nspawn.send_signal(signal.SIGTERM)
        # within the driver's 30 s before its SIGKILL, so that cleanup() still runs
        signal.signal(signal.SIGALRM, self._kill_stalled)
        signal.alarm(int(STOP_GRACE))

    def _kill_stalled(self, _signum: int, _frame: FrameType | None) -> None:
        if self.nspawn is not None and self.nspawn.poll() is None:
            print(f"run-{self.name}-nspawn: the container did not stop within "
                  f"{STOP_GRACE:.0f} s; killing systemd-nspawn", file=sys.stderr, flush=True)
            self.nspawn.kill()

    def wait_after_stop(self) -> None:
        if self.nspawn is not None and self.nspawn.poll() is None:
            try:
                self.nspawn.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait()

    def cleanup(self) -> None:
        self.wait_after_stop()
        for vlan, link in self.host_links:  # while the holder keeps the peer ends alive
            try:
                netbridge.detach(vlan, link)
            except MachineError as exc:
                print(f"run-{self.name}-nspawn: {exc}", file=sys.stderr)
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait()
        var_empty = self.root / "var" / "empty"
        if var_empty.exists() and shutil.which("chattr"):
            subprocess.run(["chattr", "-i", str(var_empty)], capture_output=True, check=False)
        if self.mounted:
            unmount_root(self.root)

    def _hold_network_namespace(self) -> subprocess.Popen[bytes]:
        holder = subprocess.Popen(  # noqa: S603
            ["unshare", "--net", "--", "sleep", "infinity"],
            preexec_fn=lambda: _die_with_parent(signal.SIGKILL))
        own = os.stat("/proc/self/ns/net").st_ino
        deadline = time.monotonic() + 10
        while True:  # unshare has switched namespaces once /proc shows a different inode
            try:
                if os.stat(f"/proc/{holder.pid}/ns/net").st_ino != own:
                    return holder
            except FileNotFoundError:
                pass
            if holder.poll() is not None or time.monotonic() > deadline:
                raise WrapperError("unshare --net failed: cannot make the container's network")
            time.sleep(0.005)

    def _add_interface(self, ifname: str, vlan: int, mac: str) -> None:
        assert self.holder is not None
        link = host_link_name(self.name, ifname)
        if netbridge.link_exists(link):
            netbridge.ip("link", "del", link, check=False)  # left by a killed earlier run
        netbridge.ip("link", "add", link, "type", "veth", "peer", "name", ifname,
                  "address", mac, "netns", str(self.holder.pid))
        self.host_links.append((vlan, link))
        netbridge.attach(vlan, link)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    prefix = f"run-{args.container_name}-nspawn"
    if os.geteuid() != 0:
        print(f"{prefix}: systemd-nspawn needs root; run the test driver as root "
              "(for example with sudo)", file=sys.stderr)
        return 1
    if shutil.which("systemd-nspawn") is None:
        print(f"{prefix}: systemd-nspawn is missing: install Debian's systemd-container",
              file=sys.stderr)
        return 1
    container = Container(args)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, container.stop)
    try:
        return container.run()
    except (WrapperError, MachineError) as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        return 1
    finally:
        container.cleanup()


if __name__ == "__main__":
    sys.exit(main())
