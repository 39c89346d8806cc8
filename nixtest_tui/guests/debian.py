"""The "debian" guest flavour: Debian bookworm with real systemd, as a VM disk and a container root.

The tiny flavour imitates systemd; this one runs it (systemd 252, udev, dbus, logind), for the
driver paths that only real systemd exercises: `wait_for_unit` against real job queues,
`systemctl --user`, socket activation, the journal on the serial console, reboots. The recipe is
guests.md §4: debootstrap (cached as a tar.zst, see bootstrap.py), the same kernel package and
module handling as the tiny flavour (kmods.py), the unit files in `debian/rootfs/` plus the tiny
guest's backdoor and network-setup scripts, then an ext4 disk and a stage-1 initramfs
(rootimage.py). The configured tree is kept unpacked too: it is the lower layer of every
container's overlay root (run_nspawn.py).

Image directory (`<cache>/guests/debian-<key>/`): `vmlinux`, `stage1.cpio.gz` (GuestImage.initrd),
`rootfs.ext4` (GuestImage.rootfs_image), `rootfs/` (GuestImage.rootfs_tree), `packages.txt`,
`manifest.json`. Building needs root (debootstrap, chroot, root-owned files).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from nixtest_tui.guests import bootstrap, cache, cpio, debs, kernel, kmods, rootimage
from nixtest_tui.guests.errors import GuestBuildError
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.tiny import RECIPE_ROOT as TINY_ROOT

Progress = Callable[[str], None]

FLAVOUR = "debian"
RECIPE_ROOT = Path(__file__).parent / "debian"
# shared with the tiny flavour, installed as they are (one backdoor, one network setup)
SHARED_SCRIPTS = [TINY_ROOT / "usr/lib/testguest/backdoor",
                  TINY_ROOT / "usr/lib/testguest/network-setup"]
PACKAGES = ["busybox-static"]  # besides the kernel: stage 1's shell
MODULES = [
    "virtio_pci", "virtio_console", "virtio_net", "virtio-rng", "9pnet_virtio", "9p", "bochs",
    "virtio_blk", "crc32c_generic", "ext4",
]
# guests.md §4 step 3: a serial getty would fight the driver for ttyS0 or the backdoor's hvc0
# (test-instrumentation.nix disables both); the others cost boot time under TCG or do
# maintenance that has no place in a test.
MASKED = [
    "serial-getty@ttyS0.service", "serial-getty@hvc0.service", "getty-static.service",
    "systemd-update-utmp.service", "systemd-update-utmp-runlevel.service", "apt-daily.timer",
    "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer", "fstrim.timer",
    "e2scrub_reap.service", "systemd-pstore.service",
]
USER = "alice"
USER_ID = 1000
MEMORY_MB = 512
KERNEL_PARAMS = "root=/dev/vda rw"
KEEP_IMAGES = 2  # each is ~400 MB (tree, disk, vmlinux)
_BUILDER_SOURCES = [Path(__file__), Path(bootstrap.__file__), Path(rootimage.__file__),
                    Path(kmods.__file__), Path(cpio.__file__), Path(kernel.__file__)]


def recipe_key(packages: list[debs.Package], tree_key: str) -> str:
    """Everything that decides the image: code, files, package versions, the base tree's key."""
    extra = [str(p) for p in packages] + MODULES + MASKED + [tree_key]
    return cache.recipe_hash(_BUILDER_SOURCES + SHARED_SCRIPTS, [RECIPE_ROOT], extra)


def _recipe_only_key() -> str:
    return cache.recipe_hash(_BUILDER_SOURCES + SHARED_SCRIPTS, [RECIPE_ROOT], MODULES + MASKED)


def ensure_debian(progress: Progress = lambda _msg: None, rebuild: bool = False) -> GuestImage:
    """The cached debian image for this week's tree and today's kernel, built when missing.

    When apt cannot resolve versions (offline), an image built earlier from the same recipe is
    used rather than failing, as for the tiny flavour.
    """
    guests_dir = cache.cache_root() / "guests"
    with cache.locked(guests_dir):
        try:
            packages = debs.resolve_with_kernel(PACKAGES, guests_dir / "resolved-debian.json")
        except GuestBuildError:
            fallback = cache.newest_with_recipe(guests_dir, FLAVOUR, _recipe_only_key())
            if fallback is None or rebuild:
                raise
            progress(f"apt cannot resolve package versions; using the cached {fallback.directory}")
            return fallback
        tree_key = bootstrap.tree_key(bootstrap.apt_mirror(), bootstrap.week_bucket())
        directory = guests_dir / f"{FLAVOUR}-{recipe_key(packages, tree_key)[:16]}"
        if (directory / "manifest.json").exists() and not rebuild:
            progress(f"debian guest image cached in {directory}")
            return GuestImage.load(directory)
        if os.geteuid() != 0:
            raise GuestBuildError("building the debian guest needs root (debootstrap, chroot, "
                                  "root-owned files); run it as root, e.g. through ./dev setup")
        return _build(directory, packages, progress)


