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
"""

from __future__ import annotations

import base64
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


def session_setup() -> bytes:
    """Sent once per connection: the notice channel and the `__nt` runner function.

    Bash reads a script from a character device one byte at a time, so a long line per
    command costs a syscall per byte under emulation; defining the framing once keeps each
    command's line as short as upstream's.
    """
    trap = shlex.quote(_EXIT_TRAP + "; set -euo pipefail; ")
    return (
        f"exec {CHANNEL_FD}>&1; __nt_pre={trap}; "
        '__nt() { if [ "$1" = - ]; then bash -c "$__nt_pre$2" | base64 -w 0; '
        'else timeout "$1" bash -c "$__nt_pre$2" | base64 -w 0; fi; '
        'echo "#${PIPESTATUS[0]}"; }\n'
    ).encode()


def frame_command(command: str, timeout: float | None) -> bytes:
    """The one line that runs `command` and answers `<base64>#<status>`."""
    limit = "-" if timeout is None else str(timeout)
    return f"__nt {limit} {shlex.quote(command)}\n".encode()


def parse_reply(data: bytes) -> Reply | None:
    """A complete reply, or None while more bytes are needed."""
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

    # -- handshake ---------------------------------------------------------------------------

    def handshake(self, attempts: int = 10, attempt_seconds: float = 30.0,
                  on_silence: Callable[[int], None] | None = None) -> None:
        """Skip everything up to the magic line; bounded, as upstream's newest driver is."""
        seen = b""
        silent = 0
        while MAGIC not in seen:
            chunk = self._recv(attempt_seconds, waiting_for="the backdoor shell")
            if chunk is None:
                silent += 1
                if on_silence:
                    on_silence(silent)
                if silent >= attempts:
                    raise MachineError(
                        f"Shell did not start in time ({attempts * attempt_seconds:.0f} s): "
                        "check the serial console for boot errors and that the guest runs "
                        "the backdoor service (systemctl status backdoor.service)"
                    )
                continue
            self._log(f"Guest shell says: {chunk!r}")
            seen = (seen + chunk)[-4096:]
        self.sock.sendall(session_setup())
        self._buffer = b""
        self._pending = 0

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

    def _drain_pending(self) -> None:
        while self._pending:
            self._read_reply(None)
            self._pending -= 1

    def _read_reply(self, timeout: float | None) -> Reply:
        # The guest's `timeout` ends the command; allow it time to report before giving up.
        deadline = None if timeout is None else time.monotonic() + timeout + 60.0
        data = self._buffer
        self._buffer = b""
        try:
            while (reply := parse_reply(data)) is None:
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
        death = self._describe_death()
        return f"{message} ({death})" if death and death not in message else message

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
