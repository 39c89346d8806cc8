"""Where `copy_from_machine` may write: the script chooses the directory (upstream's
`out_dir / target_dir / name`, so an absolute `target_dir` is that host directory), and what a
guest left behind (symlinks, a name of `..`) must not lead it anywhere else."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from nixtest_tui.driver.copying import copy_destination, make_command
from nixtest_tui.driver.errors import MachineError


@pytest.fixture
def out(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


def test_relative_target_dir_is_below_the_output_dir(out: Path) -> None:
    assert copy_destination(out, "", "hostname") == out / "hostname"
    assert copy_destination(out, "logs/a", "journal") == out / "logs" / "a" / "journal"


def test_absolute_target_dir_is_that_host_directory(out: Path) -> None:
    """What nixpkgs' driver tests do: `copy_from_vm(path, TemporaryDirectory())`."""
    with tempfile.TemporaryDirectory() as elsewhere:
        assert copy_destination(out, elsewhere, "file") == Path(elsewhere) / "file"


def test_dot_dot_chosen_by_the_script_is_allowed(out: Path) -> None:
    assert copy_destination(out, "../beside", "file") == out.parent / "beside" / "file"


@pytest.mark.parametrize("name", ["", ".", ".."])
def test_a_source_without_a_name_is_refused(out: Path, name: str) -> None:
    with pytest.raises(MachineError, match="outside the chosen directory"):
        copy_destination(out, "", name)


def test_a_symlink_a_guest_left_in_the_output_dir_is_refused(out: Path, tmp_path: Path) -> None:
    (out / "host-etc").symlink_to("/etc")  # what copying a guest's `ln -s /etc` leaves
    with pytest.raises(MachineError, match=r"host-etc is a symlink"):
        copy_destination(out, "host-etc", "passwd")
    with pytest.raises(MachineError, match=r"host-etc is a symlink"):
        copy_destination(out, "host-etc/deeper", "passwd")


def test_a_symlink_at_the_destination_is_refused(out: Path, tmp_path: Path) -> None:
    """Copying a file onto it would write through it, wherever the guest pointed it."""
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    elsewhere = tmp_path / "chosen"
    elsewhere.mkdir()
    (elsewhere / "file").symlink_to(victim)
    with pytest.raises(MachineError, match=r"file is a symlink"):
        copy_destination(out, str(elsewhere), "file")
    (out / "report").symlink_to(victim)
    with pytest.raises(MachineError, match=r"report is a symlink"):
        copy_destination(out, "", "report")
    assert victim.read_text() == "keep me"


def test_symlinks_of_the_users_own_paths_are_trusted(tmp_path: Path, out: Path) -> None:
    """A symlink outside the output dir is the user's environment (say /tmp on macOS)."""
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    assert copy_destination(out, str(link / "sub"), "file") == link / "sub" / "file"
    # an output dir reached through a symlink is fine too
    linked_out = tmp_path / "linked-out"
    linked_out.symlink_to(out)
    assert copy_destination(linked_out, "x", "f") == linked_out / "x" / "f"
    assert os.path.realpath(linked_out / "x" / "f") == str(out / "x" / "f")


def test_guest_commands_are_quoted_as_upstream_quotes_them() -> None:
    assert make_command("mkdir", "-p", Path("/tmp/shared/tmpab_12")) == (
        "mkdir -p /tmp/shared/tmpab_12"
    )
    assert make_command("cp", "-r", "/root/my file", "/tmp/shared/x/my file") == (
        "cp -r '/root/my file' '/tmp/shared/x/my file'"
    )
