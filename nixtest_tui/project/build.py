"""`nixtest-tui build DIR`: from `network.toml` to start scripts and a driver configuration.

It is what a Nix build of a NixOS test produces (`run-<name>-vm`, `driver-configuration.json`),
written into `DIR/build/` so the driver reads a user's own network through the same door as the
demo and a real nixpkgs test. Rebuilding is cheap (cached images, a cached KVM verdict), so the
TUI and headless runs rebuild every time they are pointed at DIR: the scripts can never be older
than the description. The configuration points at the user's script itself, not a copy, so an
edit to it needs no rebuild.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.startscript import driver_configuration, write_start_scripts
from nixtest_tui.project.netdesc import (
    DESCRIPTION_NAME,
    NetworkDescription,
    NetworkDescriptionError,
    load_description,
)

BUILD_DIR = "build"
OUT_DIR = "out"
CONFIG_NAME = "driver-configuration.json"

Progress = Callable[[str], None]
ImageSource = Callable[[str], GuestImage]  # flavour (tiny, debian) → image


def is_project(target: str | None) -> bool:
    """A directory holding `network.toml`, or that file itself."""
    if not target:
        return False
    path = Path(target)
    return (path.is_dir() and (path / DESCRIPTION_NAME).is_file()) or (
        path.name == DESCRIPTION_NAME and path.is_file())


def project_directory(target: str) -> Path:
    path = Path(target).resolve()
    return path.parent if path.name == DESCRIPTION_NAME and path.is_file() else path


def cached_image(flavour: str, progress: Progress = lambda _m: None) -> GuestImage:
    """The cached image of a flavour, built first when missing (debian needs root)."""
    if flavour == "debian":
        from nixtest_tui.guests.debian import ensure_debian

        return ensure_debian(progress)
    from nixtest_tui.guests.tiny import ensure_tiny

    return ensure_tiny(progress)


def build_project(directory: Path, progress: Progress = lambda _m: None,
                  image_source: ImageSource | None = None,
                  accelerator: str | None = None) -> Path:
    """Write `DIR/build/` from `DIR/network.toml`; returns the configuration's path."""
    description = load_description(directory)
    source = image_source or (lambda flavour: cached_image(flavour, progress))
    images = _images(description, source)
    default = images.get("tiny") or images["debian"]
    if accelerator is None:
        from nixtest_tui.guests.accel import choose_accelerator

        accelerator = choose_accelerator(default.kernel)
    build = directory / BUILD_DIR
    _remove_old_scripts(build / "bin")
    per_machine = {m.spec.name: images[m.flavour] for m in description.machines
                   if m.flavour in ("tiny", "debian")}
    tree = images["debian"].rootfs_tree if "debian" in images else None
    scripts = write_start_scripts(description.topology, default, accelerator, build / "bin",
                                  container_tree=tree, images=per_machine)
    config = driver_configuration(description.topology, scripts, description.script)
    path = build / CONFIG_NAME
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def _images(description: NetworkDescription, source: ImageSource) -> dict[str, GuestImage]:
    """Only the images the network needs: containers run on the debian tree."""
    flavours = description.flavours()
    wanted = {"debian" if f == "container" else f for f in flavours}
    images = {flavour: source(flavour) for flavour in sorted(wanted)}
    if "container" in flavours and images["debian"].rootfs_tree is None:
        raise NetworkDescriptionError("the debian image has no root tree for containers; "
                                      "rebuild it: nixtest-tui guests build --flavour debian")
    return images


def _remove_old_scripts(bin_dir: Path) -> None:
    """A renamed or removed machine must not leave its old start script behind."""
    if bin_dir.is_dir():
        for script in bin_dir.glob("run-*"):
            script.unlink()