def _build(directory: Path, packages: list[debs.Package], progress: Progress) -> GuestImage:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="nixtest-guest-"))
    staging = directory.with_name(directory.name + ".partial")
    steps = 6
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        progress(f"[1/{steps}] fetching {', '.join(map(str, packages))}")
        unpacked = {p.name: debs.unpack(debs.fetch(p, cache.cache_root() / "debs"), work / p.name)
                    for p in packages}
        kernel_tree = unpacked[packages[0].name]
        release = kmods.kernel_release(kernel_tree)

        progress(f"[2/{steps}] base tree (debootstrap, or its cached tarball)")
        tree = staging / "rootfs"
        tree_key, tree_seconds = bootstrap.ensure_tree(
            tree, cache.cache_root() / "guests" / "bootstrap", progress)

        progress(f"[3/{steps}] extracting vmlinux {release}")
        kernel_bytes = kernel.write_vmlinux(
            kernel_tree / "boot" / f"vmlinuz-{release}", staging / "vmlinux")

        progress(f"[4/{steps}] configuring the tree (units, scripts, user {USER}, modules)")
        configure(tree)
        kmods.install_modules(kernel_tree, release, MODULES, tree)
        installed = rootimage.installed_packages(tree)
        (staging / "packages.txt").write_text("".join(f"{n} {v}\n" for n, v in installed))

        progress(f"[5/{steps}] writing the stage-1 initramfs")
        stage1_bytes = rootimage.write_stage1(
            unpacked["busybox-static"] / "bin" / "busybox", RECIPE_ROOT / "stage1" / "init",
            kernel_tree, release, staging / "stage1.cpio.gz", work / "stage1-modules")

        progress(f"[6/{steps}] writing the ext4 root disk")
        disk_bytes = rootimage.write_ext4(tree, staging / "rootfs.ext4")

        versions = dict(installed)
        image = GuestImage(FLAVOUR, directory, {
            "flavour": FLAVOUR,
            "recipe": _recipe_only_key(),
            "tree_key": tree_key,
            "week": bootstrap.week_bucket(),
            "mirror": bootstrap.apt_mirror(),
            "kernel_release": release,
            "packages": {p.name: p.version for p in packages}
            | {name: versions[name] for name in bootstrap.INCLUDE if name in versions},
            "package_count": len(installed),
            "modules": MODULES,
            "memory_mb": MEMORY_MB,
            "init": "systemd",
            "kernel_params": KERNEL_PARAMS,
            "initrd": "stage1.cpio.gz",
            "rootfs_image": "rootfs.ext4",
            "rootfs_tree": "rootfs",
            "user": USER,
            "vmlinux_bytes": kernel_bytes,
            "initrd_bytes": stage1_bytes,
            "rootfs_image_bytes": disk_bytes,
            "rootfs_tree_bytes": rootimage.tree_bytes(tree),
            "base_tree_seconds": round(tree_seconds, 2),
            "build_seconds": round(time.monotonic() - started, 2),
        })
        GuestImage(FLAVOUR, staging, image.manifest).save_manifest()
        shutil.rmtree(directory, ignore_errors=True)
        staging.rename(directory)
        cache.prune_old_images(directory.parent, FLAVOUR, keep=KEEP_IMAGES)
        progress(f"built the debian guest in {image.manifest['build_seconds']} s: {directory}")
        return image
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


def configure(root: Path) -> None:
    """Turn a debootstrap tree into the test guest (guests.md §4 step 3)."""
    recipe = RECIPE_ROOT / "rootfs"
    for path in sorted(recipe.rglob("*")):
        if path.is_file():
            _install(root, path.relative_to(recipe).as_posix(), path.read_bytes(), 0o644)
    for script in SHARED_SCRIPTS:
        _install(root, f"usr/lib/testguest/{script.name}", script.read_bytes(), 0o755)
    units = root / "etc/systemd/system"
    for unit in sorted((recipe / "etc/systemd/system").iterdir()):
        for target in _wanted_by(unit):  # enabled iff the unit has an [Install] section
            _symlink(root, f"etc/systemd/system/{target}.wants/{unit.name}",
                     f"/etc/systemd/system/{unit.name}")
    for name in MASKED:
        for stale in units.glob(f"*.wants/{name}"):
            stale.unlink()
        _symlink(root, f"etc/systemd/system/{name}", "/dev/null")
    _symlink(root, "usr/bin/sh", "bash")  # dash has no pipefail; the nspawn backend uses sh -c
    _install(root, "etc/hostname", b"testguest\n", 0o644)
    _install(root, "etc/hosts", b"127.0.0.1 localhost\n::1 localhost\n", 0o644)
    # empty, not missing: not a "first boot"; systemd.machine_id= or nspawn supplies the id
    _install(root, "etc/machine-id", b"", 0o444)
    (root / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    (root / "etc/resolv.conf").unlink(missing_ok=True)  # debootstrap copied the host's
    (root / "var/log/journal").mkdir(parents=True, exist_ok=True)
    shadow = root / "etc/shadow"
    shadow.write_text(re.sub(r"^root:[^:]*:", "root::", shadow.read_text(), flags=re.M))
    kmods.run_tool(["chroot", str(root), "useradd", "--create-home", "--uid", str(USER_ID),
                    "--shell", "/bin/bash", USER], f"adding the user {USER} (chroot useradd)")


def _wanted_by(unit: Path) -> list[str]:
    section = ""
    targets: list[str] = []
    for line in unit.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Install]" and line.startswith("WantedBy="):
            targets += line.partition("=")[2].split()
    return targets


def _inside(root: Path, relative: str) -> Path:
    """`root/relative`, refusing paths whose parent resolves outside the tree.

    The tree has symlinks (bin → usr/bin, and possibly absolute ones); writing through an
    absolute link would modify the host (guests.md §6 gotcha 13).
    """
    path = root / relative
    parent = path.parent.resolve()
    if parent != root.resolve() and root.resolve() not in parent.parents:
        raise GuestBuildError(f"{relative} resolves outside the guest tree ({parent})")
    return path


def _install(root: Path, relative: str, data: bytes, mode: int) -> None:
    path = _inside(root, relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()
    path.write_bytes(data)
    path.chmod(mode)


def _symlink(root: Path, relative: str, target: str) -> None:
    path = _inside(root, relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    path.symlink_to(target)

