"""The blocking QMP session that test scripts reach as `machine.qmp_client`.

Test scripts run in ordinary threads, but qemu.qmp is asyncio only. Its own synchronous facade
(`qemu/qmp/legacy.py`) drives a loop with `run_until_complete` on the caller's thread, which
breaks as soon as that thread already runs a loop (a Textual worker does). So every session owns
a private event loop in a daemon thread, and each public method is a blocking hop onto it.

Events take a different path. qemu.qmp routes each incoming message in arrival order, so an event
sink that hands events to a thread-safe queue *while they are being routed* guarantees that every
event QEMU sent before a reply is queued by the time `send()` returns that reply. Reading events
then needs no hop onto the loop at all, and `send()` never consumes or reorders them.

Upstream's session detected no EOF; its newest unit tests expect `ConnectionError` ("QMP
connection closed") wherever a caller would otherwise wait forever, and this session does that.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from qemu.qmp import (
    ConnectError,
    EventListener,
    ExecInterruptedError,
    ExecuteError,
    Message,
    QMPClient,
    Runstate,
    StateError,
)

from nixtest_tui.driver.errors import QMPAPIError

logger = logging.getLogger(__name__)
# qemu.qmp logs expected failures (a socket not ready yet, EOF at shutdown) at ERROR level; with
# no handler configured Python would print them on stderr, over the log or the TUI.
logging.getLogger("qemu.qmp").addHandler(logging.NullHandler())

T = TypeVar("T")

CLOSED = "QMP connection closed"
# Far more than any test consumes, yet bounded: a guest that floods events (RTC_CHANGE, say)
# during a long test that never reads them must not grow the driver without limit.
EVENT_BACKLOG = 10_000
# How long `close()` waits for the loop thread to wind down before giving up on it.
CLOSE_GRACE = 5.0


class _EventQueue:
    """Events in arrival order, shared between the loop thread and any number of callers.

    Closing wakes every waiter; events queued before the close are still handed out first,
    because a script that asked for `SHUTDOWN` wants it even though QEMU hung up right after.
    """

    def __init__(self, maxlen: int) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._changed = threading.Condition()
        self._closed_because: str | None = None
        self._dropped = 0

    def push(self, event: dict[str, Any]) -> None:
        with self._changed:
            if len(self._items) == self._items.maxlen:
                self._dropped += 1
                if self._dropped == 1 or self._dropped % 1000 == 0:
                    logger.warning("QMP event backlog full, %d oldest dropped", self._dropped)
            self._items.append(event)
            self._changed.notify()

    def close(self, reason: str) -> None:
        with self._changed:
            if self._closed_because is None:
                self._closed_because = reason
            self._changed.notify_all()

    def pop(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self._items:
                if self._closed_because is not None:
                    raise ConnectionError(f"{CLOSED} ({self._closed_because})")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no QMP event arrived within {timeout} s")
                self._changed.wait(remaining)
            return self._items.popleft()

    def drain(self) -> list[dict[str, Any]]:
        with self._changed:
            drained = list(self._items)
            self._items.clear()
            return drained


class _EventSink(EventListener):
    """Replaces qemu.qmp's default all-events listener.

    That listener keeps an asyncio queue no other thread can wait on, plus a history that is
    never trimmed; over a long test both only grow.
    """

    def __init__(self, queue: _EventQueue) -> None:
        super().__init__()
        self._target = queue

    async def put(self, event: Message) -> None:
        self._target.push(dict(event))


class QMPSession:
    """A QMP connection whose methods block, safe to share between threads.

    Replies are matched to commands by the id qemu.qmp adds, so concurrent `send()` calls from
    different threads each get their own reply; events go to one queue that no `send()` touches.
    """

    def __init__(self, name: str = "qmp") -> None:
        """Start the loop thread only; `connect()` is how sessions are meant to be made."""
        self._name = name
        self._events = _EventQueue(EVENT_BACKLOG)
        self._loop = asyncio.new_event_loop()
        self._client: QMPClient | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._disconnecting: asyncio.Task[str] | None = None
        # Guards `_closed` so that nothing is submitted to a loop that is about to stop.
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run_loop, name=f"{name}-loop", daemon=True)
        self._thread.start()

    # ----------------------------
    # Section: Public interface
    # ----------------------------

    @classmethod
    def connect(cls, path: Path | str | socket.socket, timeout: float = 10.0) -> QMPSession:
        """Connect, read the greeting and negotiate capabilities (qemu.qmp does both).

        A connected `socket.socket` is accepted too, as upstream's session was built on one;
        the session then owns it.

        :raise ConnectionError: "QMP connection closed" if the peer hangs up before the
            handshake is done, or another message if the handshake is not understood.
        :raise OSError: when the socket cannot be reached at all (missing, refused).
        :raise TimeoutError: when the handshake does not finish within `timeout` seconds.
        """
        address: str | socket.socket = path if isinstance(path, socket.socket) else str(path)
        # Sockets live in per-machine state directories, so the directory names the machine in
        # qemu.qmp's log records and in the loop thread's name.
        machine = Path(address).parent.name if isinstance(address, str) else ""
        session = cls(name=f"qmp-{machine}" if machine else "qmp")
        try:
            session._call(session._open(address, timeout))
        except BaseException:
            session.close()
            raise
        return session

    def send(self, cmd: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one command and return the reply message, `{"return": ...}`, as upstream does.

        Empty `args` are left off the wire, like upstream's default `{}`.

        :raise QMPAPIError: when QEMU answers with an error.
        :raise ConnectionError: "QMP connection closed" when the connection ends first.
        """
        return self._call(self._execute(cmd, args))

    def wait_for_event(self, timeout: float | dt.timedelta = 10.0) -> dict[str, Any]:
        """Return the oldest queued event, waiting up to `timeout` for one to arrive.

        `timeout` may be a `timedelta`, which is what upstream's signature takes.

        :raise TimeoutError: when nothing arrives in time.
        :raise ConnectionError: "QMP connection closed" when the queue is empty and the
            connection has ended, since nothing can arrive any more.
        """
        self._refuse_loop_thread()
        seconds = timeout.total_seconds() if isinstance(timeout, dt.timedelta) else timeout
        return self._events.pop(seconds)

    def events(self) -> list[dict[str, Any]]:
        """Take every queued event without waiting; works after the connection has ended."""
        return self._events.drain()

    def close(self) -> None:
        """Disconnect and stop the loop thread; later calls do nothing.

        Callers blocked in `send()` or `wait_for_event()` get `ConnectionError`.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._refuse_loop_thread()
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(CLOSE_GRACE)
        except Exception as err:  # closing must not fail; the reason is only worth a log line
            logger.debug("QMP session %s: unclean shutdown: %r", self._name, err)
        finally:
            self._events.close("the session was closed")
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CLOSE_GRACE)

    def __enter__(self) -> QMPSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------
    # Section: Thread hop
    # ----------------------------

    def _refuse_loop_thread(self) -> None:
        # A blocking call made on the loop's own thread would wait for itself forever.
        if threading.current_thread() is self._thread:
            raise RuntimeError("QMPSession blocks; do not call it from its own event loop")

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            self._refuse_loop_thread()
            with self._lock:
                if self._closed:
                    raise ConnectionError(f"{CLOSED} (the session was closed)")
                future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        except BaseException:
            coro.close()  # never scheduled; closing it avoids a "never awaited" warning
            raise
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            # Only the loop thread's final clean-up cancels work, i.e. the session closed.
            raise ConnectionError(f"{CLOSED} (the session was closed)") from None
        finally:
            future.cancel()  # no-op once done; stops the command if the caller was interrupted

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._finish_leftover_tasks()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def _finish_leftover_tasks(self) -> None:
        # Commands interrupted by the shutdown may still be on their way to raising; let them
        # finish so their callers see ConnectionError, and cancel whatever is truly stuck.
        leftovers = asyncio.all_tasks(self._loop)
        if leftovers:
            self._loop.run_until_complete(asyncio.wait(leftovers, timeout=1.0))
        stuck = [task for task in leftovers if not task.done()]
        for task in stuck:
            task.cancel()
        if stuck:
            self._loop.run_until_complete(asyncio.gather(*stuck, return_exceptions=True))

    # ----------------------------
    # Section: Loop-side coroutines
    # ----------------------------

    async def _open(self, address: str | socket.socket, timeout: float) -> None:
        client = QMPClient(self._name)
        # qemu.qmp refuses to unregister whatever `client.events` names, so the sink takes over
        # that public attribute first; the stock listener then goes away entirely.
        stock, client.events = client.events, _EventSink(self._events)
        client.remove_listener(stock)
        client.register_listener(client.events)
        self._client = client
        try:
            await asyncio.wait_for(client.connect(address), timeout)
        except ConnectError as err:
            if isinstance(err.exc, OSError):  # unreachable socket: the plain error says it best
                raise err.exc from None
            raise _handshake_error(address, err) from err
        except TimeoutError:
            raise TimeoutError(f"QMP handshake on {address} took over {timeout} s") from None
        except AssertionError:
            # qemu.qmp asserts it is still RUNNING when connect() returns, but a peer that hangs
            # up right after the handshake has already moved it on. The handshake did succeed,
            # and events sent before the hang-up are queued: hand out a session whose watcher
            # finds it closed, just as if the hang-up had come a moment later.
            if client.runstate is Runstate.IDLE:
                raise
        self._watcher = asyncio.create_task(self._watch(client))

    async def _execute(self, cmd: str, args: dict[str, Any] | None) -> dict[str, Any]:
        client = self._client
        if client is None:
            raise ConnectionError("QMP session was never connected; use QMPSession.connect()")
        msg = client.make_execute_msg(cmd, args or None)
        # qemu.qmp stamps its own `__qmp#NNNNN` id on the wire; the transaction id a caller
        # should see is the one it chose, and send() lets it choose none (upstream: None).
        caller_id = msg.get("id")
        try:
            value = await client.execute_msg(msg)
        except ExecuteError as err:
            raise QMPAPIError(err.error_class, err.error.error.desc, caller_id) from err
        except ExecInterruptedError as err:
            reason = await asyncio.shield(self._disconnect())
            raise ConnectionError(f"{CLOSED} before the reply to {cmd!r} ({reason})") from err
        except StateError as err:
            reason = await asyncio.shield(self._disconnect())
            raise ConnectionError(f"{CLOSED}; cannot send {cmd!r} ({reason})") from err
        return {"return": value}

    async def _watch(self, client: QMPClient) -> None:
        # qemu.qmp notices EOF in its reader task but only reports it to whoever calls
        # disconnect(); without this watcher, event waiters would never learn of it.
        while client.runstate is Runstate.RUNNING:
            await client.runstate_changed()
        await asyncio.shield(self._disconnect())

    def _disconnect(self) -> asyncio.Task[str]:
        # One disconnect per session: qemu.qmp's disconnect() must not run twice at once, and
        # the watcher, interrupted commands and close() may all ask for it.
        if self._disconnecting is None:
            self._disconnecting = asyncio.create_task(self._disconnect_once())
        return self._disconnecting

    async def _disconnect_once(self) -> str:
        assert self._client is not None
        reason = "the session was closed"
        try:
            await self._client.disconnect()
        except EOFError:
            reason = "the peer hung up"
        except Exception as err:  # the reader's failure, re-raised by disconnect(): report it
            reason = f"{type(err).__name__}: {err}"
        logger.debug("QMP session %s ended: %s", self._name, reason)
        self._events.close(reason)
        return reason

    async def _shutdown(self) -> None:
        if self._watcher is None:  # never connected; qemu.qmp already reset itself
            return
        await self._disconnect()
        self._watcher.cancel()
        await asyncio.wait([self._watcher])


def _handshake_error(address: str | socket.socket, err: ConnectError) -> ConnectionError:
    """Turn qemu.qmp's wrapper into the error upstream's callers expect."""
    if isinstance(err.exc, EOFError):
        return ConnectionError(f"{CLOSED} before the QMP handshake on {address} finished")
    return ConnectionError(f"QMP handshake on {address} failed: {err}")
