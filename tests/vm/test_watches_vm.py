"""A watch that runs a guest command is cut off at its timeout and the backdoor stays usable:
the next command gets its own reply (the driver reads the cancelled command's reply first,
so it waits for the guest's `sleep` to end, and the log says so). One tiny guest."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import NetworkFactory, tui_session, wait_until

from nixtest_tui.debugger.watches import WatchList, evaluate_watch
from nixtest_tui.driver.events import LogMessage

pytestmark = pytest.mark.vm

SCRIPT = 'server.succeed("true")\nmarker = 1\n'


def test_a_guest_command_in_a_watch_times_out_and_the_next_works(
        network: NetworkFactory, tmp_path: Path) -> None:
    session = tui_session(network("server", script=SCRIPT), tmp_path)
    session.open()
    try:
        runner = session.require_runner()
        runner.add_breakpoint(2)
        runner.start()
        wait_until(lambda: runner.state in ("paused", "failed"), 300, "the breakpoint")
        assert runner.paused_line == 2, runner.error
        frame = runner.paused_frame
        assert frame is not None
        watches = WatchList()
        slow = watches.add('server.succeed("sleep 8")', timeout=2)
        quick = watches.add('server.succeed("echo ok")', timeout=60)
        assert evaluate_watch(frame, slow).error == "timed out after 2 s"
        assert evaluate_watch(frame, quick).value == "'ok\\n'"  # its own reply, not sleep's
        logged = [e.message for e in session.bus.history() if isinstance(e, LogMessage)]
        assert any("cancelled while the command still runs in the guest" in m for m in logged)
        runner.continue_()
        wait_until(lambda: runner.state in ("finished", "failed"), 60, "the end")
        assert runner.state == "finished", runner.error
    finally:
        session.close()
