"""`network.toml`: the starter parses, every mistake is one line naming its field, and a build
writes a start script per machine with the image of its flavour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nixtest_tui.cli import build_parser, build_verb_parser, main
from nixtest_tui.demo.network import default_demo_dir
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.project import (
    NetworkDescriptionError,
    build_project,
    load_description,
    write_starter,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_starter(tmp_path / "p")
    return tmp_path / "p"


def test_starter_describes_two_tiny_vms_on_vlan_1(project: Path) -> None:
    description = load_description(project)
    assert [(m.spec.name, m.flavour, m.spec.vlans) for m in description.machines] == [
        ("server", "tiny", (1,)), ("client", "tiny", (1,))]
    assert description.machines[0].spec.memory_mb == 256
    assert description.global_timeout == 600
    assert description.script == project / "test.py"


def test_init_refuses_to_overwrite_the_users_files(project: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    before = (project / "network.toml").read_text()
    assert main(["init", str(project), "--no-build"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "network.toml exists already" in err
    assert (project / "network.toml").read_text() == before


BAD = [
    ("[machines.server\nvlans = [1]", "not valid TOML: Expected ']' at the end of a table "
     "declaration (at line 1, column 17)"),
    ("[machines.server]\nmemory = 'lots'", "machines.server.memory: expected a size in MiB, "
     "got 'lots'"),
    ("[machines.server]\nmemory = true", "machines.server.memory: expected a size in MiB, "
     "got True"),
    ("[machines.server]\nmemory = 16", "machines.server.memory: 16 MiB is outside 64..65536"),
    ("[machines.server]\nvlans = [1, 300]", "machines.server.vlans: 300 is not a VLAN number "
     "in 1..255"),
    ("[machines.server]\nvlans = 1", "machines.server.vlans: expected a list of VLAN numbers, "
     "got 1"),
    ("[machines.server]\nflavour = 'nixos'", "machines.server.flavour: 'nixos' is not one of "
     "tiny, debian, container"),
    ("[machines.server]\nqemu_options = ['-smp', 2]", "machines.server.qemu_options: every "
     "option must be a string"),
    ("[machines.server]\nmemroy = 512", "machines.server.memroy: unknown field (known: "
     "flavour, kernel_params, memory, qemu_options, vlans)"),
    ("[machines.c1]\nflavour = 'container'\nmemory = 512", "machines.c1.memory: a container "
     "runs no QEMU; drop this field"),
    ("[machines.'web 1']\n", "machines: machine name 'web 1': use letters, digits, '-' and '_'"),
    ("[test]\nscript = 'missing.py'\n[machines.a]\n", "test.script: {dir}/missing.py does not "
     "exist"),
    ("[test]\nglobal_timeout = 0\n[machines.a]\n", "test.global_timeout: must be more than 0 "
     "seconds"),
    ("[test]\nrestrict_network = 'yes'\n[machines.a]\n", "test.restrict_network: expected true "
     "or false, got 'yes'"),
    ("machines = 3", "machines: expected a table ([machines]), got 3"),
    ("[machine.a]\n", "machine: unknown field (known: machines, test)"),
    ("[test]\n", "machines: declare at least one machine, e.g. [machines.server]"),
]


@pytest.mark.parametrize(("toml", "message"), BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_a_bad_description_is_one_line_naming_the_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, message: str) -> None:
    (tmp_path / "test.py").write_text("start_all()\n")
    (tmp_path / "network.toml").write_text(toml)
    assert main(["build", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    expected = f"nixtest-tui: error: {tmp_path}/network.toml: " + message.format(dir=tmp_path)
    assert err == expected + "\n"
    assert not (tmp_path / "build").exists()


def test_opening_a_bad_description_fails_the_same_way(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "test.py").write_text("start_all()\n")
    (tmp_path / "network.toml").write_text("[machines.a]\nvlans = ['one']\n")
    assert main(["--headless", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"nixtest-tui: error: {tmp_path}/network.toml: "
                                       "machines.a.vlans: 'one' is not a VLAN number in 1..255\n")


def _image(flavour: str, root: Path, **manifest: str) -> GuestImage:
    return GuestImage(flavour, root / flavour, {"memory_mb": 256, **manifest})


def test_build_gives_each_machine_the_image_of_its_flavour(tmp_path: Path) -> None:
    (tmp_path / "test.py").write_text("start_all()\n")
    (tmp_path / "network.toml").write_text(
        "[machines.small]\nvlans = [1, 2]\nmemory = 384\nqemu_options = ['-smp', '2']\n"
        "[machines.big]\nflavour = 'debian'\n"
        "[machines.box]\nflavour = 'container'\nvlans = [2]\n")
    images = {"tiny": _image("tiny", tmp_path),
              "debian": _image("debian", tmp_path, initrd="stage1.cpio.gz",
                               rootfs_image="rootfs.ext4", rootfs_tree="rootfs")}
    asked: list[str] = []

    def source(flavour: str) -> GuestImage:
        asked.append(flavour)
        return images[flavour]

    (tmp_path / "build" / "bin").mkdir(parents=True)
    (tmp_path / "build" / "bin" / "run-renamed-vm").write_text("old")
    config_path = build_project(tmp_path, image_source=source, accelerator="tcg")
    assert asked == ["debian", "tiny"]
    config = json.loads(config_path.read_text())
    bin_dir = tmp_path / "build" / "bin"
    assert sorted(p.name for p in bin_dir.iterdir()) == [
        "run-big-vm", "run-box-nspawn", "run-small-vm"]
    assert config["vms"] == {name: {"name": name, "start_script": str(bin_dir / f"run-{name}-vm")}
                             for name in ("big", "small")}
    assert list(config["containers"]) == ["box"]
    assert config["vlans"] == [1, 2]
    assert config["test_script"] == str(tmp_path / "test.py")
    small = (bin_dir / "run-small-vm").read_text()
    big = (bin_dir / "run-big-vm").read_text()
    assert f"{tmp_path}/tiny/vmlinux" in small and "-m 384" in small
    assert "-smp \\\n    2 \\" in small  # each option one quoted word
    assert f"{tmp_path}/debian/stage1.cpio.gz" in big and "rootfs.ext4" in big
    assert f"{tmp_path}/debian/rootfs" in (bin_dir / "run-box-nspawn").read_text()


def test_a_missing_description_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(NetworkDescriptionError, match=r"cannot read it .*nixtest-tui init"):
        load_description(tmp_path)


def test_the_demo_goes_to_the_cache_not_the_current_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIXTEST_CACHE_DIR", str(tmp_path / "cache"))
    assert default_demo_dir() == tmp_path / "cache" / "demo-network"
    assert build_parser().parse_args(["--demo"]).demo_dir is None
    assert build_verb_parser().parse_args(["demo"]).dir is None
    assert "driver-configuration.json" in build_parser().format_help()
