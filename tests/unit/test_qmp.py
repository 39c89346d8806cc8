"""QMPSession against a scripted fake QMP peer, plus one round trip with a real QEMU.

The fake peer listens on a unix socket and runs one script per connection in its own thread, so
the blocking session under test can be driven from the test thread as a test script would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nixtest_tui.driver.errors import QMPAPIError
from nixtest_tui.driver.process import spawn, terminate
from nixtest_tui.driver.qmp import QMPSession, _EventQueue

GREETING = {
    "QMP": {
        "version": {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": ""},
        "capabilities": [],
    }
}
TIMESTAMP = {"seconds": 1700000000, "microseconds": 1}
RESET = {"event": "RESET", "data": {"guest": True, "reason": "guest-reset"}, "timestamp": TIMESTAMP}
STOP = {"event": "STOP", "timestamp": TIMESTAMP}
QEMU = shutil.which("qemu-system-x86_64")
PEER_TIMEOUT = 5.0


class Peer:
    """The QEMU end of one connection.

    QEMU writes one JSON object per line but parses its input as a JSON stream, and qemu.qmp
    relies on that: it sends objects with no newline after them. So the peer decodes a stream.
    """

    def __init__(self, sock: socket.socket) -> None:
        sock.settimeout(PEER_TIMEOUT)
        self.sock = sock
        self.buffer = ""
        self.decoder = json.JSONDecoder()

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def receive(self) -> dict[str, Any]:
        while True:
            text = self.buffer.lstrip()
            try:
                message, end = self.decoder.raw_decode(text)
            except json.JSONDecodeError:
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise EOFError("the session hung up") from None
                self.buffer += chunk.decode()
                continue
            self.buffer = text[end:]
            assert isinstance(message, dict)
            return message

    def reply(self, request: dict[str, Any], value: object) -> None:
        self.send({"return": value, **_echo_id(request)})

    def error(self, request: dict[str, Any], error_class: str, desc: str) -> None:
        self.send({"error": {"class": error_class, "desc": desc}, **_echo_id(request)})

    def hang_up(self) -> None:
        if self.sock.fileno() == -1:
            return
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _echo_id(request: dict[str, Any]) -> dict[str, Any]:
    return {"id": request["id"]} if "id" in request else {}


Script = Callable[[Peer], None]


class FakeQMP:
    """Accepts one connection, greets and negotiates like QEMU, then runs the test's script.

    The connection stays open after the script until `stop()`, so a test sees EOF only where its
    script hangs up.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(1)
        self.listener.settimeout(PEER_TIMEOUT)
        self.handshake: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.errors: list[BaseException] = []
        self.release = threading.Event()
        self.thread: threading.Thread | None = None

    def serve(self, script: Script | None = None, *, negotiate: bool = True) -> None:
        self.thread = threading.Thread(
            target=self._run, args=(script, negotiate), name="fake-qmp-peer"
        )
        self.thread.start()

    def _run(self, script: Script | None, negotiate: bool) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError as err:
            self.errors.append(err)
            return
        peer = Peer(conn)
        try:
            if negotiate:
                peer.send(GREETING)
                request = peer.receive()
                self.handshake.append(request)
                peer.reply(request, {})
            if script is not None:
                script(peer)
            self.release.wait(PEER_TIMEOUT)
        except BaseException as err:
            self.errors.append(err)
        finally:
            peer.hang_up()

    def receive(self, peer: Peer) -> dict[str, Any]:
        """`peer.receive()` that also records the request for the test to inspect."""
        request = peer.receive()
        self.requests.append(request)
        return request

    def stop(self) -> None:
        self.release.set()
        if self.thread is not None:
            self.thread.join(PEER_TIMEOUT)
            assert not self.thread.is_alive(), "the fake QMP peer is stuck"
        self.listener.close()
        if self.errors:
            raise self.errors[0]


def _new_threads(before: set[threading.Thread]) -> set[threading.Thread]:
    # process.spawn() keeps one forking thread for the whole run, by design.
    return {
        t for t in set(threading.enumerate()) - before if not t.name.startswith("nixtest-spawner")
    }


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2
    while _new_threads(before) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _new_threads(before)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeQMP]:
    server = FakeQMP(tmp_path / "qmp")
    yield server
    server.stop()


