"""The container backend's protocol pieces, with fake peers: notify socket, wrapper output,
script rendering, host checks. The real containers are in test_containers.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import wait_until

from nixtest_tui.driver.config import machine_name_from
from nixtest_tui.driver.errors import MachineError
from nixtest_tui.driver.events import EventBus
from nixtest_tui.driver.logger import EventLogger
from nixtest_tui.driver.nspawn import NOT_FOR_CONTAINERS, NspawnMachine
from nixtest_tui.driver.nspawn_host import (
    in_nix_sandbox,
    layers_dir,
    prepare_sandbox_host,
    require_container_host,
    unmount_root,
)
from nixtest_tui.driver.nspawn_io import NotifySocket, OutputDrain, Readiness
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.netspec import MachineSpec, Topology, TopologyError
from nixtest_tui.guests.nspawnscript import render_nspawn_script
from nixtest_tui.guests.startscript import driver_configuration, write_start_scripts
from nixtest_tui.network_model import parse_container_nics
from nixtest_tui.run_nspawn import host_link_name, parse_args, prepare_root


def test_notify_socket_reports_ready_and_leader_and_keeps_draining(tmp_path: Path) -> None:
    readiness = Readiness()
    notify = NotifySocket(tmp_path / "c1-nspawn.sock", readiness)
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        peer.sendto(b"STATUS=Container running.\nX_NSPAWN_LEADER_PID=4242", str(notify.path))
        wait_until(lambda: readiness.leader_pid == 4242)
        assert not readiness.complete  # the leader alone is not readiness
        peer.sendto(b"READY=1\n", str(notify.path))
        wait_until(lambda: readiness.complete)
        # PID 1 repeats READY=1 on every daemon-reexec: far more datagrams than a socket
        # buffer holds must go through without the sender ever blocking
        peer.setblocking(False)
        for _ in range(5000):
            sent = False
            deadline = time.monotonic() + 5
            while not sent:
                try:
                    peer.sendto(b"READY=1\n", str(notify.path))
                    sent = True
                except BlockingIOError:
                    assert time.monotonic() < deadline, "the notify socket is not drained"
                    time.sleep(0.001)
    finally:
        peer.close()
        notify.close()
    assert not notify.path.exists()


def test_output_drain_takes_the_older_stdout_readiness_markers() -> None:
    """`systemd-nspawn's PID is N` then `Startup finished in`: the leader is N's only child."""
    parent = subprocess.Popen(["sh", "-c", "sleep 30 & wait"])
    try:
        wait_until(lambda: Path(f"/proc/{parent.pid}/task/{parent.pid}/children")
                 .read_text().strip() != "")
        child = int(Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text())
        read_end, write_end = os.pipe()
        readiness = Readiness()
        with os.fdopen(read_end, "rb") as stream:
            drain = OutputDrain(stream, readiness, "c1")
            os.write(write_end, f"systemd-nspawn's PID is {parent.pid}\n".encode())
            os.write(write_end, b"[  OK  ] Reached target x\n")
            assert not readiness.complete
            os.write(write_end, b"Startup finished in 210ms.\n")
            os.close(write_end)
            drain.join(5)
        assert readiness.complete and readiness.leader_pid == child
        assert "Startup finished in 210ms." in drain.text()
    finally:
        parent.kill()
        parent.wait()


def test_container_name_comes_from_the_start_script() -> None:
    command = "/nix/store/x/bin/run-web-server-nspawn --flag"
    assert machine_name_from(command, "nspawn") == "web-server"
    assert machine_name_from("/bin/true", "nspawn") == "machine"


@pytest.fixture
def container(tmp_path: Path) -> NspawnMachine:
    logger = EventLogger(EventBus())
    return NspawnMachine(tmp_path, None, "/x/run-c1-nspawn", tmp_path / "tmp", logger)


@pytest.mark.parametrize("method", NOT_FOR_CONTAINERS)
def test_qemu_only_methods_say_they_are_not_for_containers(container: NspawnMachine,
                                                           method: str) -> None:
    with pytest.raises(MachineError, match=f"{method}\\(\\) is not available for containers"):
        getattr(container, method)("x")
    assert container.name == "c1"


