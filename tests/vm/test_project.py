"""A test of one's own without Nix: `nixtest-tui init`, an edit, `nixtest-tui --headless DIR`."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

EDITED_SCRIPT = """\
start_all()

with subtest("the echo service comes up"):
    server.wait_for_unit("echo.service")
    server.wait_for_open_port(7)

with subtest("the client talks to the server on both VLANs"):
    reply = client.succeed("echo hello | nc -w 2 server 7")
    t.assertEqual(reply.strip(), "hello")
    client.succeed("ping -c 1 -W 5 192.168.2.2")
    t.assertIn("MemTotal", server.succeed("grep MemTotal /proc/meminfo"))
"""


def nixtest_tui(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "nixtest_tui", *args], env=env, text=True,
                          capture_output=True, timeout=300, check=False)


def test_init_edit_and_run_headless(tmp_path: Path) -> None:
    project = tmp_path / "my-test"
    created = nixtest_tui(tmp_path, "init", str(project))
    assert created.returncode == 0, created.stderr
    assert f"nixtest-tui --headless {project}" in created.stdout
    toml = project / "network.toml"
    text = toml.read_text()
    # the edit a user would make: both machines on a second VLAN, the server with more memory
    text = text.replace("vlans = [1]\nmemory = 256", "vlans = [1, 2]\nmemory = 320")
    text = text.replace("vlans = [1]\nqemu_options = []",
                        'vlans = [1, 2]\nqemu_options = ["-smp", "1"]')
    toml.write_text(text)
    (project / "test.py").write_text(EDITED_SCRIPT)

    run = nixtest_tui(tmp_path, "--headless", str(project), "--junit-xml", "junit.xml")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "-m 320" in (project / "build" / "bin" / "run-server-vm").read_text()
    assert "-smp \\\n    1 \\" in (project / "build" / "bin" / "run-client-vm").read_text()
    out = project / "out"
    cases = ET.parse(out / "junit.xml").getroot().iter("testcase")
    assert sorted(case.get("name", "") for case in cases) == [
        "the client talks to the server on both VLANs", "the echo service comes up"]
    assert (out / "nixtest-trace.jsonl").stat().st_size > 0
