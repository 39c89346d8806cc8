"""The demo's network and the files a Nix build would produce for it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from nixtest_tui.guests.cache import cache_root
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network

TOPOLOGY = Topology((
    MachineSpec("client", vlans=(1, 2)),
    MachineSpec("outsider", vlans=(2,)),
    MachineSpec("server", vlans=(1,)),
))


def default_demo_dir() -> Path:
    """Under the cache, not the current directory: the demo is generated, never edited, and
    a user trying it from their home or project directory should not find files there."""
    return cache_root() / "demo-network"


def test_script_text() -> str:
    return resources.files(__package__).joinpath("echo-test.py").read_text()


def write_demo(image: GuestImage, accelerator: str, out_dir: Path) -> Path:
    """`bin/run-<name>-vm`, `test-script` and `driver-configuration.json` in `out_dir`;
    returns the configuration's path."""
    return write_network(TOPOLOGY, image, accelerator, out_dir, test_script_text())
