"""The backdoor channel end to end against a real local bash on a socket pair.

The guest's backdoor is a non-interactive bash reading commands from a character device; here
a host bash reads them from one end of a socket pair, and `Backdoor` holds the other end, so
the framing, the windows and their acknowledgements, the markers and the thread safety run
for real. (What only QEMU does, dropping output when the host reads slowly, is the VM tier's.)
"""

from __future__ import annotations

import hashlib
import os
import random
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nixtest_tui.driver.backdoor import MAGIC, Backdoor
from nixtest_tui.driver.backdoor_wire import WINDOW, frame_command
from nixtest_tui.driver.errors import MachineError


class LocalShell:
    """A bash with stdin and stdout on a socket, as the guest's is on hvc0."""

    def __init__(self, locale: str = "C.UTF-8", lc_all: bool = True) -> None:
        """`lc_all`: the locale is exported as LC_ALL too (else only as LANG, as on most
        guests): the two ways the framing sets the probe's C locale."""
        ours, theirs = socket.socketpair()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")}
        env["LANG"] = locale
        if lc_all:
            env["LC_ALL"] = locale
        self.process = subprocess.Popen(
            ["bash", "--norc", "-c", f"echo '{MAGIC.decode()}'; exec bash --norc"],
            stdin=theirs, stdout=theirs, stderr=subprocess.DEVNULL, cwd="/tmp", env=env)
        theirs.close()
        self.log: list[str] = []
        self.backdoor = Backdoor(ours, self.death, self.log.append)
        self.backdoor.handshake(attempts=1, attempt_seconds=10)

    def death(self) -> str | None:
        status = self.process.poll()
        return None if status is None else f"bash exited with {status}"

    def close(self) -> None:
        self.backdoor.close()
        self.process.kill()
        self.process.wait()


@pytest.fixture
def shell() -> Iterator[LocalShell]:
    local = LocalShell()
    yield local
    local.close()


def produce(data: bytes) -> str:
    """A command that writes exactly `data` to stdout (printf with octal escapes)."""
    return "printf '" + "".join(f"\\{b:03o}" for b in data) + "'"


def test_every_byte_value_and_empty_output(shell: LocalShell) -> None:
    every = bytes(range(256))
    assert shell.backdoor.run(produce(every), None).stdout == every
    for single in (b"\0", b"\n", b"\xff", b"#", b"!", b"~", b".", b"$", b"=", b":"):
        assert shell.backdoor.run(produce(single), None).stdout == single
    for _ in range(100):  # bash escapes these two internally (CTLESC, CTLNUL)
        for start in (b"\x01", b"\x7f", b"\x01\x7f", b"\x7f\x01\x00"):
            assert shell.backdoor.run(produce(start + b"ab"), None).stdout == start + b"ab"
    empty = shell.backdoor.run("true", None)
    assert (empty.status, empty.stdout) == (0, b"")
    assert shell.backdoor.run("exit 3", None).status == 3


@pytest.mark.parametrize("lc_all", [True, False], ids=["LC_ALL", "LANG"])
@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_a_first_character_of_several_bytes(locale: str, lc_all: bool) -> None:
    """The probe reads one byte in the C locale, whatever the shell's: a multi-byte or invalid
    first character comes back whole."""
    local = LocalShell(locale, lc_all)
    try:
        for data in ("é and more".encode(), "€".encode(), "😀x".encode(), b"\xc3", b"\xc3(",
                     b"\xff\xfe", b"\xe2\x82", "\u00e9".encode() * 40000):
            assert local.backdoor.run(produce(data[:300]) + "; cat /dev/null", None).stdout == \
                data[:300]
    finally:
        local.close()


@pytest.mark.parametrize("lc_all", [True, False], ids=["LC_ALL", "LANG"])
def test_short_outputs_of_the_raw_frame_come_back_exact(lc_all: bool) -> None:
    """1,000 outputs around the builtins' limit, rich in the bytes the raw frame escapes or
    bash treats specially (NUL ends a builtin read; CTLESC, CTLNUL), every one exact."""
    local = LocalShell("C.UTF-8", lc_all)
    try:
        rng = random.Random(256)
        tricky = b"\0\n\\\x01\x7f'#=$!~.\r\xff\xc3"
        for _ in range(1000):
            size = rng.choice([1, 2, rng.randrange(0, 300), rng.randrange(250, 262), 300])
            data = bytes(rng.choice(tricky) if rng.random() < 0.4 else rng.randrange(256)
                         for _ in range(size))
            assert local.backdoor.run(produce(data), None).stdout == data, data
    finally:
        local.close()


def test_outputs_that_look_like_the_framing(shell: LocalShell) -> None:
    for text in ("#0\n", "!0\n", "~gone 0\n", "=ff", "abc.", "$#7\n", "eHh4$", "no newline"):
        reply = shell.backdoor.run(f"printf '%s' {shlex.quote(text)}", None)
        assert reply.stdout == text.encode(), text


def send_and_check(shell: LocalShell, size: int, where: Path) -> None:
    """`size` random bytes from the shell's stdout, compared with a digest it computes."""
    reply = shell.backdoor.run(f"head -c {size} /dev/urandom | tee {where}", None)
    assert len(reply.stdout) == size
    digest = shell.backdoor.run(f"sha256sum < {where}", None).text.split()[0]
    assert hashlib.sha256(reply.stdout).hexdigest() == digest


