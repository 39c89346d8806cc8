"""Headless `--break-on-failure`: a failure skipped through `nixtest-tui attach` (`:skip`)
lets the script run to the end, but the run fails: exit status 1, a failed JUnit case whose
message says the user skipped it, and the skip in the log."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

SCRIPT = textwrap.dedent("""\
    with subtest("a failing step"):
        value = 1
        t.assertTrue(value == 2)
        after = True
    with subtest("a passing step"):
        fine = True
""")
ATTACH = re.compile(r"nixtest-tui attach (\S+)")


def wait_for_attach_line(log: Path, process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = ATTACH.search(log.read_text())
        if found:
            return found.group(1)
        assert process.poll() is None, f"the driver exited early:\n{log.read_text()}"
        time.sleep(0.1)
    raise AssertionError(f"no attach line in the log:\n{log.read_text()}")


def test_skip_through_attach_fails_the_run(tmp_path: Path) -> None:
    script = tmp_path / "test-script"
    script.write_text(SCRIPT)
    config = tmp_path / "driver-configuration.json"
    config.write_text(json.dumps({"vms": {}, "test_script": str(script)}))
    out = tmp_path / "out"
    out.mkdir()
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), NO_COLOR="1")
    log = tmp_path / "driver.log"
    with log.open("w") as sink:
        driver = subprocess.Popen(
            [sys.executable, "-m", "nixtest_tui.drop_in", "-c", str(config), "-o", str(out),
             "--junit-xml", "junit.xml", "--break-on-failure"],
            env=env, stdout=sink, stderr=subprocess.STDOUT, text=True)
        try:
            socket_path = wait_for_attach_line(log, driver)
            client = subprocess.run([sys.executable, "-m", "nixtest_tui", "attach", socket_path],
                                    input="value\n:skip\n", capture_output=True, text=True,
                                    timeout=60, env=env)
            assert client.returncode == 0, client.stderr
            assert "paused at line 3" in client.stdout
            status = driver.wait(60)
        finally:
            driver.kill()
    text = log.read_text()
    assert status == 1, text
    assert "!!! skipped by the user: t.assertTrue(value == 2) (" in text
    assert "1 failure was skipped by the user: the test fails" in text
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1", ET.tostring(suite or ET.Element("x"))
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    failure = cases["a failing step"].find("failure")
    assert failure is not None and "skipped by the user" in (failure.get("message") or "")
    assert cases["a passing step"].find("failure") is None
