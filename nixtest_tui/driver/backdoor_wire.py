"""What travels on the backdoor channel: the guest-side functions, command lines, and replies.

The guest side is stock (a non-interactive `bash` reading commands from hvc0 after the line
`Spawning backdoor root shell...`), so the framing is ours to choose (spec §6.3-6.4). Once per
connection we define a few shell functions; each command is then one short line, and its
reply comes back in one stream:

    ['<raw bytes, escaped>\\n] [=<base64 window>. ... <base64 rest>$] #<status>\\n

* Nothing but `#<status>` when the command wrote nothing to stdout. That case costs the guest
  no process beyond `bash -c`: a builtin `read` finds the pipe empty, and with `lastpipe` the
  reader runs in the backdoor shell itself, not in a fork.
* Up to `RAW_LIMIT` bytes of stdout are read by builtins and sent as they are in one `'` frame
  (`\\` and `\\n` stand for a backslash and a line end, `\\0` for a NUL, which ends what one
  builtin read can take): a short output costs no process either, and the frame is one write.
* Whatever stdout holds beyond that comes as base64 after `=`, cut into windows of exactly
  `WINDOW` characters that each end in `.` and wait for the host's `+` before the next is
  written; `$` ends the data. Why windows: QEMU's virtconsole silently drops guest output
  while the host's socket buffer (~100 KB) is full, so a guest that writes faster than the
  host reads loses whole pages. With at most one window in flight the buffer can never fill,
  however slow the host is. (Builtins read a pipe a byte at a time, which costs more than the
  guest's `base64` beyond a few hundred bytes; `read -N` over the whole pipe does not.)
* `!<status>\\n` anywhere but inside a frame: `bash -c`, which had started a background job,
  exited (an EXIT trap). If stdout then stays open, that job holds it; the reply still waits
  for it, as upstream does, and the host says why after a while. (A daemon that forks itself
  away is not a job: it is waited for just the same, without that explanation.)
* `~gone <nonce>\\n` anywhere: the sentinel saw the backdoor shell exit.

`#`, `.`, `$`, `!` and `~` are outside base64's alphabet, so none of them can be data; a raw
frame is read by its line end, which its data never holds.
Semantics are upstream's: `bash -c` with `set -euo pipefail`, stdout a pipe, stderr on the
serial console, stdout complete when every writer has closed it.
"""

from __future__ import annotations

import binascii
import re
import shlex
from collections import deque
from dataclasses import dataclass

from nixtest_tui.driver.errors import MachineError

MAGIC = b"Spawning backdoor root shell..."
NOTICE_FD = 19  # the backdoor shell's copy of hvc0 for out-of-band notices
ACK_FD = 18  # ... and of its input, for the host's go-ahead between windows
WINDOW = 65536  # base64 characters per acknowledged window; the socket holds ~100 KB
LONG_COMMAND = 65536  # longer commands travel on the channel, not as an argument of bash -c
ACK = b"+\n"  # the host read a whole window: send the next one

# `bash -c` of every command starts with upstream's `set -euo pipefail`. A command that may
# start a background job in its own shell also gets an EXIT trap that says when it exits, for
# the held-stdout warning (a write to hvc0 costs the guest more than the test): `$!` is set
# only by that shell's own `cmd &` or `coproc`, or by a file it sources or a string it evals,
# so other commands are spared the trap's cost (~0.7 ms of a 9 ms command under TCG).
_STRICT = "set -euo pipefail; "
_EXIT_TRAP = (f"trap '__s=$?; [ -z \"${{!:-}}\" ] || printf \"!%d\\n\" $__s >&{NOTICE_FD}' "
              "EXIT; ")
_MAY_START_A_JOB = re.compile(r"&|\b(?:coproc|eval|source)\b|(?:^|[\s;|(){}])\.\s")


