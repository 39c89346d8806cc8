"""The start-script wrapper of a chaos run: `startwrap NAME ORIGINAL [ARGS...]`.

It sets up what the plan in `NIXTEST_FLAKY_CHAOS` asks for this machine, then execs the
original start script (which execs QEMU), so the driver still sees one process per machine
and its PID is the QEMU's. The switch, wirefilter and starve helpers read their stdin from a
pipe whose only writer is that process: when the QEMU ends, however it ends, they get EOF
(and PR_SET_PDEATHSIG as a second line), so nothing outlives the machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from nixtest_tui.flaky.chaos import PLAN_VARIABLE, ChaosPlan
from nixtest_tui.flaky.starve import die_with_parent

_VDE_VARIABLE = re.compile(r"QEMU_VDE_SOCKET_(\d+)")
READY_TIMEOUT = 10.0


def _say(name: str, message: str) -> None:
    print(f"{name}: chaos: {message}", file=sys.stderr, flush=True)


def _spawn(argv: list[str], stdin_fd: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdin=stdin_fd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)


def _await_socket(path: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not (path / "ctl").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"chaos: vde_switch for {path} did not start")
        time.sleep(0.02)


def filter_vlans(name: str, script: Path, plan: ChaosPlan, stdin_fd: int) -> None:
    """For each VLAN the script plugs into: own hub, wirefilter to the VLAN's switch."""
    vlans = sorted(set(_VDE_VARIABLE.findall(script.read_text(errors="replace"))), key=int)
    work = Path(os.environ.get("TMPDIR") or "/tmp")
    delay = f"{plan.delay_ms:g}+{plan.jitter_ms:g}" if plan.jitter_ms else f"{plan.delay_ms:g}"
    for nr in vlans:
        upstream = os.environ.get(f"QEMU_VDE_SOCKET_{nr}")
        if not upstream:
            continue
        hub = work / f"chaos-vde{nr}.ctl"
        shutil.rmtree(hub, ignore_errors=True)
        switch = _spawn(["vde_switch", "--sock", str(hub), "--dirmode", "0700", "--hub"],
                        stdin_fd)
        _await_socket(hub, switch)
        argv = ["wirefilter", "-v", f"{hub}:{upstream}"]
        if plan.delay_ms:
            argv += ["-d", delay]
        if plan.loss_percent:
            argv += ["-l", f"{plan.loss_percent:g}"]
        _spawn(argv, stdin_fd)
        os.environ[f"QEMU_VDE_SOCKET_{nr}"] = str(hub)
        _say(name, f"VLAN {nr} through wirefilter ({' '.join(argv[3:])}), seed {plan.seed}")


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    name, script, rest = words[0], Path(words[1]), words[2:]
    plan = ChaosPlan.from_json(os.environ.get(PLAN_VARIABLE) or ChaosPlan().to_json())
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)  # held by the QEMU after exec: EOF when it ends
    if name in plan.slow_boot:
        _say(name, f"slow boot: starting {plan.slow_boot[name]:g} s late")
        time.sleep(plan.slow_boot[name])
    if plan.touches_network:
        filter_vlans(name, script, plan, read_end)
    if name in plan.cpu_share:
        share = plan.cpu_share[name]
        _say(name, f"cpu starved to {share:g}% of a core, seed {plan.seed}")
        _spawn([sys.executable, "-m", "nixtest_tui.flaky.starve", str(os.getpid()),
                f"{share:g}", str(plan.seed)], read_end)
    os.close(read_end)
    os.execv(str(script), [str(script), *rest])


if __name__ == "__main__":
    sys.exit(main())
