"""One shell line on a machine, run through `execute()`, that the user can cancel (ctrl+c).

NixOS test VMs run no getty on the serial console, so a TUI that wants to offer a shell runs
each line through the backdoor, as upstream's deprecated `shell_interact()` did. The catch is
cancelling: the backdoor is one channel, a command's reply is read before the next command
is sent, and nothing else in the guest listens to us. A line that runs as the command itself
(`sleep 100`) can therefore not be stopped: cancelling the host's read only makes the next
command wait for it (see `backdoor.py`).

So the line never runs as the backdoor's command. The first command starts it as a job of
its own (`setsid`: a new session, hence a process group we can signal) with stdin from
`/dev/null` (the backdoor's stdin is hvc0: a job reading it would eat the channel), stdout to
a file and stderr where the backdoor's stderr goes (the serial console of a VM; a file for a
container, whose command stderr is a pipe the host would wait on). Then short commands poll
the job: each waits in the guest up to `POLL_SECONDS` for it to end or write, and brings back
the new output. Between two polls the channel is free, so a cancel is a `kill` of the group
at most one poll later, and the channel never gets out of step. A line that ends at once
(`echo $((6*7))`) costs a single round trip.

The job runs `cd <remembered dir> && <line>` and records its working directory when it
exits, so a `cd` is remembered. This module is UI-free: the TUI's shell tab and any other
caller drive it from a worker thread.
"""

from __future__ import annotations

import base64
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from nixtest_tui.driver.base import BaseMachine
from nixtest_tui.driver.errors import MachineError
from nixtest_tui.driver.nspawn import NspawnMachine
from nixtest_tui.driver.qemu import QemuMachine

__all__ = ["CANCELLED_STATUS", "LineResult", "ShellLineError", "ShellSession"]

POLL_SECONDS = 0.4  # how long one poll waits in the guest for the job to end or write
CHUNK = 1 << 20  # bytes of output brought back per poll at most
CANCELLED_STATUS = 130  # what a shell reports for a line ended by ctrl+c
_TIMEOUT = timedelta(seconds=60)  # for each of our own short commands (not for the line)

OutputHook = Callable[[bytes, bytes], None]
"""Hears the new stdout and stderr bytes of a running line (in the caller's thread)."""
Progress = tuple[int | None, bytes, bytes, str]
"""One poll's answer: the status (None while the line runs), new stdout, new stderr, cwd."""


def _poll_script(out_offset: int, err_offset: int) -> str:
    """Guest side of a poll of the job in `$d`: wait up to `POLL_SECONDS` for it to end or
    write, then report. The status is read first, so output read after it is complete; a
    finished job whose output all fits in this reply has its directory removed here."""
    ticks = max(1, int(POLL_SECONDS / 0.05))
    return (
        f"i=0; while [ ! -e $d/status ] && [ $i -lt {ticks} ] && "
        f"[ $(wc -c < $d/out) -le {out_offset} ]; do sleep 0.05; i=$((i+1)); done; "
        "st=$(cat $d/status 2>/dev/null || echo -); os=$(wc -c < $d/out); es=0; "
        "if [ -e $d/err ]; then es=$(wc -c < $d/err); fi; echo \"$st\"; "
        f"{{ tail -c +{out_offset + 1} $d/out | head -c {CHUNK} || true; }} | base64 -w 0; "
        f"echo; if [ -e $d/err ]; then {{ tail -c +{err_offset + 1} $d/err | "
        f"head -c {CHUNK} || true; }} | base64 -w 0; fi; echo; cat $d/cwd 2>/dev/null || true; "
        f"if [ \"$st\" != - ] && [ $((os - {out_offset})) -lt {CHUNK} ] && "
        f"[ $((es - {err_offset})) -lt {CHUNK} ]; then rm -rf $d; fi")

# The job: its pid (= its process group, as setsid made it a session leader), then the line,
# and on exit (however it exits, `exit 3` included) its status and working directory.
_JOB = ('d=$1; echo $$ > "$d/pid"; '
        'trap \'s=$?; pwd > "$d/cwd"; echo $s > "$d/s.tmp"; mv "$d/s.tmp" "$d/status"\' EXIT; '
        'if [ -n "$2" ]; then cd -- "$2" || exit 1; fi; eval "$3"')


@dataclass
class LineResult:
    """What a line did; `status` is `CANCELLED_STATUS` for a cancelled line."""

    line: str
    status: int = -1
    stdout: bytes = b""
    stderr: bytes = b""
    """The line's own stderr (containers); a VM's goes to its console: see `console`."""
    console: list[str] = field(default_factory=list)
    """The serial console lines that arrived while the line ran (a VM's stderr lands there)."""
    cwd: str = ""
    cancelled: bool = False
    seconds: float = 0.0


class ShellLineError(MachineError):
    """The guest's answer to one of our poll commands could not be understood."""