# The reader of a command's stdout, in the backdoor shell itself (`lastpipe`): builtins read
# up to RAW_LIMIT bytes and send them raw in one `'` frame (an empty stdout costs nothing but
# `bash -c`, a short one no process either); what is left goes through the guest's base64.
# The first read is inline in `__nt`, not a function of its own: a bash function call is a
# measurable part of a 5 ms command under TCG.
RAW_LIMIT = 256  # read byte by byte (a builtin cannot read ahead of a NUL): ~3 us a byte
RAW_PIECES = 4  # NUL-ended pieces read by builtins; each costs a loop turn (~0.2 ms)
_READ = f"IFS= read -r -d '' -n {RAW_LIMIT} __s"
# `\` -> `\\`, LF -> `\n`: a frame has no line end of its own, so it is one write (bash
# flushes stdout at each line end) and a notice can only come between frames. Quoted
# patterns and replacements mean the same in every bash (5.2 made `&` and `\` special).
_ESCAPE = '__s=${__s//"$__nt_b"/"$__nt_bb"}; __s=${__s//"$__nt_lf"/"$__nt_bn"}'
_FRAME = "printf \"'%s\\n\""
_SHORT = f'elif [ -n "$__s" ]; then {_ESCAPE}; {_FRAME} "$__s"'
# NUL ends a piece (`\0` in the frame); past the limit, base64 takes the rest of stdout
_MORE = (
    f"local n=0 m={RAW_LIMIT} l o= k=0; while :; do l=${{#__s}}; {_ESCAPE}; o+=$__s; "
    r"if [ $l -lt $m ]; then o+='\0'; n=$((n+l+1)); else n=$((n+l)); fi; "
    f"m=$(({RAW_LIMIT}-n)); if [ $m -le 0 ] || [ $((k+=1)) -ge {RAW_PIECES} ]; then "
    f'{_FRAME} "$o"; base64 -w 0 | __nt_win =; return; fi; '
    f"if ! IFS= read -r -d '' -n $m __s; then {_ESCAPE}; {_FRAME} \"$o$__s\"; return; fi; "
    "done"
)


def _runner(reader: str) -> str:
    """`__nt LIMIT COMMAND [j]`: run COMMAND (under `timeout LIMIT` unless LIMIT is `-`);
    `j` asks for the EXIT trap (see _MAY_START_A_JOB)."""
    run = 'bash -c "${3:+$__nt_trap}$__nt_pre$2"'
    return (f'__nt() {{ if [ "$1" = - ]; then {run} | {reader}; '
            f'else timeout "$1" {run} | {reader}; fi; echo "#${{PIPESTATUS[0]}}"; }}; ')


class ChannelError(MachineError):
    """The reply stream broke its framing: bytes were lost or something else wrote to hvc0."""


@dataclass(frozen=True)
class Reply:
    status: int
    stdout: bytes
    exited_at: float | None = None  # when `bash -c` exited, if it told us (monotonic clock)
    closed_at: float | None = None  # when stdout closed

    @property
    def text(self) -> str:
        return self.stdout.decode(errors="replace")

    @property
    def held_open(self) -> float:
        """Seconds stdout stayed open after the command exited (a background holder)."""
        if self.exited_at is None or self.closed_at is None:
            return 0.0
        return max(self.closed_at - self.exited_at, 0.0)