@pytest.mark.parametrize("size", [WINDOW * 3 // 4 - 1, WINDOW * 3 // 4, WINDOW * 3 // 4 + 1,
                                  WINDOW * 3 // 2, 1_000_003, 16 * 1024 * 1024])
def test_sizes_around_the_window_and_large(shell: LocalShell, size: int, tmp_path: Path) -> None:
    send_and_check(shell, size, tmp_path / "data")


@pytest.mark.parametrize("lc_all", [True, False], ids=["LC_ALL", "LANG"])
def test_random_sizes_against_a_checksum(lc_all: bool, tmp_path: Path) -> None:
    local = LocalShell("C.UTF-8", lc_all)
    try:
        rng = random.Random(15)
        for _ in range(60):
            size = rng.choice([0, 1, 2, 3, 4, rng.randrange(5, 5000),
                               rng.randrange(5000, 300000)])
            send_and_check(local, size, tmp_path / "data")
    finally:
        local.close()


@pytest.mark.parametrize("lc_all", [True, False], ids=["LC_ALL", "LANG"])
def test_commands_see_the_shells_own_locale(lc_all: bool) -> None:
    """The probe's C locale never reaches the commands: their environment is the shell's."""
    local = LocalShell("C.UTF-8", lc_all)
    try:
        seen = local.backdoor.run('echo "${LC_ALL-unset} $LANG"; locale | grep LC_CTYPE',
                                  None).text
        expected = "C.UTF-8" if lc_all else "unset"
        assert seen.splitlines()[0] == f"{expected} C.UTF-8"
        assert seen.splitlines()[1] == 'LC_CTYPE="C.UTF-8"'
    finally:
        local.close()


def test_a_thousand_commands_back_to_back(shell: LocalShell) -> None:
    for index in range(1000):
        reply = shell.backdoor.run(f"echo {index}", None)
        assert (reply.status, reply.stdout) == (0, f"{index}\n".encode())


def test_threads_are_serialised(shell: LocalShell) -> None:
    failures: list[str] = []

    def worker(number: int) -> None:
        for index in range(50):
            text = f"{number}-{index}-" + "x" * (index * 997 % 20000)
            reply = shell.backdoor.run(f"printf '%s' {text}", None)
            if reply.stdout != text.encode():
                failures.append(f"{number}-{index}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures


def test_a_background_holder_of_stdout_is_waited_for(shell: LocalShell,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nixtest_tui.driver.backdoor.HELD_OPEN_WARNING", 0.5)
    started = time.monotonic()
    reply = shell.backdoor.run("(echo ONE; sleep 2; echo TWO) &", None)
    assert reply.stdout == b"ONE\nTWO\n" and reply.status == 0
    assert time.monotonic() - started >= 1.9
    assert reply.held_open >= 1.5
    assert any("stdout is still open" in line for line in shell.log)
    # a redirected background job neither delays nor warns
    shell.log.clear()
    quick = shell.backdoor.run("sleep 5 >/dev/null 2>&1 & echo started", None)
    assert quick.stdout == b"started\n" and quick.held_open < 1.0
    assert not any("stdout is still open" in line for line in shell.log)


@pytest.mark.parametrize("command", [
    "exec 4>&1; coproc { echo ONE >&4; sleep 2; echo TWO >&4; }; exec 4>&-",
    "eval '(echo ONE; sleep 2; echo TWO) &'",
    "printf '(echo ONE; sleep 2; echo TWO) &' > /tmp/.nt-job && . /tmp/.nt-job",
    "printf '(echo ONE; sleep 2; echo TWO) &' > /tmp/.nt-job && source /tmp/.nt-job",
])
def test_every_way_to_start_a_job_gets_the_held_open_warning(
        shell: LocalShell, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """Only commands that may start a job pay for the EXIT trap; each such way is seen."""
    monkeypatch.setattr("nixtest_tui.driver.backdoor.HELD_OPEN_WARNING", 0.5)
    reply = shell.backdoor.run(command, None)
    assert b"TWO" in reply.stdout and reply.held_open >= 1.0
    assert any("stdout is still open" in line for line in shell.log)


def test_timeout_and_status_semantics(shell: LocalShell) -> None:
    assert shell.backdoor.run("sleep 5", 0.5).status == 124
    assert shell.backdoor.run("false | true", None).status == 1  # pipefail
    assert shell.backdoor.run("echo $NOT_SET_ANYWHERE", None).status == 1  # nounset
    assert shell.backdoor.run("echo \"it's\" 'quoted' $((1+1))", None).text == "it's quoted 2\n"


def test_long_commands_travel_on_the_channel(shell: LocalShell) -> None:
    payload = "".join(random.Random(4).choice("abc'\"$\\ \n\t;#!~") for _ in range(1_000_000))
    command = f"cat <<'NT_END' | sha256sum | cut -d' ' -f1\n{payload}\nNT_END"
    assert len(frame_command(command, None)) > 1_000_000
    reply = shell.backdoor.run(command, None)
    expected = hashlib.sha256((payload + "\n").encode()).hexdigest()
    assert reply.text.strip() == expected
    big = "echo " + "y" * (4 * 1024 * 1024) + " | wc -c"
    assert shell.backdoor.run(big, None).text.strip() == str(4 * 1024 * 1024 + 1)


def test_a_nul_in_a_command_is_refused_before_sending(shell: LocalShell) -> None:
    with pytest.raises(MachineError, match="NUL"):
        shell.backdoor.run("echo a\0b", None)
    assert shell.backdoor.run("echo fine", None).text == "fine\n"


def test_a_shell_that_exits_is_an_error_not_a_hang(shell: LocalShell) -> None:
    with pytest.raises(MachineError):
        shell.backdoor.run("kill -9 $PPID", None)
