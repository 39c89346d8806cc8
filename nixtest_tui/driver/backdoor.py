"""The host side of the backdoor root shell on the guest's /dev/hvc0.

The guest side is stock (a non-interactive `bash` reading commands from hvc0 after the line
`Spawning backdoor root shell...`), so the framing is ours to choose (spec §6.3-6.4). Upstream
sends the command, reads its base64-encoded stdout, then sends `echo ${PIPESTATUS[0]}` and reads
the status: two round trips. We send both halves in one line and read one reply:

    bash -c '<trap>; set -euo pipefail; <cmd>' | base64 -w 0; echo "#${PIPESTATUS[0]}"

The reply is `<base64 of stdout>#<status>\n`; `#` is outside base64's alphabet. Semantics are
upstream's: the command runs under `bash -c` with stdout a pipe, stderr on the serial console,
stdout complete when every writer has closed it.

Beyond upstream, a command that leaves a background process holding its stdout (`sleep 1d &`)
no longer hangs the test: an EXIT trap inside `bash -c` notices a live background job, tells the
host with a `!<status>\n` notice written straight to the channel (fd 19, a copy of hvc0 made
at connect time), and starts a guardian that stops the base64 reader after a grace period. The
output the reader had not flushed yet is lost then; the log says so and how to avoid it.

Also beyond upstream, a backdoor shell that exits (`exec false` typed into it, a guest that
kills it) is an error, not a hang: the guest keeps hvc0 open, so the host would never see EOF.
At connect time a sentinel subshell starts in the guest; when the shell's pid is gone it writes
`~gone <nonce>\n` to the channel (`~` is outside the reply alphabet). The nonce is per
connection, so the sentinel of a shell that was replaced (switch_root) is not mistaken for
the current one.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import select
import shlex
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from nixtest_tui.driver import cancel
from nixtest_tui.driver.errors import MachineError

MAGIC = b"Spawning backdoor root shell..."
CHANNEL_FD = 19  # the backdoor shell's copy of hvc0 for out-of-band notices
OPEN_STDOUT_GRACE = 2.0  # seconds a background holder of stdout gets before we stop waiting
TICK = 0.5  # how often a blocked read checks whether QEMU is still alive
BACKDOOR_ATTEMPTS = 10
BACKDOOR_SECONDS = 300.0  # upstream's bound: 10 silent attempts of 30 s
_GONE = re.compile(rb"~gone ([0-9a-f]+)\r?\n")

_EXIT_TRAP = (
    'trap \'__s=$?; __h() { kill -0 "$!" 2>/dev/null && { [[ /proc/$!/fd/1 -ef /dev/stdout ]] '
    '|| [[ /proc/$!/fd/2 -ef /dev/stdout ]]; }; }; '
    # a just-forked job may not have applied its own redirections yet: look twice
    'if [ -n "${!:-}" ] && __h && sleep 0.2 && __h; then '
    f'printf "!%d\\n" "$__s" >&{CHANNEL_FD}; '
    '__r=; for __p in /proc/[0-9]*; do [[ $__p/fd/0 -ef /dev/stdout ]] && __r=${__p#/proc/}; done; '
    f'( sleep {OPEN_STDOUT_GRACE}; read -r __c < /proc/$__r/comm && [ "$__c" = base64 ] && '
    f'kill $__r ) >/dev/null 2>&1 {CHANNEL_FD}>&- & fi\' EXIT'
)


@dataclass(frozen=True)
class Reply:
    status: int
    stdout: bytes
    stdout_left_open: bool = False

    @property
    def text(self) -> str:
        return self.stdout.decode(errors="replace")


def session_setup(nonce: str = "0") -> bytes:
    """Sent once per connection: the notice channel, the sentinel and the `__nt` runner.

    Bash reads a script from a character device one byte at a time, so a long line per
    command costs a syscall per byte under emulation; defining the framing once keeps each
    command's line as short as upstream's. The sentinel polls with builtins only (`read` of
    /proc/<pid>/stat, where a zombie counts as gone, and `read -t` on a pipe nobody writes),
    so it costs the guest no fork per second. The shell leads the session of hvc0, so its
    exit hangs the terminal up: the sentinel ignores SIGHUP and writes through a fresh open
    of the device (/proc/self/fd/19), where the kernel's default `\r\n` line ends are back.
    """
    trap = shlex.quote(_EXIT_TRAP + "; set -euo pipefail; ")
    sentinel = (
        "( trap '' HUP; exec 17<> <(:); while read -r _ _ s _ </proc/$$/stat && [ $s != Z ]; do "
        "read -t 1 -u 17 _ || :; done; "
        f"printf '~gone %s\\n' {nonce} >/proc/self/fd/{CHANNEL_FD} ) "
        "</dev/null >/dev/null 2>&1 & "
    )
    return (
        f"exec {CHANNEL_FD}>&1; {sentinel}__nt_pre={trap}; "
        '__nt() { if [ "$1" = - ]; then bash -c "$__nt_pre$2" | base64 -w 0; '
        'else timeout "$1" bash -c "$__nt_pre$2" | base64 -w 0; fi; '
        'echo "#${PIPESTATUS[0]}"; }\n'
    ).encode()


def frame_command(command: str, timeout: float | None) -> bytes:
    """The one line that runs `command` and answers `<base64>#<status>`."""
    limit = "-" if timeout is None else str(timeout)
    return f"__nt {limit} {shlex.quote(command)}\n".encode()


def parse_reply(data: bytes) -> Reply | None:
    """A complete reply, or None while more bytes are needed; sentinel markers are ignored."""
    data = _GONE.sub(b"", data)
    if not data.endswith(b"\n"):
        return None
    hash_at = data.rfind(b"#")
    if hash_at < 0:
        return None
    status = int(data[hash_at + 1:].strip())
    body = data[:hash_at]
    left_open = False
    bang = body.find(b"!")
    if bang >= 0:
        end = body.index(b"\n", bang)
        body = body[:bang] + body[end + 1:]
        left_open = True
    return Reply(status, base64.b64decode(body), left_open)


def take_gone_markers(data: bytes, nonce: bytes) -> tuple[bytes, bool]:
    """`data` without sentinel markers, and whether the current shell's marker was among them.

    A `~` whose marker line is still incomplete stays in place; parse_reply then waits for
    more bytes, because the line can only end in `\n`.
    """
    gone = False

    def drop(match: re.Match[bytes]) -> bytes:
        nonlocal gone
        gone = gone or match.group(1) == nonce
        return b""

    return _GONE.sub(drop, data), gone


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
    """One connected shell; commands on it are serialised by a lock."""

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
        self._pending = 0  # replies of check_output=False commands not read yet
        self._buffer = b""
        self._nonce = secrets.token_hex(6)
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
        self.sock.sendall(session_setup(self._nonce))
        self._buffer = b""
        self._pending = 0
        self.gone = None

    # -- commands ----------------------------------------------------------------------------

    def run(self, command: str, timeout: float | None) -> Reply:
        with self.lock:
            self._drain_pending()
            self.sock.sendall(frame_command(command, timeout))
            return self._read_reply(timeout)

    def run_detached(self, command: str, timeout: float | None) -> None:
        """Send without waiting (upstream's check_output=False); the reply is read later."""
        with self.lock:
            self._drain_pending()
            self.sock.sendall(frame_command(command, timeout))
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
            while self.gone is None and select.select([self.sock], [], [], 0)[0]:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self._buffer, gone = take_gone_markers(self._buffer + chunk,
                                                       self._nonce.encode())
                if gone:
                    self.gone = "the backdoor shell in the guest exited"
            if self.gone:
                raise MachineError(f"Shell disconnected: {self.gone}")

    def _drain_pending(self) -> None:
        while self._pending:
            self._read_reply(None)
            self._pending -= 1

    def _read_reply(self, timeout: float | None) -> Reply:
        # The guest's `timeout` ends the command; allow it time to report before giving up.
        deadline = None if timeout is None else time.monotonic() + timeout + 60.0
        data = self._buffer
        self._buffer = b""
        nonce = self._nonce.encode()
        try:
            while True:
                data, gone = take_gone_markers(data, nonce)
                if gone or self.gone:
                    self.gone = "the backdoor shell in the guest exited"
                    raise MachineError(
                        f"Shell disconnected: {self.gone}; the guest has no backdoor any "
                        "more: crash() and start() the machine")
                if (reply := parse_reply(data)) is not None:
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise MachineError(
                        f"no reply from the backdoor {timeout} s after the command's own timeout"
                    )
                chunk = self._recv(remaining, waiting_for="the command's reply")
                if chunk is not None:
                    data += chunk
        except cancel.Cancelled:
            # The command still runs in the guest: its reply is read before the next one.
            self._buffer = data
            self._pending += 1
            self._log("cancelled while the command still runs in the guest; the next command "
                      "on this machine waits for it to finish")
            raise
        return reply

    # -- socket ------------------------------------------------------------------------------

    def _recv(self, seconds: float | None, waiting_for: str) -> bytes | None:
        """Bytes, or None after `seconds`; raises when the shell or the machine is gone."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            wait = TICK if deadline is None else min(TICK, max(deadline - time.monotonic(), 0))
            readable, _, _ = select.select([self.sock], [], [], wait)
            if readable:
                chunk = self.sock.recv(65536)
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
