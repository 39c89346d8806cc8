"""The "tiny" guest flavour: a stock Debian kernel plus busybox and bash in an initramfs.

It boots in ~3 s under TCG and honours the NixOS test-guest contract (serial console on ttyS0,
backdoor root shell on hvc0, 9p shares, one NIC per VLAN, /etc/hosts, a systemctl stand-in).
The guest's own scripts live in `tiny/rootfs/`; this module only assembles them with the
Debian binaries into a reproducible newc archive.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from nixtest_tui.guests import cache, cpio, debs, kernel, kmods
from nixtest_tui.guests.cpio import Entry
from nixtest_tui.guests.errors import GuestBuildError
from nixtest_tui.guests.image import GuestImage

Progress = Callable[[str], None]

RECIPE_ROOT = Path(__file__).parent / "tiny" / "rootfs"
PACKAGES = ["busybox-static", "bash-static"]
MODULES = [
    "virtio_pci", "virtio_console", "virtio_net", "virtio-rng", "9pnet_virtio", "9p", "bochs",
]
MEMORY_MB = 256
_PROGRAM_DIRS = {"bin", "sbin", "usr/bin", "usr/sbin"}
KEEP_IMAGES = 3  # older builds beyond this many are deleted (each is ~75 MB)
_BUILDER_SOURCES = [
    Path(__file__), Path(cpio.__file__), Path(kernel.__file__), Path(kmods.__file__),
]


def recipe_key(packages: list[debs.Package]) -> str:
    """Content hash of everything that decides the image's bytes."""
    extra = [str(p) for p in packages] + MODULES
    return cache.recipe_hash(_BUILDER_SOURCES, [RECIPE_ROOT], extra)


def _recipe_only_key() -> str:
    return cache.recipe_hash(_BUILDER_SOURCES, [RECIPE_ROOT], MODULES)


def ensure_tiny(progress: Progress = lambda _msg: None, rebuild: bool = False) -> GuestImage:
    """Return the cached tiny image for today's package versions, building it when missing.

    When apt cannot resolve versions (no package lists, offline), an image built earlier from
    the same recipe is used rather than failing.
    """
    guests_dir = cache.cache_root() / "guests"
    with cache.locked(guests_dir):
        try:
            packages = debs.resolve_with_kernel(PACKAGES, guests_dir / "resolved.json")
        except GuestBuildError:
            fallback = cache.newest_with_recipe(guests_dir, "tiny", _recipe_only_key())
            if fallback is None or rebuild:
                raise
            progress(f"apt cannot resolve package versions; using the cached {fallback.directory}")
            return fallback
        directory = guests_dir / f"tiny-{recipe_key(packages)[:16]}"
        if (directory / "manifest.json").exists() and not rebuild:
            progress(f"tiny guest image cached in {directory}")
            return GuestImage.load(directory)
        return _build(directory, packages, progress)


def _build(directory: Path, packages: list[debs.Package], progress: Progress) -> GuestImage:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="nixtest-guest-"))
    staging = directory.with_name(directory.name + ".partial")
    try:
        unpacked = {}
        for step, package in enumerate(packages, start=1):
            progress(f"[{step}/{len(packages) + 3}] fetching {package}")
            deb = debs.fetch(package, cache.cache_root() / "debs")
            unpacked[package.name] = debs.unpack(deb, work / package.name)
        kernel_tree = unpacked[packages[0].name]
        release = kmods.kernel_release(kernel_tree)

        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        progress(f"[{len(packages) + 1}/{len(packages) + 3}] extracting vmlinux {release}")
        kernel_size = kernel.write_vmlinux(
            kernel_tree / "boot" / f"vmlinuz-{release}", staging / "vmlinux"
        )

        progress(f"[{len(packages) + 2}/{len(packages) + 3}] collecting kernel modules")
        modules = kmods.module_entries(kernel_tree, release, MODULES, work / "depmod")

        progress(f"[{len(packages) + 3}/{len(packages) + 3}] writing the initramfs")
        entries = _base_entries(unpacked["busybox-static"], unpacked["bash-static"]) + modules
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
        with open(staging / "initrd", "wb") as out:
            cpio.write_newc(out, _ordered(entries), mtime=epoch)

        image = GuestImage("tiny", directory, {
            "flavour": "tiny",
            "recipe": _recipe_only_key(),
            "kernel_release": release,
            "packages": {p.name: p.version for p in packages},
            "modules": MODULES,
            "memory_mb": MEMORY_MB,
            "vmlinux_bytes": kernel_size,
            "initrd_bytes": (staging / "initrd").stat().st_size,
            "build_seconds": round(time.monotonic() - started, 2),
        })
        GuestImage(image.flavour, staging, image.manifest).save_manifest()
        shutil.rmtree(directory, ignore_errors=True)
        staging.rename(directory)
        cache.prune_old_images(directory.parent, "tiny", keep=KEEP_IMAGES)
        progress(f"built the tiny guest in {image.manifest['build_seconds']} s: {directory}")
        return image
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


def _base_entries(busybox_tree: Path, bash_tree: Path) -> list[Entry]:
    busybox = busybox_tree / "bin" / "busybox"
    entries = [
        Entry.file("bin/busybox", busybox.read_bytes(), 0o755),
        Entry.file("bin/bash", (bash_tree / "bin" / "bash-static").read_bytes(), 0o755),
        Entry.symlink("bin/sh", "bash"),
        Entry.char_device("dev/console", 5, 1),
        Entry.char_device("dev/null", 1, 3, 0o666),
    ]
    entries += [Entry.directory(d) for d in ("proc", "sys", "dev", "run", "mnt", "var/log")]
    entries += [Entry.directory("tmp", 0o1777), Entry.directory("root", 0o700)]
    entries += _recipe_entries()
    taken = {entry.path for entry in entries}
    # only programs shadow applets: etc/hostname must not cost the guest its `hostname`
    taken_names = {path.rsplit("/", 1)[-1] for path in taken
                   if path.rsplit("/", 1)[0] in _PROGRAM_DIRS}
    applets = kmods.run_tool([str(busybox), "--list-full"], "busybox --list-full").split()
    for applet in applets:
        # our own scripts (timeout, nc, poweroff, ...) replace busybox's applets of that name
        if applet not in taken and applet.rsplit("/", 1)[-1] not in taken_names:
            entries.append(Entry.symlink(applet, "/bin/busybox"))
    return entries


def _recipe_entries() -> list[Entry]:
    entries = []
    for path in sorted(RECIPE_ROOT.rglob("*")):
        relative = path.relative_to(RECIPE_ROOT).as_posix()
        if path.is_symlink():
            entries.append(Entry.symlink(relative, os.readlink(path)))
        elif path.is_dir():
            entries.append(Entry.directory(relative))
        else:
            executable = os.stat(path).st_mode & stat.S_IXUSR
            entries.append(Entry.file(relative, path.read_bytes(), 0o755 if executable else 0o644))
    return entries


def _ordered(entries: list[Entry]) -> list[Entry]:
    """Directories before their contents, each path once, in a stable order."""
    by_path: dict[str, Entry] = {}
    for entry in entries:
        by_path.setdefault(entry.path, entry)
    for directory in cpio.parents_first(by_path):
        by_path.setdefault(directory, Entry.directory(directory))
    return sorted(by_path.values(), key=lambda e: (e.path.count("/"), e.path))
