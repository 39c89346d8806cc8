"""Fault matrix, bad inputs: each gets one clear error and a documented exit status (2 for a
bad configuration or script that nothing was started for, 1 for a script that fails while it
runs), and none shows the driver's own traceback. Machines boot lazily, so these runs start
at most a switch: no guest boots here."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import NetworkFactory
from harness import run_driver

from nixtest_tui.driver.backdoor_wire import ReplyReader, frame_command, session_setup
from nixtest_tui.driver.errors import MachineError
from nixtest_tui.driver.logger import CompositeLogger
from nixtest_tui.driver.qemu import QemuMachine
from nixtest_tui.driver.stateroot import LOCK_NAME, StateRoot

DRIVER_FRAMES = 'File "/'  # what a traceback through the driver's own modules shows


def config_file(tmp_path: Path, data: object, name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nixos-test-driver: error: ")
    return lines[0]


def test_invalid_json_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"vms": {,}')
    result = run_driver(tmp_path, "-c", str(bad), "-o", str(tmp_path))
    assert result.returncode == 2
    assert "not valid JSON" in one_error_line(result)


def test_unknown_keys_are_ignored(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text("print('ran with unknown keys')\n")
    config = config_file(tmp_path, {"test_script": str(script), "vms": {}, "vlans": [],
                                    "from_a_future_nixpkgs": {"x": 1}})
    result = run_driver(tmp_path, "-c", str(config), "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "ran with unknown keys" in result.stdout


@pytest.mark.parametrize("problem", ["missing", "not executable"])
def test_bad_start_script_is_refused_before_anything_starts(tmp_path: Path,
                                                            problem: str) -> None:
    script = tmp_path / "script.py"
    script.write_text("start_all()\n")
    start = tmp_path / "bin" / "run-alice-vm"
    if problem == "not executable":
        start.parent.mkdir()
        start.write_text("#!/bin/sh\nexit 0\n")
        start.chmod(0o644)
    config = config_file(tmp_path, {"test_script": str(script), "vlans": [1],
                                    "vms": {"alice": {"start_script": str(start)}}})
    result = run_driver(tmp_path, "-c", str(config), "-o", str(tmp_path))
    assert result.returncode == 2
    line = one_error_line(result)
    assert f"alice: start script {start}" in line
    assert ("does not exist" if problem == "missing" else "chmod +x") in line
    assert not list((tmp_path / "runtime").glob("vde*")), "a switch started for nothing"


def test_duplicate_machine_names_are_refused(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text("")
    start = tmp_path / "run-x-vm"
    start.write_text("#!/bin/sh\n")
    start.chmod(0o755)
    for names in (("web", "web"), ("web-1", "web_1")):
        config = config_file(tmp_path, {"test_script": str(script), "vms": {
            "a": {"name": names[0], "start_script": str(start)},
            "b": {"name": names[1], "start_script": str(start)}}})
        result = run_driver(tmp_path, "-c", str(config), "-o", str(tmp_path))
        assert result.returncode == 2
        assert f"machines {names[0]!r} and {names[1]!r} have the same name" in \
            one_error_line(result)


def test_syntax_error_names_the_line_and_starts_nothing(network: NetworkFactory,
                                                        tmp_path: Path) -> None:
    config = network("alice", script="start_all()\nif alice\n    alice.succeed('true')\n")
    result = run_driver(tmp_path, "-c", str(config.source), "-o", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0] == (f"nixos-test-driver: error: test script {config.test_script}, "
                        "line 2: expected ':'")
    assert lines[1:] == ["    if alice", "            ^"]
    assert not list((tmp_path / "runtime").glob("vde*"))


@pytest.mark.parametrize("call, message", [
    ('alice.wait_for_console_text("(unclosed")', "missing ), unterminated subpattern"),
    ('alice.wait_for_text("[z-a]")', "bad character range z-a"),
    ('alice.succeed("true", timeout=True)', "TypeError: execute(): a bool is not a duration"),
])
def test_script_errors_show_the_script_line_not_the_driver(
        network: NetworkFactory, tmp_path: Path, call: str, message: str) -> None:
    config = network("alice", script=f"x = 1\n{call}\n")
    result = run_driver(tmp_path, "-c", str(config.source), "-o", str(tmp_path),
                        "--junit-xml", "junit.xml")
    assert result.returncode == 1
    error = [line for line in result.stderr.splitlines() if line.startswith("!!!")]
    assert error[:3] == ["!!! Traceback (most recent call last):",
                         '!!!   File "<string>", line 2, in <module>', f"!!!     {call}"]
    assert message in error[-1]
    assert DRIVER_FRAMES not in result.stderr
    assert (tmp_path / "junit.xml").exists()


def test_missing_and_unwritable_output_dirs(tmp_path: Path) -> None:
    config = config_file(tmp_path, {"test_script": "/dev/null"})
    missing = run_driver(tmp_path, "-c", str(config), "-o", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "is not a directory (create it first)" in missing.stderr
    assert DRIVER_FRAMES not in missing.stderr
    readonly = tmp_path / "ro"
    readonly.mkdir()
    # root may write anywhere os.access() is asked about; a read-only mount stops it too
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs",
                              str(readonly)], capture_output=True).returncode == 0
    if not mounted:
        readonly.chmod(0o500)
        if os.geteuid() == 0:
            pytest.skip("root without mount(8): no directory is unwritable to us")
    try:
        result = run_driver(tmp_path, "-c", str(config), "-o", str(readonly))
    finally:
        if mounted:
            subprocess.run(["umount", str(readonly)], check=True)
    assert result.returncode == 2
    assert "is not writable" in result.stderr and DRIVER_FRAMES not in result.stderr


def test_bad_backdoor_timeout_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIXTEST_BACKDOOR_TIMEOUT", "soon")
    with pytest.raises(MachineError, match="NIXTEST_BACKDOOR_TIMEOUT='soon' is not a number"):
        QemuMachine(tmp_path, tmp_path, "/bin/false", logger=_null_logger(), name="m")


def _null_logger() -> CompositeLogger:
    return CompositeLogger([])


# -- security without a guest ------------------------------------------------------------------

NASTY = [
    "it's \"quoted\" $(echo no) `echo no` $HOME \\ ; echo no #",
    "line one\nline two\n\n",
    "#0\n!1\n~gone 0\n",  # looks like our own framing
    "\t\x1b[31m\u00e9\u2603 ${x:-y} {a,b} *",
]


@pytest.mark.parametrize("payload", NASTY)
def test_command_strings_cannot_break_the_framing(payload: str) -> None:
    command = f"printf %s {shlex.quote(payload)}"
    script = session_setup("feed") + frame_command(command, None) + frame_command("echo next",
                                                                                  None)
    out = subprocess.run(["bash", "--norc"], input=script, capture_output=True, check=True,
                         timeout=30).stdout
    reader = ReplyReader(b"feed")
    reader.feed(out, now=0.0)
    first, second = reader.replies
    assert first.status == 0 and first.stdout == payload.encode()
    assert second.stdout == b"next\n"


@pytest.mark.parametrize("target_dir, source", [("", "/"), ("sub", ".."), ("/tmp", "/")])
def test_copy_from_machine_refuses_a_source_without_a_name(tmp_path: Path, target_dir: str,
                                                           source: str) -> None:
    """The script chooses the directory (absolute or `..` included: it is trusted), but a
    source without a file name would make the directory itself the target."""
    out = tmp_path / "out"
    out.mkdir()
    machine = QemuMachine(out, tmp_path / "tmp", "/bin/false", logger=_null_logger(),
                          name="m")
    with pytest.raises(MachineError, match="outside the chosen directory"):
        machine.copy_from_machine(source, target_dir)  # refused before the guest is asked
    assert machine.process is None


@pytest.fixture
def state_base(tmp_path: Path) -> Iterator[Path]:
    base = tmp_path / f"runtime-{uuid.uuid4().hex[:6]}"
    base.mkdir(mode=0o700)
    yield base


def test_a_second_driver_gets_its_own_state_root(state_base: Path) -> None:
    first, second = StateRoot(state_base), StateRoot(state_base)
    assert first.claim() == state_base
    other = second.claim()
    assert second.per_run and other.parent == state_base and other != state_base
    assert (other.stat().st_mode & 0o777) == 0o700
    assert second.holder == f"pid {os.getpid()}"
    second.release(keep=False)
    assert not other.exists()
    first.release(keep=False)
    assert state_base.exists() and (state_base / LOCK_NAME).exists()
    third = StateRoot(state_base)
    assert third.claim() == state_base and not third.per_run  # the lock went with `first`
    third.release(keep=False)