class ShellSession:
    """A shell on one machine: one line at a time, `cd` remembered, `cancel()` from any thread."""

    def __init__(self, machine: BaseMachine) -> None:
        self.machine = machine
        self.cwd = ""
        """The working directory after the last line ("" before the first: the backdoor's)."""
        self._cancel = threading.Event()
        self._one_line = threading.Lock()

    def cancel(self) -> None:
        """Ask the running line to end; its process group is killed at the next poll."""
        self._cancel.set()

    def run(self, line: str, on_output: OutputHook | None = None) -> LineResult:
        """Run `line`; `on_output(stdout, stderr)` hears output as it arrives (worker thread)."""
        with self._one_line:
            self._cancel.clear()
            result = LineResult(line)
            started = time.monotonic()
            console_from = len(self._console())
            out, err = bytearray(), bytearray()
            try:
                job, progress = self._start(line)
                self._follow(job, progress, result, out, err, on_output)
            finally:
                result.stdout, result.stderr = bytes(out), bytes(err)
                result.console = self._console()[console_from:]
                result.seconds = time.monotonic() - started
            if result.cwd:
                self.cwd = result.cwd
            return result

    # -- guest side ------------------------------------------------------------------------------

    def _start(self, line: str) -> tuple[str, Progress]:
        """Start the job and wait for it like a poll: a quick line is done in this round trip."""
        err = '"$d/err"' if isinstance(self.machine, NspawnMachine) else "&2"
        job = " ".join(shlex.quote(word) for word in ("setsid", "bash", "-c", _JOB, "job"))
        command = (
            "d=$(mktemp -d /tmp/.nixtest-shell.XXXXXX) && : > \"$d/out\" && "
            f"{{ {job} \"$d\" {shlex.quote(self.cwd)} {shlex.quote(line)} "
            f"</dev/null >\"$d/out\" 2>{err} 18<&- 19>&- & }} && echo \"$d\" && "
            + _poll_script(0, 0)
        )
        status, reply = self.machine.execute(command, timeout=_TIMEOUT)
        directory, _, rest = reply.partition("\n")
        if status != 0 or not directory.startswith("/tmp/.nixtest-shell."):
            raise ShellLineError(
                f"{self.machine.name}: could not start the line in the guest (exit status "
                f"{status}, output {reply[-200:]!r}); the guest needs bash, setsid and mktemp")
        return directory, self._progress(0, rest)

    def _follow(self, job: str, progress: Progress, result: LineResult, out: bytearray,
                err: bytearray, on_output: OutputHook | None) -> None:
        finished = False
        try:
            while True:
                status, new_out, new_err, cwd = progress
                out += new_out
                err += new_err
                if (new_out or new_err) and on_output is not None:
                    on_output(new_out, new_err)
                if status is not None and len(new_out) < CHUNK and len(new_err) < CHUNK:
                    result.status, result.cwd = status, cwd
                    finished = True  # the guest removed the job's directory itself
                    return
                if self._cancel.is_set():
                    self._kill(job)
                    result.cancelled, result.status = True, CANCELLED_STATUS
                    finished = True
                    return
                progress = self._poll(job, len(out), len(err))
        finally:
            if not finished:
                self._remove(job)

    def _poll(self, job: str, out_offset: int, err_offset: int) -> Progress:
        command = f"d={shlex.quote(job)}; " + _poll_script(out_offset, err_offset)
        status, reply = self.machine.execute(command, timeout=_TIMEOUT)
        return self._progress(status, reply)

    def _progress(self, status: int, reply: str) -> Progress:
        fields = reply.split("\n", 3)
        if status != 0 or len(fields) < 3:
            raise ShellLineError(f"{self.machine.name}: the shell line's progress could not "
                                 f"be read (exit status {status}, reply {reply[-200:]!r})")
        state, out, err = fields[:3]
        cwd = fields[3].strip() if len(fields) > 3 else ""
        try:
            code = None if state.strip() == "-" else int(state)
            return code, base64.b64decode(out), base64.b64decode(err), cwd
        except ValueError as exc:
            raise ShellLineError(f"{self.machine.name}: the shell line's progress could not "
                                 f"be read ({exc}; reply {reply[-200:]!r})") from exc

    def _kill(self, job: str) -> None:
        """The whole group (the line and what it started), TERM and then KILL for the stubborn;
        then the job's directory goes."""
        d = shlex.quote(job)
        self.machine.execute(
            f"i=0; while [ ! -s {d}/pid ] && [ $i -lt 40 ]; do sleep 0.05; i=$((i+1)); done; "
            f"p=$(cat {d}/pid 2>/dev/null || true); if [ -n \"$p\" ]; then "
            "kill -TERM -- -$p 2>/dev/null || true; sleep 0.1; "
            f"kill -KILL -- -$p 2>/dev/null || true; fi; rm -rf {d}", timeout=_TIMEOUT)

    def _remove(self, job: str) -> None:
        try:
            self.machine.execute(f"rm -rf {shlex.quote(job)}", timeout=_TIMEOUT)
        except MachineError:
            pass  # the machine went away meanwhile: nothing left to tidy

    def _console(self) -> list[str]:
        if isinstance(self.machine, QemuMachine):
            return self.machine.full_console_log
        return []
