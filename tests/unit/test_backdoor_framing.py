"""The reply framing without a guest: the parser over every chunking, and a plain bash."""

from __future__ import annotations

import base64
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nixtest_tui.driver.backdoor_wire import (
    RAW_LIMIT,
    RAW_PIECES,
    WINDOW,
    ChannelError,
    Reply,
    ReplyReader,
    frame_command,
    session_setup,
)


def raw_length(stdout: bytes) -> tuple[int, bool]:
    """How much of stdout the guest's builtins take, and whether base64 takes the rest."""
    taken, room, pieces = 0, RAW_LIMIT, 0
    while True:
        piece = stdout[taken:taken + room]
        if b"\0" in piece:
            taken += piece.index(b"\0") + 1
        elif len(piece) < room:
            return len(stdout), False  # stdout ended
        else:
            taken += room
        room, pieces = RAW_LIMIT - taken, pieces + 1
        if room <= 0 or pieces >= RAW_PIECES:
            return taken, True


def writes(stdout: bytes, status: int, window: int = WINDOW) -> list[bytes]:
    """A reply as the guest functions write it, one item per write() (the format's spec)."""
    taken, more = raw_length(stdout)
    escaped = stdout[:taken].replace(b"\\", b"\\\\").replace(b"\n", b"\\n")
    frame = [b"'" + escaped.replace(b"\0", b"\\0") + b"\n"] if taken else []
    if not more:
        return [*frame, b"#%d\n" % status]
    text = base64.b64encode(stdout[taken:])
    windows = [text[i:i + window] for i in range(0, len(text), window)]
    if not windows or len(windows[-1]) == window:
        windows.append(b"")
    sent = [*(w + b"." for w in windows[:-1]), windows[-1] + b"$"]
    return [*frame, b"=" + sent[0], *sent[1:], b"#%d\n" % status]


def encode(stdout: bytes, status: int, window: int = WINDOW) -> bytes:
    return b"".join(writes(stdout, status, window))


def parse_all(stream: bytes, cuts: list[int], nonce: bytes = b"abc") -> tuple[list[Reply],
                                                                              ReplyReader]:
    reader = ReplyReader(nonce)
    previous = 0
    for cut in sorted({c % (len(stream) + 1) for c in cuts}) + [len(stream)]:
        reader.feed(stream[previous:cut], now=float(cut))
        previous = cut
    return list(reader.replies), reader


# outputs around the raw frame's limit, some made of the bytes it escapes or stops at
TRICKY = st.lists(st.sampled_from(b"\\\n\0'#=x"), max_size=300).map(bytes)


@settings(max_examples=300, deadline=None)
@given(outputs=st.lists(st.binary(max_size=600) | TRICKY, min_size=1, max_size=4),
       status=st.integers(0, 255), cuts=st.lists(st.integers(0, 10_000), max_size=30),
       marker_at=st.lists(st.integers(0, 10_000), max_size=3))
def test_any_chunking_gives_the_same_replies(outputs: list[bytes], status: int, cuts: list[int],
                                             marker_at: list[int]) -> None:
    pieces = [piece for out in outputs for piece in writes(out, status, window=8)]
    # notices and another connection's sentinel land between two writes (a tty write is
    # atomic), in any number
    for position in sorted(marker_at, reverse=True):
        at = position % (len(pieces) + 1)
        pieces.insert(at, b"!0\n~gone ffff\n")
    stream = b"".join(pieces)
    import nixtest_tui.driver.backdoor_wire as wire
    original = wire.WINDOW
    wire.WINDOW = 8
    try:
        replies, reader = parse_all(stream, cuts)
    finally:
        wire.WINDOW = original
    assert [r.stdout for r in replies] == outputs
    assert all(r.status == status for r in replies)
    assert not reader.gone  # another nonce's sentinel is not ours


def test_windows_are_acknowledged_and_checked() -> None:
    data = bytes(range(256)) * 1000
    replies, reader = parse_all(encode(data, 0), [])
    assert replies[0].stdout == data
    assert reader.acks_due == len(base64.b64encode(data[raw_length(data)[0]:])) // WINDOW
    stream = encode(data, 0)
    at = stream.index(b"\n=") + 9
    broken = stream[:at] + stream[at + 1:]  # one character lost in a window
    with pytest.raises(ChannelError, match="out of step"):
        parse_all(broken, [])


def test_our_sentinel_and_garbage() -> None:
    _, reader = parse_all(b"~gone abc\n", [])
    assert reader.gone
    with pytest.raises(ChannelError, match="restart the machine"):
        parse_all(b"hello\n#0\n", [])
    for broken in (b"'a\\qb\n#0\n", b"'ab\\\n#0\n", b"'" + b"x" * 600, b"=QUJD'x\n$#0\n"):
        with pytest.raises(ChannelError, match="out of step"):
            parse_all(broken, [])
    replies, _ = parse_all(b"'a\\\\b\\n\\0\n!0\n=QUJD$#3\n", [])
    assert (replies[0].stdout, replies[0].status) == (b"a\\b\n\0ABC", 3)


def run_locally(command: str, timeout: float | None = None) -> Reply:
    """Run the real framing in a local bash, the way the guest's backdoor shell would."""
    script = session_setup() + frame_command(command, timeout)
    out = subprocess.run(["bash", "--norc"], input=script, capture_output=True,
                         check=True, timeout=30).stdout
    replies, _ = parse_all(out, [])
    return replies[0]


def test_framing_runs_in_a_plain_bash_with_upstream_semantics() -> None:
    reply = run_locally("printf 'x\\n'; exit 4")
    assert (reply.status, reply.stdout) == (4, b"x\n")
    assert run_locally("false | true").status == 1
    assert run_locally("echo $NOT_SET_ANYWHERE").status == 1
    reply = run_locally("echo \"it's\" 'quoted' $((1+1)) \\$HOME")
    assert reply.stdout == b"it's quoted 2 $HOME\n"
    assert run_locally("sleep 5", timeout=0.5).status == 124


def test_command_line_is_short_and_quoted() -> None:
    line = frame_command("systemctl is-active multi-user.target", None)
    assert line == b"__nt - 'systemctl is-active multi-user.target'\n"
    assert frame_command("x" * 70000, 5.0).startswith(b"__ntl 5.0 70000\n")
