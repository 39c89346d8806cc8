"""Choose the QEMU accelerator: KVM when it really works, TCG otherwise.

A /dev/kvm node proves little: on some hosts (nested virtualisation, Firecracker) QEMU opens it
and then hangs forever with no output. So we boot the guest kernel once under KVM with no root
file system; a working KVM panics and exits in well under a second, a broken one stays silent.
The verdict is cached per QEMU version, host kernel and guest kernel.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from pathlib import Path

from nixtest_tui.guests import cache

QEMU = "qemu-system-x86_64"
PROBE_SECONDS = 8.0


def choose_accelerator(kernel: Path, qemu: str = QEMU) -> str:
    """`NIXTEST_ACCEL` if set, else `kvm` if the probe boots, else `tcg`."""
    forced = os.environ.get("NIXTEST_ACCEL")
    if forced:
        return forced
    if not _kvm_device_usable():
        return "tcg"
    key = _probe_key(kernel, qemu)
    verdicts_file = cache.cache_root() / "accel.json"
    verdicts = _read_json(verdicts_file)
    if key not in verdicts:
        verdicts[key] = "kvm" if kvm_boots(kernel, qemu) else "tcg"
        verdicts_file.parent.mkdir(parents=True, exist_ok=True)
        verdicts_file.write_text(json.dumps(verdicts, indent=2) + "\n")
    return str(verdicts[key])


def kvm_boots(kernel: Path, qemu: str = QEMU, seconds: float = PROBE_SECONDS) -> bool:
    """Boot `kernel` under KVM without a root fs: True if it reaches its panic and exits."""
    command = [
        qemu, "-machine", "accel=kvm", "-m", "256", "-nodefaults", "-no-user-config",
        "-display", "none", "-serial", "stdio", "-no-reboot", "-kernel", str(kernel),
        "-append", "console=ttyS0 panic=-1 acpi=noirq",
    ]
    try:
        result = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, timeout=seconds, check=False
        )
    except (subprocess.TimeoutExpired, FileNotFoundError):
        return False
    return result.returncode == 0 and b"Kernel panic" in result.stdout


def _kvm_device_usable() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def _probe_key(kernel: Path, qemu: str) -> str:
    try:
        version = subprocess.run(
            [qemu, "--version"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[0]
    except (FileNotFoundError, IndexError):
        version = "unknown"
    stat = kernel.stat()
    digest = hashlib.sha256(f"{version}|{platform.release()}|{kernel}|{stat.st_size}".encode())
    return digest.hexdigest()[:16]


def _read_json(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