@pytest.fixture
def open_session(fake: FakeQMP) -> Iterator[Callable[..., QMPSession]]:
    sessions: list[QMPSession] = []

    def open_(script: Script | None = None) -> QMPSession:
        fake.serve(script)
        session = QMPSession.connect(fake.path, timeout=PEER_TIMEOUT)
        sessions.append(session)
        return session

    yield open_
    for session in sessions:
        session.close()


def test_negotiates_capabilities_after_the_greeting(
    fake: FakeQMP, open_session: Callable[..., QMPSession]
) -> None:
    def script(peer: Peer) -> None:
        peer.reply(fake.receive(peer), {"status": "running"})

    session = open_session(script)
    [request] = fake.handshake
    assert request["execute"] == "qmp_capabilities"
    assert request.get("arguments", {}) == {}
    assert session.send("query-status") == {"return": {"status": "running"}}


def test_send_puts_command_and_arguments_on_the_wire(
    fake: FakeQMP, open_session: Callable[..., QMPSession]
) -> None:
    def script(peer: Peer) -> None:
        peer.reply(fake.receive(peer), {"status": "running"})
        peer.reply(fake.receive(peer), {})
        peer.reply(fake.receive(peer), {})

    session = open_session(script)
    assert session.send("query-status", {"verbose": "true"}) == {"return": {"status": "running"}}
    assert session.send("system_reset") == {"return": {}}
    assert session.send("cont", {}) == {"return": {}}
    with_args, without_args, empty_args = fake.requests
    assert isinstance(with_args["id"], str)
    assert with_args == {
        "execute": "query-status",
        "arguments": {"verbose": "true"},
        "id": with_args["id"],
    }
    assert without_args == {"execute": "system_reset", "id": without_args["id"]}
    assert empty_args == {"execute": "cont", "id": empty_args["id"]}, "upstream omits {}"


def test_event_before_the_result_is_queued_not_lost(
    fake: FakeQMP, open_session: Callable[..., QMPSession]
) -> None:
    def script(peer: Peer) -> None:
        request = fake.receive(peer)
        peer.send(RESET)
        peer.send(STOP)
        peer.reply(request, {})

    session = open_session(script)
    assert session.send("system_reset") == {"return": {}}
    assert session.events() == [RESET, STOP]
    assert session.events() == []


def test_wait_for_event_returns_queued_events_in_order(
    fake: FakeQMP, open_session: Callable[..., QMPSession]
) -> None:
    def script(peer: Peer) -> None:
        request = fake.receive(peer)
        peer.send(RESET)
        peer.reply(request, {})
        peer.send(STOP)

    session = open_session(script)
    session.send("system_reset")
    assert session.wait_for_event() == RESET
    assert session.wait_for_event(dt.timedelta(seconds=5)) == STOP


def test_wait_for_event_times_out(open_session: Callable[..., QMPSession]) -> None:
    session = open_session()
    with pytest.raises(TimeoutError):
        session.wait_for_event(0.01)
    with pytest.raises(TimeoutError):
        session.wait_for_event(dt.timedelta(milliseconds=10))


def test_error_reply_raises_qmp_api_error(
    fake: FakeQMP, open_session: Callable[..., QMPSession]
) -> None:
    def script(peer: Peer) -> None:
        peer.error(fake.receive(peer), "CommandNotFound", "The command nope has not been found")
        peer.reply(fake.receive(peer), {})

    session = open_session(script)
    with pytest.raises(QMPAPIError) as caught:
        session.send("nope")
    error = caught.value
    # upstream's attributes, as nixpkgs' qmp-api-error test reads them: the library's own
    # `__qmp#…` id on the wire is not a transaction id the caller chose
    assert error.class_name == "CommandNotFound"
    assert error.description == "The command nope has not been found"
    assert fake.requests[0]["id"] and error.transaction_id is None
    assert str(error) == ("<QMP API error related to transaction None [CommandNotFound]: "
                          "The command nope has not been found>")
    # the names our own code used before stay readable
    assert (error.error_class, error.desc, error.id) == (
        "CommandNotFound", "The command nope has not been found", None)
    assert isinstance(error, RuntimeError)
    assert session.send("cont") == {"return": {}}, "the session survives an error reply"


