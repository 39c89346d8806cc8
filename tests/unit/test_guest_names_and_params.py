"""What the start scripts tell a guest: NixOS test-VM kernel parameters and host names.

The real guests are checked in tests/vm/test_guest_nixos_contract.py; here, the words the
scripts carry (the guests act on them), for every machine kind.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from nixtest_tui.guests.hostnames import host_name, hosts_param
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.nspawnscript import cmdline, render_nspawn_script
from nixtest_tui.guests.startscript import render_start_script
from nixtest_tui.run_nspawn import prepare_root

IMAGE = GuestImage("tiny", Path("/images/tiny"), {"memory_mb": 256})
TOPOLOGY = Topology((MachineSpec("ok"), MachineSpec("one_two", kernel_params="quiet"),
                     MachineSpec("a-b", vlans=(2, 1))))


def append_words(script: str) -> list[str]:
    match = re.search(r'-append "([^"]*)"', script)
    assert match is not None
    return match[1].split()


def test_host_names_drop_underscores_only() -> None:
    assert [host_name(n) for n in ("ok", "one_two", "a-b", "a_b-c_d")] == [
        "ok", "onetwo", "a-b", "ab-cd"]


def test_hosts_list_host_names_on_their_first_vlan() -> None:
    assert hosts_param(TOPOLOGY) == "a-b/2/1,ok/1/2,onetwo/1/3"


def test_vm_command_line_is_a_nixos_test_vms() -> None:
    words = append_words(render_start_script(TOPOLOGY.machines[1], TOPOLOGY, IMAGE, "tcg"))
    for param in ("console=ttyS0", "panic=1", "boot.panic_on_fail", "clocksource=acpi_pm",
                  "loglevel=7", "net.ifnames=0", "testguest.hostname=onetwo",
                  "testguest.hosts=a-b/2/1,ok/1/2,onetwo/1/3"):
        assert param in words
    assert "panic=-1" not in words and "loglevel=4" not in words
    # the machine's own parameters, then qemu-vm.nix's consoles (ttyS0 last: /dev/console),
    # then $QEMU_KERNEL_PARAMS, which may override any of them
    assert words[-4:] == [
        "quiet", "console=tty0", "console=ttyS0,115200n8", "$QEMU_KERNEL_PARAMS"]


def test_container_gets_the_host_name(tmp_path: Path) -> None:
    machine = MachineSpec("one_two", vlans=(), kind="container")
    topology = Topology((machine,))
    assert cmdline(machine, topology) == ["testguest.hostname=onetwo"]
    script = render_nspawn_script(machine, topology, tmp_path / "tree")
    words = shlex.split(script.split("exec ", 1)[1].replace("\\\n", " "))
    assert "--machine=onetwo" in words  # systemd-nspawn refuses "one_two" as a machine name
    assert words[words.index("--container-name") + 1] == "one_two"
    assert json.loads(words[words.index("--cmdline-json") + 1]) == ["testguest.hostname=onetwo"]


def test_container_root_has_the_host_name(tmp_path: Path) -> None:
    template = tmp_path / "tree"
    (template / "usr").mkdir(parents=True)
    root = tmp_path / "root"
    root.mkdir()
    (root / "usr").mkdir()  # already populated: no overlay or copy needed
    (root / "etc").mkdir()
    prepare_root(root, str(template), "one_two", ["testguest.hostname=onetwo"])
    assert (root / "etc" / "hostname").read_text() == "onetwo\n"
