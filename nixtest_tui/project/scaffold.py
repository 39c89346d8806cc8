"""`nixtest-tui init DIR`: a starter network description and test script to edit.

The starter runs as written (two tiny VMs, the echo service the guests ship), so a new user's
first `nixtest-tui --headless DIR` passes before they change anything, and the comments in the
TOML list every field a machine takes.
"""

from __future__ import annotations

from pathlib import Path

from nixtest_tui.project.netdesc import DESCRIPTION_NAME, NetworkDescriptionError

SCRIPT_NAME = "test.py"

STARTER_TOML = """\
# A test network for nixtest-tui. `nixtest-tui build DIR` turns it into start scripts and
# build/driver-configuration.json; `nixtest-tui DIR` opens the test in the TUI and
# `nixtest-tui --headless DIR` runs it (both build first).

[test]
script = "test.py"        # the test script, next to this file
global_timeout = 600      # seconds for the whole test
# restrict_network = true # the user-mode NIC reaches nothing outside the host

# One table per machine; its name is the script's variable and the guest's host name.
#   flavour       tiny (busybox, ~3 s boot) | debian (real systemd, ~11 s boot)
#                 | container (systemd-nspawn on the debian tree, needs root)
#   vlans         VLAN numbers; the machine gets 192.168.<vlan>.<n> on each
#   memory        MiB (VMs only)
#   qemu_options  extra QEMU arguments, one word per string (VMs only)
#   kernel_params extra kernel command line

[machines.server]
flavour = "tiny"
vlans = [1]
memory = 256

[machines.client]
flavour = "tiny"
vlans = [1]
qemu_options = []
"""

STARTER_SCRIPT = """\
# The test script, as a NixOS test's testScript: one variable per machine, plus start_all(),
# subtest(), retry(), t (unittest assertions) and the rest of the driver's API.
start_all()

with subtest("the echo service comes up"):
    server.wait_for_unit("echo.service")
    server.wait_for_open_port(7)

with subtest("the client talks to the server"):
    client.succeed("ping -c 1 -W 5 server")
    reply = client.succeed("echo hello | nc -w 2 server 7")
    t.assertEqual(reply.strip(), "hello")
"""


def write_starter(directory: Path) -> list[Path]:
    """The two files to edit; refuses to overwrite either (they are the user's work)."""
    toml, script = directory / DESCRIPTION_NAME, directory / SCRIPT_NAME
    for path in (toml, script):
        if path.exists():
            raise NetworkDescriptionError(
                f"{path} exists already; edit it, or init another directory")
    directory.mkdir(parents=True, exist_ok=True)
    toml.write_text(STARTER_TOML)
    script.write_text(STARTER_SCRIPT)
    return [toml, script]
