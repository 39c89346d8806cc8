"""The drop-in CLI, run as a process: exit codes, log shape, JUnit on every exit path."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import NetworkFactory, processes_of_this_session
from harness import HANGING, run_driver

from nixtest_tui.drop_in import build_parser
from nixtest_tui.headless.args import config_from_wrapper

PASSING = """
start_all()
with subtest("outer"):
    alice.succeed("echo serial-marker > /dev/console")
    with subtest("inner"):
        alice.wait_for_unit("echo.service")
"""
FAILING = """
with subtest("a failing command"):
    alice.succeed("echo to-stdout; echo to-stderr >&2; exit 7")
"""
def no_leftovers(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    assert not list(runtime.glob("vde*.ctl")), "stale VLAN sockets"


def junit(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


@pytest.mark.vm
def test_passing_run_logs_upstreams_shape(network: NetworkFactory, tmp_path: Path) -> None:
    config = network("alice", script=PASSING)
    result = run_driver(tmp_path, "-c", str(config.source), "-o", str(tmp_path),
                        "--junit=junit.xml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("additionally exposed symbols:\n    alice,\n    vlan1,\n")
    lines = [re.sub(r"\d+\.\d\d", "X.XX", line) for line in result.stderr.splitlines()
             if " # " not in line and not line.startswith("vde_switch: ")]
    lines = [re.sub(r"pid \d+", "pid N", line) for line in lines]
    start = lines.index("subtest: outer")
    assert lines[start:start + 6] == [
        "subtest: outer",
        "alice: must succeed: echo serial-marker > /dev/console",
        "alice: waiting for the VM to finish booting",
        "alice: Guest shell says: b'Spawning backdoor root shell...\\n'",
        "alice: connected to guest root shell",
        "alice: (connecting took X.XX seconds)",
    ]
    assert "(finished: subtest: outer, in X.XX seconds)" in lines
    assert "alice: (finished: waiting for unit echo.service, in X.XX seconds)" in lines
    assert lines[0] == "Machine state will be reset. To keep it, pass --keep-machine-state"
    assert re.search(r"^test script finished in X.XXs$", "\n".join(lines), re.M)
    assert "alice # serial-marker" in result.stderr
    report = junit(tmp_path / "junit.xml")
    assert [c.get("name") for c in report.iter("testcase")] == ["outer", "inner"]
    assert report.get("failures") == "0"
    assert (tmp_path / "nixtest-trace.jsonl").exists() is False  # only nixtest-tui --headless
    no_leftovers(tmp_path)


@pytest.mark.vm
def test_failing_run_exits_1_with_the_short_traceback(network: NetworkFactory,
                                                      tmp_path: Path) -> None:
    config = network("alice", script=FAILING)
    result = run_driver(tmp_path, "-c", str(config.source), "-o", str(tmp_path),
                        "--junit-xml", "junit.xml")
    assert result.returncode == 1
    expected = [
        "alice: output: to-stdout",
        "",
        '!!! Test "a failing command" failed with error: "command `echo to-stdout; echo '
        'to-stderr >&2; exit 7` failed (exit code 7)"',
        "!!! Traceback (most recent call last):",
        '!!!   File "<string>", line 3, in <module>',
        '!!!     alice.succeed("echo to-stdout; echo to-stderr >&2; exit 7")',
        "!!! ",
        "!!! RequestedAssertionFailed: command `echo to-stdout; echo to-stderr >&2; exit 7` "
        "failed (exit code 7)",
    ]
    text = result.stderr
    at = text.index("alice: output: to-stdout")
    # the guest's console lines come as the guest writes them, between any two of ours (a
    # clean-clone CI run had systemd's "Reached target" inside the traceback)
    ours = [line for line in text[at:].splitlines() if not line.startswith("alice # ")]
    assert ours[:len(expected)] == expected
    assert "alice # to-stderr" in text
    case = next(junit(tmp_path / "junit.xml").iter("testcase"))
    assert case.get("name") == "a failing command"
    failure = case.find("failure")
    # upstream says "test case failed"; ours names the statement and the error
    assert failure is not None and failure.get("message") == (
        'alice.succeed("echo to-stdout; echo to-stderr >&2; exit 7") (line 3): '
        "RequestedAssertionFailed: command `echo to-stdout; echo to-stderr >&2; exit 7` "
        "failed (exit code 7)")
    no_leftovers(tmp_path)


@pytest.mark.vm
def test_global_timeout_exits_124_and_still_writes_junit(network: NetworkFactory,
                                                         tmp_path: Path) -> None:
    config = network("alice", script=HANGING, global_timeout=20)
    result = run_driver(tmp_path, "-c", str(config.source), "-o", str(tmp_path),
                        "--junit-xml", "junit.xml")
    assert result.returncode == 124
    assert "global timeout of 20.0 seconds reached" in result.stderr
    assert "kill QemuMachine (pid" in result.stderr
    report = junit(tmp_path / "junit.xml")
    assert report.get("failures") == "1"
    assert "global timeout" in ET.tostring(report, encoding="unicode")
    no_leftovers(tmp_path)


@pytest.mark.vm
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_tear_down_cleanly(network: NetworkFactory, tmp_path: Path, signum: int) -> None:
    config = network("alice", script=HANGING)
    result = run_driver(tmp_path, "-c", str(config.source), "-o", str(tmp_path),
                        "--junit-xml", "junit.xml", signal_after=(5.0, signum),
                        extra_env={"LOGFILE": str(tmp_path / "log.xml")})
    assert result.returncode == 128 + signum
    assert "cleanup" in result.stderr and "kill QemuMachine" in result.stderr
    assert junit(tmp_path / "junit.xml").get("failures") == "1"
    name = signal.Signals(signum).name
    log = ET.tostring(ET.parse(tmp_path / "log.xml").getroot(), encoding="unicode")
    assert f"test stopped: received {name}" in log and "kill QemuMachine" in log
    no_leftovers(tmp_path)
    assert not [p for p in processes_of_this_session() if str(tmp_path) in p]


@pytest.mark.vm
def test_keep_machine_state_keeps_the_state_dir(network: NetworkFactory, tmp_path: Path) -> None:
    write = network("alice", script='alice.succeed("echo kept > /tmp/xchg/mark")')
    read = network("alice", script='print(alice.succeed("cat /tmp/xchg/mark || true"))')
    assert run_driver(tmp_path, "-c", str(write.source), "-o", str(tmp_path)).returncode == 0
    kept = run_driver(tmp_path, "-K", "-c", str(read.source), "-o", str(tmp_path))
    assert kept.returncode == 0 and "kept" in kept.stdout
    reset = run_driver(tmp_path, "-c", str(read.source), "-o", str(tmp_path))
    assert reset.returncode == 0 and "kept" not in reset.stdout
    assert "Machine state will be reset" not in kept.stderr


def test_bad_inputs_exit_2_with_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"vms": {}}')
    result = run_driver(tmp_path, "-c", str(bad), "-o", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"nixos-test-driver: error: {bad}: field 'test_script': the path of the test script "
        "is required"
    ]
    missing = run_driver(tmp_path, "-c", str(bad), "-o", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert "--output_directory" in missing.stderr and "is not a directory" in missing.stderr
    readonly = tmp_path / "ro"
    readonly.mkdir(mode=0o500)
    if os.geteuid() != 0:  # root can write anywhere
        result = run_driver(tmp_path, "-c", str(bad), "-o", str(readonly))
        assert result.returncode == 2 and "not writable" in result.stderr


def test_prefix_abbreviations_used_in_nixpkgs_work(tmp_path: Path) -> None:
    args = build_parser().parse_args(["--junit=j.xml", "--debug-hook=/bin/attach",
                                      "-o", str(tmp_path), "--keep-vm-state"])
    assert args.junit_xml == Path("j.xml") and args.debug_hook_attach == "/bin/attach"
    assert args.keep_vm_state and args.output_directory == tmp_path.resolve()


def test_built_wrapper_yields_its_config(tmp_path: Path) -> None:
    wrapper = tmp_path / "result" / "bin" / "nixos-test-driver"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text('#! /nix/store/x-bash/bin/bash -e\nexec -a "$0" '
                       '"/nix/store/y/bin/.nixos-test-driver-wrapped"  --config '
                       "'/nix/store/z-driver-configuration.json' --log-level 'warning' \"$@\"\n")
    assert config_from_wrapper(tmp_path / "result") == (
        Path("/nix/store/z-driver-configuration.json"), "warning")


@pytest.mark.vm
def test_nixtest_tui_headless_records_a_trace(network: NetworkFactory, tmp_path: Path) -> None:
    config = network("alice", script='alice.succeed("echo traced")\n')
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "nixtest_tui", "--headless", "-c", str(config.source), "-o",
         str(tmp_path)], env=dict(os.environ, XDG_RUNTIME_DIR=str(runtime)),
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    trace = (tmp_path / "nixtest-trace.jsonl").read_text()
    assert '"type": "ScriptLine", "line": 1' in trace
    assert '"type": "CommandFinished", "machine": "alice", "command": "echo traced"' in trace
    assert '"type": "SerialOutput"' in trace


def test_the_tui_refuses_a_missing_configuration_with_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "nixtest_tui", "-c", "x.json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "nixtest-tui: error: x.json: no such configuration file"


@pytest.mark.vm
def test_break_on_failure_waits_for_an_attached_fix(network: NetworkFactory,
                                                    tmp_path: Path) -> None:
    import json
    import socket
    import stat

    script = ("from datetime import timedelta\n"
              "with subtest('flag'):\n"
              "    alice.wait_for_file('/tmp/flag', timeout=timedelta(seconds=2))\n")
    config = network("alice", script=script)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "nixtest_tui.drop_in", "--break-on-failure", "-c",
         str(config.source), "-o", str(tmp_path), "--junit-xml", "junit.xml"],
        env=dict(os.environ, XDG_RUNTIME_DIR=str(runtime), NO_COLOR="1"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stderr is not None
        path = None
        for line in process.stderr:
            if "nixtest-tui attach " in line:
                path = Path(line.split("nixtest-tui attach ", 1)[1].strip())
                break
        assert path is not None and stat.S_IMODE(path.stat().st_mode) == 0o600
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(path))
            stream = client.makefile("rw")
            for message in ({"where": True}, {"eval": "alice.succeed('touch /tmp/flag')"},
                            {"action": "retry"}):
                stream.write(json.dumps(message) + "\n")
                stream.flush()
                reply = json.loads(stream.readline())
                assert "error" not in reply or not reply["error"] or "where" in message, reply
        assert process.wait(120) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert junit(tmp_path / "junit.xml").get("failures") == "0"
    no_leftovers(tmp_path)


@pytest.mark.vm
def test_the_demo_passes_headless_with_its_flaky_step_retried(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "nixtest_tui", "--demo", "--headless", "--demo-dir",
         str(tmp_path / "demo"), "--junit-xml", "junit.xml"],
        env=dict(os.environ, XDG_RUNTIME_DIR=str(runtime), NO_COLOR="1"),
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = junit(tmp_path / "demo" / "out" / "junit.xml")
    assert report.get("failures") == "0" and report.get("tests") == "5"
    assert result.stderr.count("(finished: must succeed: touch /tmp/ready") == 2  # retried
    assert (tmp_path / "demo" / "out" / "server-login.png").exists()
