"""The debian flavour's build: what the tree, the images and the start scripts contain.

No VM boots here (that is tests/test_systemd_tier.py); these check the artefacts the container
backend and the start scripts rely on, and the cache key's inputs.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import os
import time
from pathlib import Path

import pytest

from nixtest_tui.guests import bootstrap, debian, debs
from nixtest_tui.guests.debian import ensure_debian
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import render_start_script
from nixtest_tui.guests.tiny import RECIPE_ROOT as TINY_ROOT


@pytest.fixture(scope="module")
def tree(debian_image: GuestImage) -> Path:
    assert debian_image.rootfs_tree is not None
    return debian_image.rootfs_tree


def test_image_layout_and_manifest(debian_image: GuestImage) -> None:
    image = debian_image
    assert image.flavour == "debian" and image.directory.name.startswith("debian-")
    assert image.kernel.read_bytes()[:4] == b"\x7fELF"
    assert image.initrd == image.directory / "stage1.cpio.gz"
    assert image.rootfs_image == image.directory / "rootfs.ext4"
    assert image.rootfs_tree == image.directory / "rootfs"
    assert image.memory_mb == 512 and image.runs_systemd
    assert image.kernel_params == "root=/dev/vda rw"
    manifest = image.manifest
    assert manifest["kernel_release"].endswith("-amd64")
    assert {"systemd", "dbus", "libpam-systemd", "busybox-static"} <= set(manifest["packages"])
    assert (image.directory / "packages.txt").read_text().count("\n") == manifest["package_count"]
    # ext4 superblock magic at 1024 + 56
    with open(image.rootfs_image, "rb") as disk:
        disk.seek(1024 + 56)
        assert disk.read(2) == b"\x53\xef"


def test_stage1_holds_busybox_init_and_the_disk_modules(debian_image: GuestImage) -> None:
    archive = gzip.decompress(debian_image.initrd.read_bytes())
    assert archive.startswith(b"070701")
    for name in (b"init\0", b"bin/busybox\0", b"sbin/switch_root\0", b"ext4.ko\0",
                 b"virtio_blk.ko\0", b"crc32c_generic.ko\0", b"modules.dep\0"):
        assert name in archive, name


def test_units_are_installed_enabled_and_masked(tree: Path) -> None:
    system = tree / "etc/systemd/system"
    for unit in ("backdoor.service", "testguest-network.service", "tmp-shared.mount",
                 "echo.socket", "echo@.service", "greeter.socket", "hello.service",
                 "broken.service"):
        assert (system / unit).is_file(), unit
    assert (tree / "etc/systemd/user/hello-user.service").is_file()
    wants = {
        "multi-user.target.wants": ["backdoor.service", "testguest-network.service"],
        "local-fs.target.wants": ["tmp-shared.mount"],
        "sockets.target.wants": ["echo.socket"],
    }
    for directory, units in wants.items():
        for unit in units:
            assert os.readlink(system / directory / unit) == f"/etc/systemd/system/{unit}"
    for unit in ("hello.service", "broken.service", "greeter.socket"):
        assert not list(system.glob(f"*.wants/{unit}")), f"{unit} must not start at boot"
    for unit in debian.MASKED:
        assert os.readlink(system / unit) == "/dev/null", unit
    assert not (system / "multi-user.target.wants/e2scrub_reap.service").is_symlink()
    assert "ConditionVirtualization=!container" in (system / "backdoor.service").read_text()


def test_scripts_are_the_tiny_guests_own(tree: Path) -> None:
    for name in ("backdoor", "network-setup"):
        installed = tree / "usr/lib/testguest" / name
        assert installed.read_bytes() == (TINY_ROOT / "usr/lib/testguest" / name).read_bytes()
        assert installed.stat().st_mode & 0o111
    assert "/etc/testguest.cmdline" in (tree / "usr/lib/testguest/network-setup").read_text()


def test_system_configuration(tree: Path) -> None:
    journald = (tree / "etc/systemd/journald.conf.d/10-console.conf").read_text()
    for line in ("Storage=persistent", "ForwardToConsole=yes", "TTYPath=/dev/ttyS0",
                 "MaxLevelConsole=debug"):
        assert line in journald
    assert (tree / "var/log/journal").is_dir()
    assert os.readlink(tree / "usr/bin/sh") == "bash"
    assert (tree / "etc/machine-id").read_bytes() == b""
    assert (tree / "etc/fstab").read_bytes() == b""
    assert not (tree / "etc/resolv.conf").exists()
    assert "root::" in (tree / "etc/shadow").read_text()
    passwd = (tree / "etc/passwd").read_text()
    assert "alice:x:1000:1000::/home/alice:/bin/bash" in passwd
    assert (tree / "home/alice").is_dir()
    assert "PAGER=" in (tree / "etc/profile.d/testguest.sh").read_text()
    assert "virtio_net" in (tree / "etc/modules-load.d/testguest.conf").read_text()
    assert not (tree / "usr/share/doc").exists() and not (tree / "var/lib/apt/lists/x").exists()


def test_kernel_modules_in_the_tree(tree: Path, debian_image: GuestImage) -> None:
    modules = tree / "lib/modules" / debian_image.manifest["kernel_release"]
    dep = (modules / "modules.dep").read_text()
    for name in ("9p.ko", "virtio_net.ko", "bochs.ko", "ext4.ko", "virtio_console.ko"):
        assert name in dep, name


def test_start_script_attaches_the_disk_read_only(
    debian_image: GuestImage, tiny_image: GuestImage
) -> None:
    topology = Topology((MachineSpec("server"),))
    script = render_start_script(topology.machines[0], topology, debian_image, "tcg")
    options = "if=virtio,format=raw,snapshot=on,cache=unsafe"
    drive = f'-drive "file={debian_image.rootfs_image},{options}"'
    assert drive in script
    assert "-m 512 " in script and f'-initrd "{debian_image.initrd}"' in script
    machine_id = hashlib.md5(b"server").hexdigest()
    assert f"root=/dev/vda rw systemd.machine_id={machine_id}" in script
    assert "acpi=noirq norandmaps" in script
    tiny_script = render_start_script(topology.machines[0], topology, tiny_image, "tcg")
    assert "-drive" not in tiny_script and "machine_id" not in tiny_script


def test_cached_image_is_reused_quickly(debian_image: GuestImage) -> None:
    started = time.monotonic()
    again = ensure_debian()
    assert again.directory == debian_image.directory
    assert time.monotonic() - started < 10


def test_cache_key_inputs() -> None:
    kernel = debs.Package("linux-image-6.1.0-56-amd64", "6.1.192-2")
    busybox = debs.Package("busybox-static", "1:1.35.0-4")
    key = debian.recipe_key([kernel, busybox], "tree-a")
    assert debian.recipe_key([kernel, busybox], "tree-a") == key
    assert debian.recipe_key([kernel, busybox], "tree-b") != key
    newer = debs.Package(kernel.name, "6.1.192-3")
    assert debian.recipe_key([newer, busybox], "tree-a") != key
    week = bootstrap.week_bucket(datetime.date(2026, 11, 25))
    assert week == "2026-W48"
    assert bootstrap.week_bucket(datetime.date(2026, 11, 30)) == "2026-W49"
    mirror = "http://deb.debian.org/debian"
    assert bootstrap.tree_key(mirror, week) != bootstrap.tree_key(mirror, "2026-W49")
    assert bootstrap.tree_key(mirror, week) != bootstrap.tree_key("http://m/debian", week)


def test_mirror_comes_from_the_apt_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian/\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://security.example/debian-security\n"
        "Suites: bookworm-security\n"
    )
    assert bootstrap.apt_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list.d/debian.sources").unlink()
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64] http://one-line.example/debian bookworm main\n")
    assert bootstrap.apt_mirror(tmp_path) == "http://one-line.example/debian"
    (tmp_path / "sources.list").unlink()
    assert bootstrap.apt_mirror(tmp_path) == bootstrap.DEFAULT_MIRROR
