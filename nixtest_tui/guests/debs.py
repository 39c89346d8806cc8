"""Resolve, download and unpack the Debian packages the guests are made of.

Versions are resolved through apt on every build, never hard-coded: the kernel ABI (6.1.0-NN)
changes with each security upload, so `linux-image-amd64`'s dependency is followed instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from nixtest_tui.guests.errors import GuestBuildError

KERNEL_META = "linux-image-amd64"


@dataclass(frozen=True)
class Package:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}={self.version}"


def _apt(*args: str, cwd: Path | None = None) -> str:
    try:
        result = subprocess.run(
            args, cwd=cwd, capture_output=True, text=True, check=False, timeout=600
        )
    except FileNotFoundError as exc:
        raise GuestBuildError(
            f"{args[0]} is not installed; the guest builder needs Debian's apt tools "
            "(run ./dev setup on a Debian or Ubuntu host)"
        ) from exc
    if result.returncode != 0:
        raise GuestBuildError(
            f"`{' '.join(args)}` failed (exit {result.returncode}): {result.stderr.strip()}\n"
            "If the package lists are missing or stale, run `apt-get update` (./dev setup does)."
        )
    return result.stdout


def candidate_versions(names: list[str]) -> dict[str, str]:
    """The versions apt would install now, from one `apt-cache policy` call."""
    found: dict[str, str] = {}
    current = ""
    for line in _apt("apt-cache", "policy", *names).splitlines():
        if line and not line.startswith(" "):
            current = line.rstrip(":")
            continue
        key, _, value = line.strip().partition(":")
        if key == "Candidate" and value.strip() not in ("", "(none)"):
            found[current] = value.strip()
    for name in names:
        if name not in found:
            raise GuestBuildError(
                f"apt knows no installable version of {name}; run `apt-get update` so that the "
                "package lists include Debian's main archive"
            )
    return found


def kernel_package_name() -> str:
    """The versioned image package that the `linux-image-amd64` meta package points at today."""
    for line in _apt("apt-cache", "depends", KERNEL_META).splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Depends" and value.strip().startswith("linux-image-"):
            return value.strip()
    raise GuestBuildError(f"cannot resolve {KERNEL_META}; run `apt-get update`")


def resolve(names: list[str]) -> list[Package]:
    versions = candidate_versions(names)
    return [Package(name, versions[name]) for name in names]


def lists_stamp() -> str:
    """Changes whenever `apt-get update` changed the package lists: keys memoised look-ups."""
    lists = Path("/var/lib/apt/lists")
    try:
        return str(max(p.stat().st_mtime_ns for p in lists.iterdir()))
    except (OSError, ValueError):
        return ""


def fetch(package: Package, deb_cache: Path) -> Path:
    """Download the .deb once into `deb_cache/<name>/<version>/` and return its path."""
    target_dir = deb_cache / package.name / quote(package.version, safe="")
    existing = sorted(target_dir.glob("*.deb"))
    if existing:
        return existing[0]
    partial = target_dir.with_name(target_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    _apt("apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", str(package), cwd=partial)
    debs = sorted(partial.glob("*.deb"))
    if len(debs) != 1:
        raise GuestBuildError(f"apt-get download {package} produced {len(debs)} files")
    shutil.rmtree(target_dir, ignore_errors=True)
    partial.rename(target_dir)
    return target_dir / debs[0].name


def unpack(deb: Path, target: Path) -> Path:
    """Unpack a .deb's data into `target` (created fresh) with dpkg-deb."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    try:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True, capture_output=True)
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        raise GuestBuildError(f"cannot unpack {deb.name} with dpkg-deb: {exc}") from exc
    return target


def resolve_with_kernel(names: list[str], memo: Path) -> list[Package]:
    """Today's kernel image package (first) and `names`, memoised in `memo`.

    Each apt-cache call takes ~0.5 s, so the answer is kept until `apt-get update` changes the
    package lists. One memo file per flavour: their package lists differ.
    """
    stamp = lists_stamp()
    try:
        saved = json.loads(memo.read_text())
        if stamp and saved["stamp"] == stamp:
            return [Package(name, version) for name, version in saved["packages"]]
    except (OSError, ValueError, KeyError):
        pass
    packages = resolve([kernel_package_name(), *names])
    pairs = [[p.name, p.version] for p in packages]
    memo.write_text(json.dumps({"stamp": stamp, "packages": pairs}))
    return packages
