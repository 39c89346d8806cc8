"""The backdoor channel: per-command latency and output throughput, ours against upstream's shape.

Both paths run on the same tiny guest, through the same loggers a real headless run has
(terminal log, XML log, JUnit, the event bus with a trace writer reading it), interleaved so
that both see the same conditions:

* ours: `machine.succeed(command)`, the whole public path;
* upstream's: what its `succeed()` does per command, re-created: the `must succeed:` log
  block, the callbacks, then `bash -c '<cmd>' | (base64 -w 0; echo)`, reading 4 KiB chunks
  until a newline, and a second round trip `echo ${PIPESTATUS[0]}` for the status.

Prints medians, p95 and the ratio; asserts nothing. Run with `./dev bench` or directly.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import select
import shlex
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from nixtest_tui.driver import Driver, QemuMachine
from nixtest_tui.driver.config import load_driver_configuration
from nixtest_tui.driver.events import EventBus
from nixtest_tui.driver.junit import JunitXMLLogger
from nixtest_tui.driver.logger import CompositeLogger, EventLogger, TerminalLogger
from nixtest_tui.driver.xmllog import XMLLogger
from nixtest_tui.guests.accel import choose_accelerator
from nixtest_tui.guests.netspec import MachineSpec, Topology
from nixtest_tui.guests.startscript import write_network
from nixtest_tui.guests.tiny import ensure_tiny
from nixtest_tui.headless.trace import TraceWriter

KILOBYTE = "printf '%01000d' 0"  # 1,000 bytes from a builtin (no process of its own)


def upstream_succeed(machine: QemuMachine, command: str, patience: float = 60.0) -> bytes:
    """Upstream's per-command path over the same channel (see the module docstring)."""
    with machine.nested(f"must succeed: {command}"):
        machine.run_callbacks()
        assert machine.shell is not None
        sock = machine.shell.sock
        with machine.shell.lock:
            quoted = shlex.quote(f"set -euo pipefail; {command}")
            sock.sendall(f"bash -c {quoted} | (base64 -w 0; echo)\n".encode())
            chunks = [read_line(sock, patience)]
            sock.sendall(b"echo ${PIPESTATUS[0]}\n")
            status = int(read_line(sock, patience))
        output = base64.b64decode(b"".join(chunks))
        if status != 0:
            raise RuntimeError(f"command `{command}` failed (exit code {status})")
        return output


