"""A watch that runs a guest command ends it in the guest before the watch's timeout (the
command runs under the guest's `timeout`), so nothing is left running there and the next
command answers at once. One tiny guest."""

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
        slow = watches.add('server.succeed("sleep 100")', timeout=2)
        quick = watches.add('server.succeed("echo ok")', timeout=60)
        left = watches.add('server.succeed("pgrep -x sleep || echo none")', timeout=60)
        result = evaluate_watch(frame, slow)
        # the guest's `timeout` ended the command just before the watch's own timeout
        assert "exit code 124" in result.error, result
        assert evaluate_watch(frame, quick).value == "'ok\\n'"  # at once: nothing to wait for
        assert evaluate_watch(frame, left).value == "'none\\n'"  # no sleep left in the guest
        logged = [e.message for e in session.bus.history() if isinstance(e, LogMessage)]
        assert not any("cancelled while the command still runs" in m for m in logged)
        runner.continue_()
        wait_until(lambda: runner.state in ("finished", "failed"), 60, "the end")
        assert runner.state == "finished", runner.error
    finally:
        session.close()
