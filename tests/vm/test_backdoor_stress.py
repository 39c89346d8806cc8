"""The backdoor channel under stress on a real tiny guest: every byte back, no hang.

QEMU's virtconsole drops guest output while the host's socket buffer is full, which is what
lost whole 4 KiB pages of large outputs before the channel had windows; only a real guest
shows that, so sizes go up to 16 MB here and each output is checked against a digest the
guest computes itself.
"""

from __future__ import annotations

import hashlib
import io
import random
import threading
from collections.abc import Iterator

import pytest
from conftest import NetworkFactory

from nixtest_tui.driver import Driver, QemuMachine
from nixtest_tui.driver.logger import CompositeLogger, TerminalLogger


@pytest.fixture(scope="module")
def machines(tmp_path_factory: pytest.TempPathFactory, tiny_image: object,
             accelerator: str) -> Iterator[tuple[Driver, io.StringIO]]:
    root = tmp_path_factory.mktemp("stress")
    config = NetworkFactory(root, tiny_image, accelerator)("alice", "bob")  # type: ignore[arg-type]
    log = io.StringIO()
    tmp = root / "tmp"
    tmp.mkdir()
    logger = CompositeLogger([TerminalLogger(log, colour=False)])
    with Driver(config, out_dir=root, logger=logger, tmp_dir=tmp) as driver:
        yield driver, log


def machine(driver: Driver, name: str) -> QemuMachine:
    found = next(m for m in driver.machines if m.name == name)
    assert isinstance(found, QemuMachine)
    return found


def raw(machine: QemuMachine, command: str) -> bytes:
    """Stdout as bytes (succeed() decodes it as upstream does, replacing invalid UTF-8)."""
    machine.connect()
    assert machine.shell is not None
    return machine.shell.run(command, None).stdout


def test_eight_threads_on_a_machine_that_is_off_start_it_once(
        machines: tuple[Driver, io.StringIO]) -> None:
    driver, log = machines
    bob = machine(driver, "bob")
    assert not bob.booted
    failures: list[str] = []

    def worker(number: int) -> None:
        for index in range(50):
            try:
                out = bob.succeed(f"echo {number}-{index}")
            except Exception as exc:  # noqa: BLE001 - collected, the assertion names it
                failures.append(f"{number}-{index}: {exc}")
                return
            if out != f"{number}-{index}\n":
                failures.append(f"{number}-{index}: {out!r}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not failures
    assert log.getvalue().count("bob: starting vm") == 1
    assert log.getvalue().count("bob: QEMU running") == 1


@pytest.mark.parametrize("size", [0, 1, 2, 65_535, 100_001, 1_000_000, 4_000_000, 16_777_216])
def test_sizes_come_back_byte_exact(machines: tuple[Driver, io.StringIO], size: int) -> None:
    alice = machine(machines[0], "alice")
    reply = raw(alice, f"head -c {size} /dev/urandom | tee /tmp/stress.bin")
    digest = alice.succeed("sha256sum < /tmp/stress.bin").split()[0]
    assert len(reply) == size
    assert hashlib.sha256(reply).hexdigest() == digest
    if size <= 100_001:  # the public path decodes as upstream does
        assert alice.succeed("cat /tmp/stress.bin") == reply.decode(errors="replace")


def test_every_byte_value_and_the_framings_own_characters(
        machines: tuple[Driver, io.StringIO]) -> None:
    alice = machine(machines[0], "alice")
    every = bytes(range(256))
    octal = "".join(f"\\{b:03o}" for b in every)
    assert raw(alice, f"printf '{octal}'") == every
    for text in ("#0\n", "!0\n", "~gone 0\n", "=ff", "a.", "$#7\n", "eHh4$", "no newline"):
        assert alice.succeed(f"printf '%s' '{text}'") == text


def test_short_outputs_rich_in_the_raw_frames_escapes(
        machines: tuple[Driver, io.StringIO]) -> None:
    """Outputs around the limit of what the guest's builtins read and send raw, heavy in
    NUL, line ends, backslashes and bash's internal quote bytes, on the guest's own bash."""
    alice = machine(machines[0], "alice")
    rng = random.Random(256)
    tricky = b"\0\n\\\x01\x7f'#=$!~.\r\xff"
    for _ in range(300):
        size = rng.choice([1, rng.randrange(0, 300), rng.randrange(250, 262)])
        data = bytes(rng.choice(tricky) if rng.random() < 0.4 else rng.randrange(256)
                     for _ in range(size))
        octal = "".join(f"\\{b:03o}" for b in data)
        assert raw(alice, f"printf '{octal}'") == data, data


def test_random_sizes_against_the_guests_digest(machines: tuple[Driver, io.StringIO]) -> None:
    alice = machine(machines[0], "alice")
    rng = random.Random(15)
    for _ in range(40):
        size = rng.choice([rng.randrange(0, 8), rng.randrange(8, 5000),
                           rng.randrange(5000, 400_000)])
        reply = raw(alice, f"head -c {size} /dev/urandom | tee /tmp/stress.bin")
        assert hashlib.sha256(reply).hexdigest() == alice.succeed(
            "sha256sum < /tmp/stress.bin").split()[0]


def test_a_thousand_commands_back_to_back(machines: tuple[Driver, io.StringIO]) -> None:
    alice = machine(machines[0], "alice")
    for index in range(1000):
        assert alice.succeed(f"echo {index}") == f"{index}\n"


def test_a_command_of_one_megabyte(machines: tuple[Driver, io.StringIO]) -> None:
    alice = machine(machines[0], "alice")
    payload = "".join(random.Random(1).choice("abcdef0123456789") for _ in range(1_000_000))
    out = alice.succeed(f"echo {payload} | sha256sum")
    assert out.split()[0] == hashlib.sha256((payload + "\n").encode()).hexdigest()


def test_a_background_holder_of_stdout_is_waited_for_with_a_warning(
        machines: tuple[Driver, io.StringIO], monkeypatch: pytest.MonkeyPatch) -> None:
    driver, log = machines
    monkeypatch.setattr("nixtest_tui.driver.backdoor.HELD_OPEN_WARNING", 2.0)
    alice = machine(driver, "alice")
    assert alice.succeed("(echo ONE; sleep 4; echo TWO) &") == "ONE\nTWO\n"
    assert "but its stdout is still open" in log.getvalue()
    assert alice.succeed("echo after") == "after\n"


def test_outputs_survive_a_host_that_reads_slowly(machines: tuple[Driver, io.StringIO],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The loss the windows prevent: the host pauses between reads, the guest writes on."""
    alice = machine(machines[0], "alice")
    shell = alice.shell
    assert shell is not None
    original = shell._recv

    def slow(seconds: float | None, waiting_for: str) -> bytes | None:
        chunk = original(seconds, waiting_for)
        threading.Event().wait(0.05)
        return chunk

    monkeypatch.setattr(shell, "_recv", slow)
    reply = raw(alice, "head -c 600000 /dev/urandom | tee /tmp/stress.bin")
    monkeypatch.undo()
    assert hashlib.sha256(reply).hexdigest() == alice.succeed(
        "sha256sum < /tmp/stress.bin").split()[0]
