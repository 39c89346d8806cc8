"""What a user switching from upstream's driver would notice, checked on one real run.

One `nixos-test-driver` run (the drop-in CLI, one tiny guest) executes a script made of
nixpkgs' own driver tests re-created in our words (`qmp-api-error`, `copy_from_vm` into a
`TemporaryDirectory()`, `unit-active-state` as far as the tiny guest's units go), plus the
calls whose log lines differed from upstream's, and ends in a failing subtest. The tests below
compare its terminal log and JUnit report with upstream's, as recorded in
`upstream-behaviour-observed.md` (§1-§4) and the specification.
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import NetworkFactory
from harness import run_driver

from nixtest_tui.guests.image import GuestImage

SCRIPT = """
import tempfile
from datetime import timedelta
from pathlib import Path

from test_driver.errors import MachineError, RequestedAssertionFailed
from test_driver.machine.qmp import QMPAPIError

TEN = timedelta(seconds=10)

with subtest("a bare number warns for succeed and for execute"):
    alice.succeed("true", timeout=5)

with subtest("upstream's exception hierarchy"):
    assert RequestedAssertionFailed.__mro__[:3] == (
        RequestedAssertionFailed, AssertionError, Exception), RequestedAssertionFailed.__mro__
    assert not issubclass(MachineError, AssertionError)
    try:
        alice.succeed("false")
    except AssertionError as caught:
        assert type(caught) is RequestedAssertionFailed
    else:
        raise Exception("succeed('false') must raise")

with subtest("qmp-api-error"):
    assert alice.qmp_client is not None
    try:
        alice.qmp_client.send("this-command-does-not-exist")
    except QMPAPIError as error:
        assert error.class_name == "CommandNotFound", error.class_name
        assert error.description
        assert error.transaction_id is None, error.transaction_id
    else:
        raise AssertionError("expected QMPAPIError")

with subtest("copy_from_host and copy_from_vm into a TemporaryDirectory"):
    source = Path(tempfile.mkdtemp()) / "from-host.txt"
    source.write_text("from the host\\n")
    alice.copy_from_host(str(source), "/root/copied/from-host.txt")
    assert alice.succeed("cat /root/copied/from-host.txt") == "from the host\\n"
    alice.succeed("echo from the guest > /root/to-host.txt")
    with tempfile.TemporaryDirectory() as target:
        alice.copy_from_vm("/root/to-host.txt", target)
        assert (Path(target) / "to-host.txt").read_text() == "from the guest\\n"
    alice.copy_from_machine("/root/to-host.txt", "relative")

with subtest("unit-active-state"):
    alice.wait_for_unit_active_state("slow.service", "inactive", timeout=TEN)
    alice.succeed("systemctl start --no-block slow.service")
    alice.wait_for_unit_active_state("slow.service", "activating", timeout=TEN)
    alice.wait_for_unit_active_state("slow.service", "active", timeout=TEN)
    alice.succeed("systemctl start --no-block broken.service")
    alice.wait_for_unit_active_state("broken.service", ["failed", "inactive"], timeout=TEN)
    try:
        alice.wait_for_unit_active_state("echo.service", "reloading",
                                         timeout=timedelta(seconds=2))
    except RequestedAssertionFailed as timed_out:
        log.info(f"timed out as expected: {timed_out}")
    else:
        raise AssertionError("echo.service never reloads")

with subtest("a failing command"):
    alice.succeed("echo to-stdout; echo to-stderr >&2; exit 7")
