"""The generated run-<name>-vm scripts honour nixpkgs' start-script contract.

QEMU is replaced by a stand-in on PATH that records its argv, working directory and TMPDIR:
what is under test is the shell script's handling of the contract's variables.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import driver_configuration, write_network, write_start_scripts

IMAGE = GuestImage("tiny", Path("/images/tiny"), {"memory_mb": 256})
TOPOLOGY = Topology((
    MachineSpec("web-1", vlans=(1, 2), memory_mb=384, qemu_options=("-smp", "1")),
    MachineSpec("db", vlans=(2,)),
))
RECORDER = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["RECORD"], "w") as f:
    json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(), "tmpdir": os.environ.get("TMPDIR")}, f)
"""


@pytest.fixture
def run_script(tmp_path: Path):  # type: ignore[no-untyped-def]
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    (fake_bin / "qemu-system-x86_64").write_text(RECORDER)
    (fake_bin / "qemu-system-x86_64").chmod(0o755)
    scripts = write_start_scripts(TOPOLOGY, IMAGE, "tcg", tmp_path / "bin")

    def run(name: str, *args: str, **env: str) -> dict[str, object]:
        record = tmp_path / "record.json"
        full_env = {"PATH": f"{fake_bin}:{os.environ['PATH']}", "RECORD": str(record), **env}
        subprocess.run([str(scripts[name]), *args], env=full_env, check=True, cwd=tmp_path)
        result: dict[str, object] = json.loads(record.read_text())
        return result

    return run


def argv_text(result: dict[str, object]) -> str:
    argv = result["argv"]
    assert isinstance(argv, list)
    return " ".join(argv)


def test_uses_tmpdir_only_with_use_tmpdir(run_script, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    state.mkdir()
    result = run_script("db", TMPDIR=str(state), USE_TMPDIR="1")
    assert result["cwd"] == str(state) and (state / "xchg").is_dir()
    result = run_script("db", TMPDIR=str(state))
    assert Path(str(result["cwd"])).name.startswith("nix-vm.")


def test_contract_variables_reach_qemu(run_script, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_script(
        "web-1", "--last", "arg",
        TMPDIR=str(tmp_path), USE_TMPDIR="1", SHARED_DIR="/srv/shared",
        QEMU_OPTS="-display none  -snapshot", QEMU_NET_OPTS="hostfwd=tcp::8080-:80",
        QEMU_KERNEL_PARAMS="quiet debug",
        QEMU_VDE_SOCKET_1="/run/vde1", QEMU_VDE_SOCKET_2="/run/vde2",
        NIXPKGS_QEMU_KERNEL_web_1="/other/kernel",
    )
    argv = result["argv"]
    assert isinstance(argv, list)
    assert argv[-5:] == ["-display", "none", "-snapshot", "--last", "arg"]
    text = argv_text(result)
    assert "-netdev user,id=user.0,restrict=on,hostfwd=tcp::8080-:80" in text
    assert "path=/srv/shared,security_model=none,mount_tag=shared" in text
    assert f"path={tmp_path}/xchg,security_model=none,mount_tag=xchg" in text
    assert "mac=52:54:00:12:01:02 -netdev vde,id=vlan1,sock=/run/vde1" in text
    assert "mac=52:54:00:12:02:02 -netdev vde,id=vlan2,sock=/run/vde2" in text
    assert "-kernel /other/kernel" in text and "-initrd /images/tiny/initrd" in text
    assert "-m 384" in text and "-machine accel=tcg" in text
    append = argv[argv.index("-append") + 1]
    assert append.endswith(" quiet debug")
    assert "testguest.hostname=web-1" in append and "testguest.hosts=db/2/1,web-1/1/2" in append


def test_shared_dir_defaults_to_xchg_and_accel_can_be_forced(run_script, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_script("db", TMPDIR=str(tmp_path), USE_TMPDIR="1", NIXTEST_ACCEL="kvm")
    text = argv_text(result)
    assert f"path={tmp_path}/xchg,security_model=none,mount_tag=shared" in text
    assert "-machine accel=kvm" in text and "-kernel /images/tiny/vmlinux" in text


def test_driver_configuration_has_upstreams_shape(tmp_path: Path) -> None:
    config_path = write_network(TOPOLOGY, IMAGE, "tcg", tmp_path, "start_all()\n")
    config = json.loads(config_path.read_text())
    assert set(config) == {"vms", "containers", "vlans", "global_timeout",
                           "enable_ssh_backdoor", "test_script"}
    assert config["vlans"] == [1, 2] and config["containers"] == {}
    assert config["vms"]["db"] == {"name": "db",
                                   "start_script": str(tmp_path / "bin" / "run-db-vm")}
    assert Path(config["test_script"]).read_text() == "start_all()\n"
    assert driver_configuration(TOPOLOGY, {}, tmp_path / "x")["global_timeout"] == 3600
