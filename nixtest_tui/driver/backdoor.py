"""The host side of the backdoor root shell on the guest's /dev/hvc0.

The framing (what the guest runs and how replies look) is in `backdoor_wire.py`. Here: the
handshake, one command at a time per machine, acknowledging the reply's windows as they
arrive, and turning every way the channel can fail into a `MachineError` that names why,
never a hang:

* a backdoor shell that exits (`exec false` typed into it, a guest that kills it): the guest
  keeps hvc0 open, so the host would never see EOF. At connect time a sentinel subshell
  starts in the guest; when the shell's pid is gone it writes `~gone <nonce>` to the channel.
  The nonce is per connection, so the sentinel of a shell that was replaced (switch_root) is
  not mistaken for the current one;
* QEMU exiting (checked every `TICK` while a read waits);
* a reply that breaks the framing (`ChannelError`).

A command whose stdout stays open after it exited (a background process holds it) is waited
for, as upstream does; after `HELD_OPEN_WARNING` seconds the log says why the test waits.
"""

from __future__ import annotations

import os
import secrets
import select
import socket
import threading
import time
from collections.abc import Callable

from nixtest_tui.driver import cancel
from nixtest_tui.driver.backdoor_wire import (
    ACK,
    MAGIC,
    Reply,
    ReplyReader,
    frame_command,
    session_setup,
)
from nixtest_tui.driver.errors import MachineError

__all__ = ["MAGIC", "Backdoor", "HandshakeTimeout", "Reply", "backdoor_timeout"]

TICK = 0.5  # how often a blocked read checks whether QEMU is still alive
HELD_OPEN_WARNING = 10.0  # seconds after the command's exit before we say why we still wait
BACKDOOR_ATTEMPTS = 10
BACKDOOR_SECONDS = 300.0  # upstream's bound: 10 silent attempts of 30 s


class HandshakeTimeout(MachineError):
    """The magic line never came; `seen` is what arrived on the channel meanwhile."""

    def __init__(self, seconds: float, seen: bytes) -> None:
        what = f"it sent only {seen[-200:]!r}" if seen else "nothing arrived on it"
        super().__init__(f"the backdoor shell did not start within {seconds:.0f} s ({what})")
        self.seconds = seconds
        self.seen = seen


def backdoor_timeout() -> float:
    """`NIXTEST_BACKDOOR_TIMEOUT` (seconds) or upstream's 300 s: how long a guest may stay
    silent on the backdoor channel. Tests of broken guests want seconds, not five minutes."""
    value = os.environ.get("NIXTEST_BACKDOOR_TIMEOUT", "")
    try:
        return float(value) if value else BACKDOOR_SECONDS
    except ValueError:
        raise MachineError(f"NIXTEST_BACKDOOR_TIMEOUT={value!r} is not a number of seconds"
                           ) from None


def no_backdoor_message(machine: str, exc: HandshakeTimeout, serial: list[str],
                        timeout: float) -> str:
    """What a user needs when the backdoor never came: what the guest did say, and where."""
    tail = "\n".join(f"    {line}" for line in serial[-15:])
    return (
        f"{machine}: {exc}.\nLast lines on the serial console:\n"
        f"{tail or '    (nothing: the kernel never printed to ttyS0)'}\n"
        "Check: that the guest booted (no panic or rescue shell above), that it runs the "
        "backdoor (NixOS: testing.backdoor / backdoor.service; it prints 'Spawning "
        "backdoor root shell...' on /dev/hvc0), and that the kernel has virtio_console "
        "for hvc0. A slow guest under TCG may need NIXTEST_BACKDOOR_TIMEOUT (seconds, "
        f"now {timeout:.0f})."
    )


