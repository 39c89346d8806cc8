"""The one-round-trip framing, checked without a guest: what is sent and how replies parse."""

from __future__ import annotations

import base64
import subprocess

from nixtest_tui.driver.backdoor import frame_command, parse_reply, session_setup


def test_reply_parses_stdout_status_and_open_notice() -> None:
    body = base64.b64encode(b"a\x00b\n\n")
    assert parse_reply(body + b"#3\n").stdout == b"a\x00b\n\n"  # type: ignore[union-attr]
    assert parse_reply(body + b"#3\n").status == 3  # type: ignore[union-attr]
    assert parse_reply(body + b"#3") is None
    assert parse_reply(body) is None
    notice = parse_reply(body[:4] + b"!0\n" + body[4:] + b"#0\n")
    assert notice is not None and notice.stdout_left_open and notice.stdout == b"a\x00b\n\n"
    empty = parse_reply(b"#124\n")
    assert empty is not None and empty.status == 124 and empty.stdout == b""


def run_locally(command: str, timeout: float | None = None) -> bytes:
    """Run the real framing in a local bash, the way the guest's backdoor shell would."""
    script = session_setup() + frame_command(command, timeout)
    return subprocess.run(["bash", "--norc"], input=script, capture_output=True,
                          check=True, timeout=30).stdout


def test_framing_runs_in_a_plain_bash_with_upstream_semantics() -> None:
    reply = parse_reply(run_locally("printf 'x\\n'; exit 4"))
    assert reply is not None and (reply.status, reply.stdout) == (4, b"x\n")
    reply = parse_reply(run_locally("false | true"))
    assert reply is not None and reply.status == 1  # pipefail
    reply = parse_reply(run_locally("echo $NOT_SET_ANYWHERE"))
    assert reply is not None and reply.status == 1  # nounset
    reply = parse_reply(run_locally("echo \"it's\" 'quoted' $((1+1)) \\$HOME"))
    assert reply is not None and reply.stdout == b"it's quoted 2 $HOME\n"
    reply = parse_reply(run_locally("sleep 5", timeout=0.5))
    assert reply is not None and reply.status == 124


def test_background_holder_of_stdout_does_not_hang() -> None:
    # locally the background sleep also holds the capture pipe, so keep it short
    reply = parse_reply(run_locally("sleep 3 & exit 5"))
    assert reply is not None and reply.status == 5 and reply.stdout_left_open


def test_each_command_is_one_short_line() -> None:
    line = frame_command("systemctl is-active multi-user.target", None)
    assert line.count(b"\n") == 1 and len(line) < 60


def test_background_job_with_redirected_output_is_not_flagged() -> None:
    reply = parse_reply(run_locally("sleep 2 >/dev/null 2>&1 & echo started"))
    assert reply is not None and reply.stdout == b"started\n" and not reply.stdout_left_open