"""
FAILING_LINE = SCRIPT.splitlines().index(
    '    alice.succeed("echo to-stdout; echo to-stderr >&2; exit 7")') + 1


class Run:
    def __init__(self, result: subprocess.CompletedProcess[str], out: Path) -> None:
        self.result = result
        self.out = out
        self.lines = result.stderr.splitlines()

    def junit_cases(self) -> dict[str, ET.Element]:
        root = ET.parse(self.out / "junit.xml").getroot()
        return {case.attrib["name"]: case for case in root.iter("testcase")}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, tiny_image: GuestImage,
        accelerator: str) -> Run:
    root = tmp_path_factory.mktemp("parity")
    config = NetworkFactory(root, tiny_image, accelerator)("alice", script=SCRIPT)
    out = root / "out"
    out.mkdir()
    result = run_driver(root, "-c", str(config.source), "-o", str(out), "--junit-xml",
                        "junit.xml", timeout=600)
    assert result.returncode == 1, result.stderr[-4000:]
    return Run(result, out)


def test_everything_before_the_failing_subtest_passed(run: Run) -> None:
    errors = [line for line in run.lines if line.startswith("!!! ")]
    assert errors[0] == ('!!! Test "a failing command" failed with error: "command `echo '
                         'to-stdout; echo to-stderr >&2; exit 7` failed (exit code 7)"'), errors
    assert any(line.startswith("timed out as expected: unit \"echo.service\" did not reach "
                               'state "reloading"; it is "active"') for line in run.lines)
    assert (run.out / "relative" / "to-host.txt").read_text() == "from the guest\n"


def test_deprecation_warnings_for_succeed_and_execute_in_upstreams_form(run: Run) -> None:
    line = SCRIPT.splitlines().index('    alice.succeed("true", timeout=5)') + 1
    for api in ("succeed()", "execute()"):
        warning = (f"??? Warning (UserWarning): {api}: passing a bare int/float as a duration "
                   "is deprecated. Use datetime.timedelta instead.")
        at = run.lines.index(warning)
        # upstream points at its own duration.py; ours at the script line that passed the 5
        assert run.lines[at + 1] == f'    File "<string>", line {line}'
    assert "UserWarning:" not in run.result.stderr.replace("(UserWarning):", "")


def test_kill_line_has_no_machine_prefix(run: Run) -> None:
    kills = [line for line in run.lines if "kill QemuMachine" in line]
    assert kills and all(re.fullmatch(r"kill QemuMachine \(pid \d+\)", k) for k in kills), kills


def test_the_switch_names_itself_vde_switch(run: Run) -> None:
    assert "vde_switch: EOF on stdin, cleaning up and exiting" in run.lines
    assert not [line for line in run.lines if "/vde_switch:" in line]


def test_copies_run_upstreams_guest_commands(run: Run) -> None:
    commands = [line.removeprefix("alice: must succeed: ") for line in run.lines
                if re.match(r"alice: must succeed: (mkdir -p|cp -r) ", line)]
    staging = r"/tmp/shared/tmp[a-z0-9_]+"
    expected = [
        # copy_from_host: staging dir, parent of the target, cp -r
        rf"mkdir -p {staging}", r"mkdir -p /root/copied",
        rf"cp -r {staging}/from-host\.txt /root/copied/from-host\.txt",
        # copy_from_vm and copy_from_machine: staging dir, cp -r into it
        rf"mkdir -p {staging}", rf"cp -r /root/to-host\.txt {staging}/to-host\.txt",
        rf"mkdir -p {staging}", rf"cp -r /root/to-host\.txt {staging}/to-host\.txt",
    ]
    assert len(commands) == len(expected), commands
    for command, pattern in zip(commands, expected, strict=True):
        assert re.fullmatch(pattern, command), (command, pattern)


def test_junit_failed_case_carries_traceback_cleanup_and_a_useful_message(run: Run) -> None:
    cases = run.junit_cases()
    assert list(cases)[-1] == "a failing command"
    assert [n for n, c in cases.items() if c.find("failure") is not None] == [
        "a failing command"]
    failed = cases["a failing command"]
    failure = failed.find("failure")
    assert failure is not None and failure.attrib["type"] == "failure"
    assert failure.attrib["message"] == (
        f'alice.succeed("echo to-stdout; echo to-stderr >&2; exit 7") (line {FAILING_LINE}): '
        "RequestedAssertionFailed: command `echo to-stdout; echo to-stderr >&2; exit 7` failed "
        "(exit code 7)")
    out = failed.findtext("system-out") or ""
    err = failed.findtext("system-err") or ""
    assert "cleanup\n" in out and re.search(r"^kill QemuMachine \(pid \d+\)$", out, re.M), out
    assert "Traceback (most recent call last):\n" in err
    assert err.rstrip("\n").endswith("RequestedAssertionFailed: command `echo to-stdout; echo "
                                      "to-stderr >&2; exit 7` failed (exit code 7)")
    assert "main" not in cases