class Backdoor:
    """One connected shell; commands on it are serialised by a lock (safe from any thread)."""

    def __init__(
        self,
        sock: socket.socket,
        describe_death: Callable[[], str | None],
        log: Callable[[str], None],
    ) -> None:
        """`describe_death()` returns why the machine is gone (QEMU exited ...) or None."""
        self.sock = sock
        self._describe_death = describe_death
        self._log = log
        self.lock = threading.RLock()
        self._pending = 0  # replies of detached or cancelled commands not read yet
        self._nonce = secrets.token_hex(6)
        self._reader = ReplyReader(self._nonce.encode())
        self.gone: str | None = None  # why the shell is known to be gone

    # -- handshake ---------------------------------------------------------------------------

    def handshake(self, attempts: int = 10, attempt_seconds: float = 30.0,
                  on_silence: Callable[[int], None] | None = None) -> None:
        """Skip everything up to the magic line; bounded, as upstream's newest driver is.

        Each attempt waits `attempt_seconds` for a byte; `attempts` silent ones in a row give
        up with `HandshakeTimeout`, which says what (if anything) arrived on the channel.
        """
        seen = b""
        silent = 0
        with self.lock:
            while MAGIC not in seen:
                chunk = self._recv(attempt_seconds, waiting_for="the backdoor shell")
                if chunk is None:
                    silent += 1
                    if on_silence:
                        on_silence(silent)
                    if silent >= attempts:
                        raise HandshakeTimeout(attempts * attempt_seconds, seen)
                    continue
                silent = 0
                self._log(f"Guest shell says: {chunk!r}")
                seen = (seen + chunk)[-4096:]
            self._nonce = secrets.token_hex(6)
            self._reader = ReplyReader(self._nonce.encode())
            self.sock.sendall(session_setup(self._nonce))
            self._pending = 0
            self.gone = None

    # -- commands ----------------------------------------------------------------------------

    def run(self, command: str, timeout: float | None,
            on_exit: Callable[[int], None] | None = None) -> Reply:
        """Run `command` and return its reply; `on_exit` hears when stdout outlives it."""
        line = frame_command(command, timeout)
        with self.lock:
            self._drain_pending()
            self.sock.sendall(line)
            return self._read_reply(command, timeout, on_exit)

    def run_detached(self, command: str, timeout: float | None) -> None:
        """Send without waiting (upstream's check_output=False); the reply is read later."""
        line = frame_command(command, timeout)
        with self.lock:
            self._drain_pending()
            self.sock.sendall(line)
            self._pending += 1

    def send_raw(self, data: bytes) -> None:
        """Bytes outside the framing, e.g. upstream's raw `poweroff\\n` for shutdown."""
        with self.lock:
            self.sock.sendall(data)

    def check_alive(self) -> None:
        """Raise if the sentinel already reported the shell gone; reads only what is there.

        For callers that will not read a reply (shutdown's raw `poweroff`): without this they
        would wait for a QEMU that nobody tells to stop.
        """
        with self.lock:
            while not self._reader.gone and select.select([self.sock], [], [], 0)[0]:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self._feed(chunk)
            if self._reader.gone or self.gone:
                self.gone = "the backdoor shell in the guest exited"
                raise MachineError(f"Shell disconnected: {self.gone}")

    def _drain_pending(self) -> None:
        while self._pending:
            self._read_reply("(an earlier command)", None, None)
            self._pending -= 1

    def _feed(self, chunk: bytes) -> None:
        self._reader.feed(chunk, time.monotonic())
        if self._reader.acks_due:
            self.sock.sendall(ACK * self._reader.acks_due)
            self._reader.acks_due = 0

    def _read_reply(self, command: str, timeout: float | None,
                    on_exit: Callable[[int], None] | None) -> Reply:
        # The guest's `timeout` ends the command; allow it time to report before giving up.
        deadline = None if timeout is None else time.monotonic() + timeout + 60.0
        reader = self._reader
        warned = False
        try:
            while not reader.replies:
                if reader.gone or self.gone:
                    self.gone = "the backdoor shell in the guest exited"
                    raise MachineError(
                        f"Shell disconnected: {self.gone}; the guest has no backdoor any "
                        "more: crash() and start() the machine")
                now = time.monotonic()
                if (not warned and reader.exited_at is not None
                        and now - reader.exited_at >= HELD_OPEN_WARNING):
                    warned = True
                    self._log(held_open_warning(command, now - reader.exited_at))
                    if on_exit is not None:
                        on_exit(int(now - reader.exited_at))
                remaining = None if deadline is None else deadline - now
                if remaining is not None and remaining <= 0:
                    raise MachineError(
                        f"no reply from the backdoor {timeout} s after the command's own "
                        "timeout (a background process may hold its stdout open)")
                wait = TICK if remaining is None else min(TICK, remaining)
                chunk = self._recv(wait, waiting_for="the command's reply")
                if chunk is not None:
                    self._feed(chunk)
        except cancel.Cancelled:
            # The command still runs in the guest: its reply is read before the next one.
            self._pending += 1
            self._log("cancelled while the command still runs in the guest; the next command "
                      "on this machine waits for it to finish")
            raise
        return reader.replies.popleft()

    # -- socket ------------------------------------------------------------------------------

    def _recv(self, seconds: float | None, waiting_for: str) -> bytes | None:
        """Bytes, or None after `seconds`; raises when the shell or the machine is gone."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            wait = TICK if deadline is None else min(TICK, max(deadline - time.monotonic(), 0))
            readable, _, _ = select.select([self.sock], [], [], wait)
            if readable:
                chunk = self.sock.recv(262144)
                if not chunk:
                    message = f"Shell disconnected while waiting for {waiting_for}"
                    raise MachineError(self._gone(message))
                return chunk
            cancel.check()
            death = self._describe_death()
            if death:
                raise MachineError(self._gone(f"{death} while waiting for {waiting_for}"))
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def _gone(self, message: str) -> str:
        # QEMU closes its sockets as it dies, before it can be reaped: give the exit a moment
        # to become visible, so the message names it rather than just "disconnected"
        deadline = time.monotonic() + 2.0
        while (death := self._describe_death()) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return f"{message} ({death})" if death and death not in message else message

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def held_open_warning(command: str, seconds: float) -> str:
    """Why a command that has exited still has not returned (upstream PR #471141's case)."""
    return (f"warning: command `{command}` exited {seconds:.0f} s ago, but its stdout is "
            "still open: a background process it started holds it. The command returns "
            "when that process closes stdout or exits (its timeout still applies). To return "
            "at once, redirect the background process' output (`>/dev/null`, `>&2` or a "
            "file).")