def test_eof_before_the_greeting(fake: FakeQMP) -> None:
    fake.serve(Peer.hang_up, negotiate=False)
    with pytest.raises(ConnectionError, match="QMP connection closed"):
        QMPSession.connect(fake.path, timeout=PEER_TIMEOUT)


def test_eof_before_the_greeting_on_a_socketpair() -> None:
    client, server = socket.socketpair()
    server.close()
    try:
        with pytest.raises(ConnectionError, match="QMP connection closed"):
            QMPSession.connect(client, timeout=PEER_TIMEOUT)
    finally:
        client.close()


def test_eof_while_waiting_for_a_result(
    fake: FakeQMP, open_session: Callable[..., QMPSession]
) -> None:
    def script(peer: Peer) -> None:
        fake.receive(peer)
        peer.hang_up()

    session = open_session(script)
    with pytest.raises(ConnectionError, match="QMP connection closed"):
        session.send("query-status")
    assert [r["execute"] for r in fake.requests] == ["query-status"]
    with pytest.raises(ConnectionError, match="QMP connection closed"):
        session.send("query-status")


def test_eof_while_waiting_for_an_event(
    fake: FakeQMP, open_session: Callable[..., QMPSession]
) -> None:
    hang_up = threading.Event()

    def script(peer: Peer) -> None:
        hang_up.wait(PEER_TIMEOUT)
        peer.hang_up()

    session = open_session(script)
    outcome: list[BaseException] = []

    def waiter() -> None:
        try:
            session.wait_for_event(PEER_TIMEOUT)
        except BaseException as err:
            outcome.append(err)

    thread = threading.Thread(target=waiter)
    thread.start()
    hang_up.set()
    thread.join(PEER_TIMEOUT / 2)
    assert not thread.is_alive(), "wait_for_event did not notice the hang-up"
    [error] = outcome
    assert isinstance(error, ConnectionError) and "QMP connection closed" in str(error)


def test_events_sent_before_eof_are_still_delivered(
    open_session: Callable[..., QMPSession],
) -> None:
    connected = threading.Event()

    def script(peer: Peer) -> None:
        connected.wait(PEER_TIMEOUT)
        peer.send(RESET)
        peer.hang_up()

    session = open_session(script)
    connected.set()
    assert session.wait_for_event(PEER_TIMEOUT) == RESET
    with pytest.raises(ConnectionError, match="QMP connection closed"):
        session.wait_for_event(PEER_TIMEOUT)
    assert session.events() == []


def test_hang_up_right_after_the_handshake(open_session: Callable[..., QMPSession]) -> None:
    # Usually lands while qemu.qmp is still finishing connect(); the outcome must not differ.
    def script(peer: Peer) -> None:
        peer.send(RESET)
        peer.hang_up()

    session = open_session(script)
    assert session.wait_for_event(PEER_TIMEOUT) == RESET
    with pytest.raises(ConnectionError, match="QMP connection closed"):
        session.wait_for_event(PEER_TIMEOUT)
    with pytest.raises(ConnectionError, match="QMP connection closed"):
        session.send("query-status")


def test_failed_negotiation_is_a_connection_error(fake: FakeQMP) -> None:
    def script(peer: Peer) -> None:
        peer.send(GREETING)
        peer.error(peer.receive(), "GenericError", "no capabilities for you")

    fake.serve(script, negotiate=False)
    with pytest.raises(ConnectionError, match="handshake"):
        QMPSession.connect(fake.path, timeout=PEER_TIMEOUT)


def test_connect_times_out_without_a_greeting(fake: FakeQMP) -> None:
    fake.serve(negotiate=False)
    with pytest.raises(TimeoutError):
        QMPSession.connect(fake.path, timeout=0.1)