def test_not_root_is_refused_with_what_to_do(container: NspawnMachine,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(MachineError, match="need root.*sudo"):
        container.start()
    with pytest.raises(MachineError, match=r"declares containers \(a, b\).*needs root"):
        require_container_host(["a", "b"])
    assert not container.is_up()


def test_nix_sandbox_is_recognised_only_in_a_build() -> None:
    assert in_nix_sandbox({"NIX_BUILD_TOP": "/build"})
    assert not in_nix_sandbox({"NIX_BUILD_TOP": "/build", "IN_NIX_SHELL": "impure"})
    assert not in_nix_sandbox({})


def test_sandbox_preparation_on_a_bare_root(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "sys" / "fs" / "cgroup").mkdir(parents=True)
    (tmp_path / "sys" / "fs" / "cgroup" / "cgroup.controllers").write_text("cpu\n")
    done = prepare_sandbox_host(tmp_path)
    assert (tmp_path / "run" / "netns").is_dir()
    assert os.readlink(tmp_path / "var" / "run") == "/run"
    assert (tmp_path / "etc" / "os-release").read_text() == ""
    assert len((tmp_path / "etc" / "machine-id").read_text().strip()) == 32
    assert done == ["linked /var/run to /run", "created an empty /etc/os-release",
                    "ran systemd-machine-id-setup"]
    assert prepare_sandbox_host(tmp_path) == []  # idempotent


TOPOLOGY = Topology((MachineSpec("vm1"), MachineSpec("c1", vlans=(1, 2), kind="container"),
                     MachineSpec("c2", vlans=(), kind="container")))


def test_nspawn_script_carries_upstreams_contract(tmp_path: Path) -> None:
    text = render_nspawn_script(TOPOLOGY.machines[1], TOPOLOGY, Path("/guests/rootfs"))
    assert text.startswith("#!/bin/sh\n")
    assert "-m nixtest_tui.run_nspawn" in text
    for option in ("--machine=c1", "--private-network", "--private-users=no", "--keep-unit",
                   "--register=no", "--notify-ready=yes", "--boot"):
        assert option in text
    nics = parse_container_nics(text, "c1", 1)
    assert [(n.vlan, n.mac, n.ipv4) for n in nics] == [
        (1, "52:54:00:12:01:01", "192.168.1.1"), (2, "52:54:00:12:02:01", "192.168.2.1")]
    assert "testguest.hosts=c1/1/1,vm1/1/3" in text


def test_configuration_lists_containers_apart_from_vms(tmp_path: Path) -> None:
    image = GuestImage("debian", tmp_path, {"rootfs_tree": "rootfs"})
    scripts = write_start_scripts(TOPOLOGY, image, "tcg", tmp_path / "bin")
    config = driver_configuration(TOPOLOGY, scripts, tmp_path / "script")
    assert list(config["vms"]) == ["vm1"]  # type: ignore[call-overload]
    assert list(config["containers"]) == ["c1", "c2"]  # type: ignore[call-overload]
    assert scripts["c1"].name == "run-c1-nspawn" and os.access(scripts["c1"], os.X_OK)
    tiny = GuestImage("tiny", tmp_path, {})
    with pytest.raises(TopologyError, match="guests build --flavour debian"):
        write_start_scripts(TOPOLOGY, tiny, "tcg", tmp_path / "bin2")


def test_host_link_names_fit_the_kernels_limit() -> None:
    assert host_link_name("c1", "eth1") == "c1-eth1"
    long = host_link_name("a-very-long-container", "eth1")
    assert len(long) <= 15 and long != host_link_name("a-very-long-container", "eth2")


def test_wrapper_seeds_an_empty_root_and_personalises_it(tmp_path: Path,
                                                         request: pytest.FixtureRequest) -> None:
    template = tmp_path / "tree"
    (template / "usr" / "bin").mkdir(parents=True)
    (template / "etc").mkdir()
    (template / "usr" / "bin" / "marker").write_text("x")
    root = tmp_path / "state"
    mounted = prepare_root(root, str(template), "c1", ["testguest.hostname=c1"])
    request.addfinalizer(lambda: unmount_root(root))
    assert mounted and os.path.ismount(root)  # an overlay: the shared tree is never written
    assert (root / "usr" / "bin" / "marker").read_text() == "x"
    assert (root / "etc" / "testguest.cmdline").read_text() == "testguest.hostname=c1\n"
    assert (root / "etc" / "hostname").read_text() == "c1\n"
    assert "Storage=persistent" in (
        root / "etc" / "systemd" / "journald.conf.d" / "90-container.conf").read_text()
    assert oct(root.stat().st_mode & 0o777) == "0o755"  # users in the container traverse /
    (root / "usr" / "bin" / "marker").write_text("kept")
    prepare_root(root, str(template), "c1", [])  # a kept state is not overwritten
    assert (root / "usr" / "bin" / "marker").read_text() == "kept"
    assert (template / "usr" / "bin" / "marker").read_text() == "x"
    unmount_root(root)
    assert not os.path.ismount(root)
    assert (layers_dir(root) / "upper" / "usr" / "bin" / "marker").read_text() == "kept"


def test_wrapper_arguments_follow_upstreams_names() -> None:
    args = parse_args(["--container-name", "c1", "--interfaces-json",
                       json.dumps([{"name": "eth1", "vlan": 1, "mac": "m"}]), "--",
                       "--machine=c1", "--boot"])
    assert args.container_name == "c1" and args.nspawn_options == ["--machine=c1", "--boot"]


@pytest.mark.parametrize("headless", [True, False])
def test_containers_without_root_stop_before_anything_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        headless: bool) -> None:
    from nixtest_tui.cli import main

    (tmp_path / "script.py").write_text("start_all()\n")
    start_script = tmp_path / "run-c1-nspawn"
    start_script.write_text("#!/bin/sh\nexit 1\n")
    start_script.chmod(0o755)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "vms": {}, "containers": {"c1": {"name": "c1", "start_script": str(start_script)}},
        "vlans": [], "test_script": str(tmp_path / "script.py")}))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    argv = ["-c", str(config), "-o", str(tmp_path)] + (["--headless"] if headless else [])
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == ("nixtest-tui: error: this test declares containers (c1); systemd-nspawn "
                   "needs root: run the driver as root (for example with sudo)\n")