def session_setup(nonce: str = "0") -> bytes:
    """Sent once per connection: the notice/ack descriptors, the sentinel and the functions.

    Bash reads a script from a character device one byte at a time, so defining the framing
    once keeps each command's line as short as upstream's. The sentinel polls with builtins
    only (`read` of /proc/<pid>/stat, where a zombie counts as gone, and `read -t` on a pipe
    nobody writes), so it costs the guest no fork per second. The shell leads the session of
    hvc0, so its exit hangs the terminal up: the sentinel ignores SIGHUP and writes through a
    fresh open of the device (/proc/self/fd/19).
    """
    sentinel = (
        "( trap '' HUP; exec 17<> <(:); while read -r _ _ s _ </proc/$$/stat && [ $s != Z ]; do "
        "read -t 1 -u 17 _ || :; done; "
        f"printf '~gone %s\\n' {nonce} >/proc/self/fd/{NOTICE_FD} ) "
        "</dev/null >/dev/null 2>&1 & "
    )
    functions = (
        f"__nt_pre={shlex.quote(_STRICT)}; __nt_trap={shlex.quote(_EXIT_TRAP)}; "
        "__nt_b='\\'; __nt_bb='\\\\'; __nt_bn='\\n'; __nt_lf=$'\\n'; "
        # The reader reads in the C locale: bytes, whatever they are (in a UTF-8 locale
        # `read -n` can take several bytes of an invalid sequence and keep fewer of them).
        # A shell with no LC_ALL of its own gets a non-exported LC_ALL=C once: the commands'
        # `bash -c` never sees it, and each command is spared two setlocale() calls. A shell
        # whose LC_ALL is exported keeps it, and sets C around the reader instead.
        "if [ -n \"${LC_ALL+x}\" ]; then "
        f"__nt_c() {{ local LC_ALL=C; if {_READ}; then __nt_more; {_SHORT}; fi; }}; "
        f"{_runner('__nt_c')}"
        f"else LC_ALL=C; {_runner(f'if {_READ}; then __nt_more; {_SHORT}; fi')}fi; "
        f"__nt_more() {{ {_MORE}; }}; "
        # windows of WINDOW characters, each waiting for the host's go-ahead on fd 18. Only
        # `read -N` touches that pipe: it reads ahead, so no other reader may share it. The
        # section's `=` ($1) goes out with the first write, one wake-up of the host fewer.
        f"__nt_win() {{ local k a h=$1; while IFS= read -r -N {WINDOW} k; do "
        "printf '%s%s.' \"$h\" \"$k\"; h=; "
        f"read -r -u {ACK_FD} a; done; printf '%s%s$' \"$h\" \"$k\"; }}; "
        # a long command follows its line on the channel; `head -c` reads it in blocks and
        # never past its count, and `.` reads the whole file before running any of it
        "__ntl() { local f=/tmp/.nixtest-command-$$; head -c \"$2\" > $f; "
        "__nt \"$1\" \"exec 3<$f; rm -f $f; . /dev/fd/3\" j; }\n"
    )
    # lastpipe: a pipeline's last part runs in this shell, which saves the reader a fork
    return f"exec {NOTICE_FD}>&1 {ACK_FD}<&0; shopt -s lastpipe; {sentinel}{functions}".encode()


def frame_command(command: str, timeout: float | None) -> bytes:
    """What runs `command` in the guest; its reply is read by `ReplyReader`."""
    limit = "-" if timeout is None else str(timeout)
    if "\0" in command:
        raise MachineError("a command cannot contain a NUL character (bash cannot run it)")
    encoded = command.encode()
    if len(encoded) >= LONG_COMMAND:
        # the kernel caps one argument at 128 KiB; bash reads this from the channel instead
        return f"__ntl {limit} {len(encoded)}\n".encode() + encoded
    trap = " j" if _MAY_START_A_JOB.search(command) else ""
    return f"__nt {limit} {shlex.quote(command)}{trap}\n".encode()


_SPECIAL = re.compile(rb"[^A-Za-z0-9+/=]")
_NOTICE = re.compile(rb"!(\d+)\n")
_GONE = re.compile(rb"~gone ([0-9a-f]+)\r?\n")
_STATUS = re.compile(rb"#(-?\d+)\n")
_ESCAPED = re.compile(rb"\\(.?)", re.DOTALL)
_UNESCAPE = {b"\\": b"\\", b"n": b"\n", b"0": b"\0"}
_LONGEST_FRAME = 2 * RAW_LIMIT + 2 * RAW_PIECES + 2  # every byte escaped, and the marks