def test_connect_to_a_missing_socket(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        QMPSession.connect(tmp_path / "absent")


def test_concurrent_sends_each_get_their_own_reply(
    fake: FakeQMP, open_session: Callable[..., QMPSession]
) -> None:
    def script(peer: Peer) -> None:
        first, second = fake.receive(peer), fake.receive(peer)
        for request in (second, first):  # answer out of order; ids route the replies
            peer.reply(request, request["arguments"]["n"])

    session = open_session(script)
    results: dict[int, dict[str, Any]] = {}

    def call(n: int) -> None:
        results[n] = session.send("echo", {"n": n})

    threads = [threading.Thread(target=call, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PEER_TIMEOUT)
    assert results == {1: {"return": 1}, 2: {"return": 2}}


def test_usable_from_a_thread_that_runs_an_event_loop(
    fake: FakeQMP, open_session: Callable[..., QMPSession]
) -> None:
    def script(peer: Peer) -> None:
        peer.reply(fake.receive(peer), {"status": "running"})

    session = open_session(script)

    async def worker() -> dict[str, Any]:
        return session.send("query-status")  # blocking on purpose, as a Textual thread would

    assert asyncio.run(worker()) == {"return": {"status": "running"}}


def test_close_is_idempotent_and_wakes_waiters(fake: FakeQMP) -> None:
    fake.serve()
    with QMPSession.connect(fake.path, timeout=PEER_TIMEOUT) as session:
        outcome: list[BaseException] = []

        def waiter() -> None:
            try:
                session.wait_for_event(PEER_TIMEOUT)
            except BaseException as err:
                outcome.append(err)

        thread = threading.Thread(target=waiter)
        thread.start()
        session.close()
        thread.join(PEER_TIMEOUT / 2)
        assert not thread.is_alive()
        assert isinstance(outcome[0], ConnectionError)
    session.close()
    with pytest.raises(ConnectionError, match="QMP connection closed"):
        session.send("query-status")


@pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed")
def test_real_qemu(tmp_path: Path) -> None:
    assert QEMU is not None
    path = tmp_path / "qmp"
    qemu = spawn(
        [QEMU, "-machine", "accel=tcg", "-display", "none", "-nodefaults", "-S",
         "-qmp", f"unix:{path},server=on,wait=off"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        session = _connect_when_listening(qemu, path)
        with session:
            status = session.send("query-status")
            assert status["return"]["status"] == "prelaunch"
            assert status["return"]["running"] is False
            assert session.send("cont") == {"return": {}}
            assert session.wait_for_event(PEER_TIMEOUT)["event"] == "RESUME"
            assert session.send("stop") == {"return": {}}
            stop = session.wait_for_event(PEER_TIMEOUT)
            assert stop["event"] == "STOP" and {"seconds", "microseconds"} <= set(stop["timestamp"])
            assert session.send("query-status")["return"]["status"] == "paused"
            with pytest.raises(QMPAPIError) as caught:
                session.send("no-such-command")
            # what nixpkgs' qmp-api-error test asserts, against a real QEMU
            assert caught.value.class_name == "CommandNotFound"
            assert caught.value.description
            assert caught.value.transaction_id is None

            assert session.send("quit") == {"return": {}}
            seen = []
            with pytest.raises(ConnectionError, match="QMP connection closed"):
                while True:
                    seen.append(session.wait_for_event(PEER_TIMEOUT)["event"])
            assert "SHUTDOWN" in seen
        assert qemu.wait(PEER_TIMEOUT) == 0
    finally:
        terminate(qemu)
        if qemu.stdout is not None:
            qemu.stdout.close()


def _connect_when_listening(qemu: subprocess.Popen[bytes], path: Path) -> QMPSession:
    # QEMU creates the socket during start-up; until it listens, connecting is refused.
    deadline = time.monotonic() + 10
    while True:
        if qemu.poll() is not None:
            output = qemu.stdout.read().decode() if qemu.stdout else ""
            pytest.fail(f"QEMU exited with {qemu.returncode}: {output}")
        try:
            return QMPSession.connect(path, timeout=PEER_TIMEOUT)
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def test_event_backlog_is_bounded_and_keeps_the_newest() -> None:
    queue = _EventQueue(maxlen=2)
    for n in range(3):
        queue.push({"event": "RTC_CHANGE", "data": {"offset": n}})
    assert [e["data"]["offset"] for e in queue.drain()] == [1, 2]