def read_line(sock: object, patience: float) -> bytes:
    import socket as socket_module
    assert isinstance(sock, socket_module.socket)
    parts: list[bytes] = []
    while True:
        if not select.select([sock], [], [], patience)[0]:
            raise TimeoutError("no newline: the reply's end was lost")
        chunk = sock.recv(4096)
        parts.append(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return b"".join(parts)


# What one command costs the guest, raw on the channel (no logging, no parsing): our line,
# the same pipeline with a forked subshell instead of `bash -c` (faster, but `$$`, `$PPID`
# and `$0` would differ from upstream's: not what we send), and a bare round trip.
WHAT_IF = {
    "our line (__nt - true)": b"__nt - true\n",
    "a forked subshell instead of bash -c": (
        b"( eval \"$__nt_pre\"'true' ) | if IFS= read -r -d '' -n 256 __s; then __nt_more; fi; "
        b"echo \"#${PIPESTATUS[0]}\"\n"),
    "a bare round trip (echo)": b"echo '#0'\n",
}


def what_if(machine: QemuMachine, count: int) -> None:
    """Blocks of `count` of each line of WHAT_IF, twice over; prints each one's median."""
    assert machine.shell is not None
    sock = machine.shell.sock
    samples: dict[str, list[float]] = {label: [] for label in WHAT_IF}
    with machine.shell.lock:
        for _ in range(2):
            for label, line in WHAT_IF.items():
                for _ in range(count):
                    started = time.perf_counter()
                    sock.sendall(line)
                    reply = b""
                    while not reply.endswith(b"\n") or b"#" not in reply:
                        reply += read_line(sock, 30)
                    samples[label].append(time.perf_counter() - started)
    for label, taken in samples.items():
        print(f"raw: {label}: median {statistics.median(taken) * 1000:.1f} ms "
              f"(p95 {percentile(taken, 0.95) * 1000:.1f})")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def compare(label: str, count: int, ours: Callable[[], object],
            theirs: Callable[[], object], block: int = 1) -> None:
    """`block` commands of one path, then of the other, until each ran `count`.

    Strict alternation (block 1) charges each command with the guest's after-work of the
    other path's (its processes' teardown); blocks measure each path as a test that runs it
    many times sees it. Both are printed."""
    mine: list[float] = []
    upstream: list[float] = []
    while len(mine) < count:
        for samples, run in ((mine, ours), (upstream, theirs)):
            for _ in range(min(block, count - len(samples))):
                started = time.perf_counter()
                run()
                samples.append(time.perf_counter() - started)
    ours_ms, theirs_ms = statistics.median(mine) * 1000, statistics.median(upstream) * 1000
    how = "alternating" if block == 1 else f"in alternating blocks of {block}"
    print(f"{label}, {count} each {how}: ours median {ours_ms:.1f} ms (p95 "
          f"{percentile(mine, 0.95) * 1000:.1f}), upstream's shape median {theirs_ms:.1f} ms "
          f"(p95 {percentile(upstream, 0.95) * 1000:.1f}), ratio {ours_ms / theirs_ms:.2f}")


def throughput(machine: QemuMachine, size: int) -> None:
    machine.succeed(f"head -c {size} /dev/urandom > /tmp/bench.bin")
    digest = machine.succeed("sha256sum < /tmp/bench.bin").split()[0]
    started = time.perf_counter()
    machine.succeed("cat /tmp/bench.bin")  # the public path (it decodes as upstream does)
    ours = time.perf_counter() - started
    assert machine.shell is not None
    exact = machine.shell.run("cat /tmp/bench.bin", None).stdout
    ours_ok = hashlib.sha256(exact).hexdigest() == digest
    started = time.perf_counter()
    try:
        data = upstream_succeed(machine, "cat /tmp/bench.bin", patience=30)
        theirs = time.perf_counter() - started
        verdict = ("every byte" if hashlib.sha256(data).hexdigest() == digest
                   else f"{size - len(data)} bytes lost")
        upstream = f"{size / theirs / 1e6:.2f} MB/s ({verdict})"
    except (TimeoutError, ValueError) as exc:
        upstream = f"no complete reply ({exc})"
    print(f"output of {size / 1e6:.0f} MB: ours {size / ours / 1e6:.2f} MB/s "
          f"({'every byte' if ours_ok else 'WRONG'}), upstream's shape {upstream}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--megabytes", type=int, default=16)
    parser.add_argument("--block", type=int, default=10,
                        help="commands per block in the second, block-interleaved comparison")
    parser.add_argument("--what-if", action="store_true",
                        help="also time raw command lines: ours, a forked subshell instead of "
                             "`bash -c`, a bare round trip (where a command's time goes)")
    args = parser.parse_args()
    image = ensure_tiny()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        topology = Topology((MachineSpec("bench"),))
        config = load_driver_configuration(
            write_network(topology, image, choose_accelerator(image.kernel), root, ""))
        bus = EventBus()
        logger = CompositeLogger([
            TerminalLogger(io.StringIO(), colour=False), EventLogger(bus),
            XMLLogger(root / "log.xml"), JunitXMLLogger(root / "junit.xml")])
        trace = TraceWriter(bus, root / "trace.jsonl")
        tmp = root / "tmp"
        tmp.mkdir()
        with Driver(config, root, logger, bus=bus, tmp_dir=tmp) as driver:
            machine = driver.machines[0]
            assert isinstance(machine, QemuMachine)
            machine.connect()
            for block in (1, args.block):
                compare("succeed('true')", args.commands, lambda: machine.succeed("true"),
                        lambda: upstream_succeed(machine, "true"), block)
                compare("succeed('echo hello')", args.commands // 2,
                        lambda: machine.succeed("echo hello"),
                        lambda: upstream_succeed(machine, "echo hello"), block)
                # past the 256 bytes the guest's builtins send raw: base64 takes the rest
                compare("a 1 KB output", args.commands // 2,
                        lambda: machine.succeed(KILOBYTE),
                        lambda: upstream_succeed(machine, KILOBYTE), block)
            throughput(machine, args.megabytes * 1_000_000)
            if args.what_if:
                what_if(machine, args.commands // 4)
        trace.close()


if __name__ == "__main__":
    main()