class ReplyReader:
    """Incremental parser of the reply stream, fed whatever the socket returned.

    Chunks may split anything anywhere (a marker, the hex byte, the status). Data bytes are
    kept as slices and decoded once at the end, so a 64 MB reply is not rescanned per chunk.
    """

    def __init__(self, nonce: bytes) -> None:
        self.nonce = nonce
        self.replies: deque[Reply] = deque()
        self.acks_due = 0  # windows read whose go-ahead the host has not sent yet
        self.gone = False
        self.exited_at: float | None = None
        self._pending = bytearray()
        self._start_reply()

    def _start_reply(self) -> None:
        self._state = "start"
        self._raw: list[bytes] = []
        self._pieces: list[bytes] = []
        self._window = 0
        self._closed_at: float | None = None
        self.exited_at = None

    def feed(self, data: bytes, now: float) -> None:
        self._pending += data
        buf = self._pending
        pos = 0
        while pos < len(buf):
            if self._state == "data":
                pos = self._take_base64(buf, pos)
                if pos == len(buf):
                    break
            char = bytes(buf[pos:pos + 1])
            if char in (b"!", b"~"):
                newline = buf.find(b"\n", pos)
                if newline < 0:
                    break  # the marker's end is still on its way
                self._marker(bytes(buf[pos:newline + 1]), now)
                pos = newline + 1
            elif char == b"'" and self._state == "start":
                end = buf.find(b"\n", pos)
                if end < 0:
                    if len(buf) - pos > _LONGEST_FRAME:
                        raise ChannelError(self._lost(f"a raw frame {bytes(buf[pos:pos+40])!r}"))
                    break  # the frame's end is still on its way
                self._raw.append(self._unescape(bytes(buf[pos + 1:end])))
                pos = end + 1
            elif char == b"=" and self._state == "start":
                self._state = "data"
                pos += 1
            elif char == b"." and self._state == "data":
                if self._window != WINDOW:
                    raise ChannelError(self._lost(f"a window of {self._window} characters"))
                self._window = 0
                self.acks_due += 1
                pos += 1
            elif char == b"$" and self._state == "data":
                self._state = "status"
                self._closed_at = now
                pos += 1
            elif char == b"#" and self._state in ("start", "status"):
                match = _STATUS.match(buf, pos)
                if match is None:
                    if buf.find(b"\n", pos) >= 0 or len(buf) - pos > 24:
                        raise ChannelError(self._lost(f"a status line {bytes(buf[pos:pos+24])!r}"))
                    break
                self._finish(int(match.group(1)), now)
                pos = match.end()
            elif char in (b"\r", b"\n") and self._state == "start":
                pos += 1  # stray line ends between replies (a guest's echo of nothing)
            else:
                raise ChannelError(self._lost(f"{bytes(buf[pos:pos + 40])!r} in state "
                                              f"{self._state}"))
        del self._pending[:pos]

    def _take_base64(self, buf: bytearray, pos: int) -> int:
        match = _SPECIAL.search(buf, pos)
        end = len(buf) if match is None else match.start()
        if end > pos:
            self._pieces.append(bytes(buf[pos:end]))
            self._window += end - pos
        return end

    def _unescape(self, frame: bytes) -> bytes:
        if b"\\" not in frame:
            return frame

        def one(match: re.Match[bytes]) -> bytes:
            if (byte := _UNESCAPE.get(match.group(1))) is None:
                raise ChannelError(self._lost(f"a raw frame with {match.group()!r}"))
            return byte
        return _ESCAPED.sub(one, frame)

    def _marker(self, line: bytes, now: float) -> None:
        if (match := _GONE.fullmatch(line)) is not None:
            self.gone = self.gone or match.group(1) == self.nonce
        elif _NOTICE.fullmatch(line) is not None:
            self.exited_at = self.exited_at or now
        else:
            raise ChannelError(self._lost(f"an unknown notice {line[:40]!r}"))

    def _finish(self, status: int, now: float) -> None:
        encoded = b"".join(self._pieces)
        try:
            rest = binascii.a2b_base64(encoded, strict_mode=True) if encoded else b""
        except binascii.Error as exc:
            raise ChannelError(self._lost(f"base64 that does not decode ({exc})")) from None
        closed = self._closed_at if self._state == "status" else now
        self.replies.append(Reply(status, b"".join(self._raw) + rest, self.exited_at, closed))
        self._start_reply()

    @staticmethod
    def _lost(what: str) -> str:
        return (f"the backdoor channel is out of step: it carried {what}. Output was lost "
                "or something else wrote to /dev/hvc0; restart the machine (crash(), then "
                "start()) to get a clean channel")

    @property
    def in_reply(self) -> bool:
        """Whether part of a reply has arrived (so the stream is mid-reply)."""
        return self._state != "start" or bool(self._pending) or bool(self._raw)
