"""Shared fixtures: the guest image, the accelerator, and a check that nothing is left running."""

from __future__ import annotations

import asyncio
import importlib
import io
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nixtest_tui.driver.config import DriverConfiguration, load_driver_configuration
from nixtest_tui.driver.driver import Driver
from nixtest_tui.driver.logger import CompositeLogger, TerminalLogger
from nixtest_tui.guests.accel import choose_accelerator
from nixtest_tui.guests.debian import ensure_debian
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network
from nixtest_tui.guests.tiny import ensure_tiny
from nixtest_tui.session import Session

SESSION_MARK = f"NIXTEST_TEST_SESSION={uuid.uuid4()}"
os.environ["NIXTEST_TEST_SESSION"] = SESSION_MARK.split("=", 1)[1]
WATCHED = ("qemu-system", "vde_switch", "vde_plug")


def processes_of_this_session() -> list[str]:
    """Command lines of QEMU/vde processes that inherited this test session's marker."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if SESSION_MARK.encode() in environ and any(w in cmdline for w in WATCHED):
            found.append(f"{proc.name}: {cmdline}")
    return found


CONTAINER_PARTS = ("systemd-nspawn", "run_nspawn", "journalctl", "unshare")


def container_processes_under(root: Path) -> list[str]:
    """Container processes (wrapper, nspawn, journal follower) working below `root`.

    Containers start with upstream's clean environment, so the session marker cannot find
    them; their command line or working directory names the test's state dir instead.
    """
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if any(part in cmdline for part in CONTAINER_PARTS) and (
                str(root) in cmdline or cwd.startswith(str(root))):
            found.append(f"{proc.name}: {cmdline}")
    return found


TIERS = {"unit": "unit", "tui": "tui", "vm": "vm"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked by its directory: tests/unit (no QEMU, no root), tests/tui (Pilot
    and snapshots, fake or recorded machines) and tests/vm (real guests)."""
    for item in items:
        tier = TIERS.get(Path(str(item.fspath)).parent.name)
        if tier:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session", autouse=True)
def no_orphans_after_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    base = tmp_path_factory.getbasetemp()

    def leftovers() -> list[str]:
        return processes_of_this_session() + container_processes_under(base)

    deadline = time.monotonic() + 5
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not leftovers(), f"processes outlived the test session: {leftovers()}"


@pytest.fixture(scope="session")
def tiny_image() -> GuestImage:
    return ensure_tiny()


@pytest.fixture(scope="session")
def debian_image() -> GuestImage:
    """The debian flavour (real systemd); built on first use, which needs root (~45 s)."""
    return ensure_debian()


@pytest.fixture(scope="session")
def accelerator(tiny_image: GuestImage) -> str:
    return choose_accelerator(tiny_image.kernel)


class NetworkFactory:
    """Writes nixpkgs-shaped start scripts and a driver configuration for a test network."""

    def __init__(self, root: Path, image: GuestImage, accelerator: str) -> None:
        self.root = root
        self.image = image
        self.accelerator = accelerator
        self.count = 0

    def __call__(self, *machines: MachineSpec | str, script: str = "",
                 global_timeout: int = 3600) -> DriverConfiguration:
        """Machines by name (on VLAN 1) or as MachineSpec; returns the loaded configuration."""
        self.count += 1
        specs = tuple(m if isinstance(m, MachineSpec) else MachineSpec(m) for m in machines)
        topology = Topology(specs, global_timeout=global_timeout)
        out = self.root / f"network-{self.count}"
        config = write_network(topology, self.image, self.accelerator, out, script)
        return load_driver_configuration(config)


@contextmanager
def logged_driver(root: Path, image: GuestImage, accelerator: str, *machines: str,
                  out: Path | None = None) -> Iterator[tuple[Driver, io.StringIO]]:
    """A driver over real guests whose terminal log stays in memory, for log assertions."""
    config = NetworkFactory(root, image, accelerator)(*machines)
    log = io.StringIO()
    tmp = root / "tmp"
    tmp.mkdir()
    logger = CompositeLogger([TerminalLogger(log, colour=False)])
    with Driver(config, out_dir=out or root, logger=logger, tmp_dir=tmp) as driver:
        yield driver, log


@pytest.fixture
def network(tmp_path: Path, tiny_image: GuestImage, accelerator: str) -> NetworkFactory:
    """`network("alice", "bob", script=...)` → DriverConfiguration of real tiny guests."""
    return NetworkFactory(tmp_path, tiny_image, accelerator)


@pytest.fixture
def driver_tmp(tmp_path: Path) -> Path:
    """A private tmp_dir for a Driver (state dirs, VLAN sockets, shared dir)."""
    path = tmp_path / "driver-tmp"
    path.mkdir()
    return path


class FakeClock:
    """Time moves only when the code under test sleeps or the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    __call__ = monotonic

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock behind retry loops and polling conditions."""
    retry = importlib.import_module("nixtest_tui.driver.retry")  # the package exports retry()
    polling = importlib.import_module("nixtest_tui.driver.polling")
    fake = FakeClock()
    monkeypatch.setattr(retry, "_monotonic", fake.monotonic)
    monkeypatch.setattr(retry, "_sleep", fake.sleep)
    monkeypatch.setattr(polling, "_monotonic", fake.monotonic)
    return fake


def wait_until(check: Callable[[], object], seconds: float = 30, what: str = "the condition"
               ) -> None:
    """Poll `check` from plain test code until it is truthy; fail naming `what`."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} was not reached within {seconds} s"
        time.sleep(0.05)


async def until(check: Callable[[], bool], seconds: float = 90,
                between: Callable[[], object] | None = None) -> None:
    """Poll `check` from a Pilot test without blocking the app's loop."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        if between is not None:
            between()
        await asyncio.sleep(0.2)


def tui_session(config: DriverConfiguration, tmp_path: Path) -> Session:
    """A TUI session over `config` with a private state root under `tmp_path`."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    return Session(config, tmp_path, tmp_dir=runtime)