def test_wrapper_kills_a_container_that_ignores_the_stop(tmp_path: Path) -> None:
    """A systemd-nspawn that ignores SIGTERM (a fake one here) is killed after the grace,
    and the wrapper still unmounts the root before the driver's own SIGKILL would come."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake = fake_bin / "systemd-nspawn"
    armed = tmp_path / "armed"
    fake.write_text(f"#!/bin/sh\ntrap '' TERM\ntouch {armed}\nexec sleep 600\n")
    fake.chmod(0o755)
    template = tmp_path / "tree"
    (template / "usr").mkdir(parents=True)
    (template / "etc").mkdir()
    root = tmp_path / "state"
    code = ("import sys, nixtest_tui.run_nspawn as w; w.STOP_GRACE = 1; "
            "sys.exit(w.main(sys.argv[1:]))")
    wrapper = subprocess.Popen(
        [sys.executable, "-c", code, "--container-name", "c1", "--template", str(template)],
        env=dict(os.environ, PATH=f"{fake_bin}:{os.environ['PATH']}",
                 RUN_NSPAWN_ROOT_DIR=str(root)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wrapper.stdout is not None
        assert wrapper.stdout.readline().startswith("systemd-nspawn's PID is ")
        assert os.path.ismount(root)
        wait_until(armed.exists)
        wrapper.terminate()
        wrapper.wait(30)
    finally:
        wrapper.kill()
        unmount_root(root)
    assert wrapper.stderr is not None
    assert "did not stop within 1 s; killing systemd-nspawn" in wrapper.stderr.read()
    assert not os.path.ismount(root)
