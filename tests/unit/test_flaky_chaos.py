"""Chaos knobs: parsing, the per-run seed, and the wrapped start scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nixtest_tui.flaky.chaos import (
    PLAN_VARIABLE,
    ChaosPlan,
    check_machines,
    parse_cpu_starve,
    parse_delay,
    parse_loss,
    parse_slow_boot,
    wrap_configuration,
    write_sidecar,
)
from nixtest_tui.flaky.errors import FlakyError


def test_knobs_parse_as_documented() -> None:
    assert parse_delay("50ms") == (50.0, 0.0)
    assert parse_delay("50ms±20ms") == (50.0, 20.0)
    assert parse_delay("50ms+-20ms") == (50.0, 20.0)
    assert parse_loss("2%") == 2.0
    assert parse_cpu_starve("server:30%") == ("server", 30.0)
    assert parse_slow_boot("client:5s") == ("client", 5.0)
    assert parse_slow_boot("client:0.5s") == ("client", 0.5)


@pytest.mark.parametrize("call,text", [
    (parse_delay, "50"), (parse_delay, "fast"), (parse_loss, "2"), (parse_loss, "120%"),
    (parse_cpu_starve, "30%"), (parse_cpu_starve, "server:0%"), (parse_slow_boot, "client:5"),
    (parse_slow_boot, ":5s"),
])
def test_a_bad_knob_says_what_it_expected(call: object, text: str) -> None:
    with pytest.raises(FlakyError, match="expected|share"):
        call(text)  # type: ignore[operator]


def test_a_knob_for_a_machine_the_test_lacks_names_the_machines() -> None:
    plan = ChaosPlan(cpu_share={"sever": 30.0})
    with pytest.raises(FlakyError, match="no such VM .*client, server"):
        check_machines(plan, {"client", "server"})


def test_each_run_gets_its_own_seed_and_the_plan_round_trips() -> None:
    plan = ChaosPlan(20.0, 5.0, 2.0, {"server": 30.0}, {"client": 5.0}, seed=100)
    runs = [plan.for_run(n) for n in (1, 2)]
    assert [r.seed for r in runs] == [101, 102]
    assert ChaosPlan.from_json(runs[0].to_json()) == runs[0]
    assert runs[0].describe() == ("net delay 20ms±5ms, net loss 2%, cpu server:30%, "
                                  "slow boot client:5s")
    assert not ChaosPlan().active and ChaosPlan(loss_percent=1).touches_network


def test_the_sidecar_records_knobs_and_seed(tmp_path: Path) -> None:
    write_sidecar(tmp_path, ChaosPlan(loss_percent=15, seed=7), "")
    record = json.loads((tmp_path / "chaos.json").read_text())
    assert record["loss_percent"] == 15 and record["seed"] == 7
    assert record["describe"] == "net loss 15%"


def test_wrapped_start_scripts_exec_the_original_with_its_arguments(tmp_path: Path) -> None:
    """The wrapper with a slow-boot knob, around a stand-in start script that reports its
    arguments, pid and VDE socket: the original runs in the wrapper's own process (exec), so
    the driver's PID is the machine's."""
    original = tmp_path / "run-alpha-vm"
    report = tmp_path / "report.json"
    original.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'pid': os.getpid(), "
        f"'sock': os.environ.get('QEMU_VDE_SOCKET_1')}}, open({str(report)!r}, 'w'))\n")
    original.chmod(0o755)
    config = tmp_path / "driver-configuration.json"
    config.write_text(json.dumps({
        "vms": {"alpha": {"name": "alpha", "start_script": str(original)}},
        "vlans": [1], "test_script": "test.py"}))
    wrapped = json.loads(wrap_configuration(config, tmp_path / "chaos").read_text())
    script = wrapped["vms"]["alpha"]["start_script"]
    assert wrapped["test_script"] == str(tmp_path / "test.py")
    plan = ChaosPlan(slow_boot={"alpha": 0.3}, seed=5)
    env = dict(os.environ, **{PLAN_VARIABLE: plan.to_json(), "QEMU_VDE_SOCKET_1": "/x"})

    process = subprocess.Popen([script, "-snapshot"], env=env, stderr=subprocess.PIPE)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 0
    seen = json.loads(report.read_text())
    assert seen == {"argv": ["-snapshot"], "pid": process.pid, "sock": "/x"}
    assert b"alpha: chaos: slow boot: starting 0.3 s late" in stderr
