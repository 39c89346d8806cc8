"""`--debug-hook-attach`: on failure, stop and serve pdb on 127.0.0.1:4444 (spec §9.2).

The attach tool of nixpkgs' breakpointHook finds the sandbox through a `sleep <P>` marker
process; we print the same instruction and start the same marker, then serve a telnet-friendly
pdb on the failing frame until the user continues.
"""

from __future__ import annotations

import os
import pdb
import random
import shutil
import socket
import subprocess
import sys

from nixtest_tui.driver.logger import AbstractLogger
from nixtest_tui.driver.process import spawn, terminate


class DebugHook:
    def __init__(self, logger: AbstractLogger, attach_command: str) -> None:
        self.logger = logger
        self.attach_command = attach_command

    def breakpoint(self, host: str = "127.0.0.1", port: int = 4444) -> None:
        marker = random.randint(1_000_000, 9_999_999)
        self.logger.log_test_error(f"Breakpoint reached, run 'sudo {self.attach_command} {marker}'")
        os.environ["bashInteractive"] = shutil.which("bash") or "/bin/bash"
        sleeper = spawn(["sleep", str(marker)], stdin=subprocess.DEVNULL)
        try:
            with socket.create_server((host, port), reuse_port=False) as server:
                connection, _ = server.accept()
                with connection, connection.makefile("rw") as stream:
                    debugger = pdb.Pdb(stdin=stream, stdout=stream)
                    debugger.use_rawinput = False
                    debugger.reset()
                    # called from the failure's except block: inspect the failing frames,
                    # blocking until the user continues or quits
                    traceback = sys.exc_info()[2]
                    debugger.interaction(None if traceback else sys._getframe(1), traceback)
        finally:
            terminate(sleeper)
