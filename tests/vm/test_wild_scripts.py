"""NixOS-style test scripts from `tests/wild/`, run through the driver against real guests.

Each script declares what it needs in a comment header, read up to the first line that is not a
comment:

    # machines: alice bob              machines on VLAN 1
    # machines: web-1@1,2 db@2         `name@vlan,vlan` (`name@` for no VLAN at all)
    # expect: exit 1                   a failing script: `sys.exit(1)` from the driver
    # expect: raise PollingConditionError
    #                                  a failing script whose exception escapes run_tests()
    # log: <text>                      a line of the terminal log must contain <text>
    # nolog: <text>                    ... and no line may contain <text>
    # stdout: <text>                   the driver's stdout must contain <text>
    # out: <path>                      the script must leave <path> in the driver's out_dir

A value that ends in a backslash continues on the next line, after its `# `, with nothing in
between: long expected log lines stay within the line-length limit.

Without `# expect:` a script must pass. Whatever the verdict, no QEMU or vde process of the
test may outlive `Driver.__exit__`.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import NetworkFactory, processes_of_this_session

from nixtest_tui.driver import Driver, QemuMachine
from nixtest_tui.driver.logger import CompositeLogger, TerminalLogger
from nixtest_tui.guests.netspec import MachineSpec

pytestmark = pytest.mark.vm

WILD = Path(__file__).parent.parent / "wild"
SCRIPTS = sorted(WILD.glob("*-test.py"))


@dataclass
class Header:
    machines: list[MachineSpec] = field(default_factory=list)
    exit_status: int = 0
    raises: str | None = None
    logs: list[str] = field(default_factory=list)
    nologs: list[str] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


def machine_spec(word: str) -> MachineSpec:
    name, at, vlans = word.partition("@")
    if not at:
        return MachineSpec(name)
    return MachineSpec(name, vlans=tuple(int(v) for v in vlans.split(",") if v))


def header_lines(text: str) -> list[str]:
    """The leading comment lines without their `# `, continuation lines joined."""
    lines: list[str] = []
    continued = False
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        content = line.removeprefix("#").removeprefix(" ")
        if continued:
            lines[-1] = lines[-1][:-1] + content
        else:
            lines.append(content)
        continued = lines[-1].endswith("\\")
    return lines


def parse_header(text: str) -> Header:
    header = Header()
    for line in header_lines(text):
        key, colon, value = line.partition(":")
        if not colon:
            continue
        value = value.strip()
        match key.strip():
            case "machines":
                header.machines += [machine_spec(word) for word in value.split()]
            case "expect":
                verb, _, what = value.partition(" ")
                if verb == "exit":
                    header.exit_status = int(what)
                elif verb == "raise":
                    header.raises = what.strip()
                else:
                    raise ValueError(f"unknown expectation {value!r}")
            case "log":
                header.logs.append(value)
            case "nolog":
                header.nologs.append(value)
            case "stdout":
                header.stdout.append(value)
            case "out":
                header.outputs.append(value)
    return header


def test_headers_parse() -> None:
    header = parse_header(
        "# machines: web-1@1,2 db@2 lone@\n# expect: exit 1\n# log: a: b\\\n#  c\n"
        "\n# log: ignored\n"
    )
    assert [(m.name, m.vlans) for m in header.machines] == [
        ("web-1", (1, 2)), ("db", (2,)), ("lone", ()),
    ]
    assert header.exit_status == 1
    assert header.logs == ["a: b c"]


def test_every_script_declares_its_machines() -> None:
    assert len(SCRIPTS) >= 15
    for script in SCRIPTS:
        header = parse_header(script.read_text())
        assert 1 <= len(header.machines) <= 2, script.name


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_wild_script(
    script: Path,
    network: NetworkFactory,
    driver_tmp: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = script.read_text()
    header = parse_header(text)
    config = network(*header.machines, script=text)
    log = io.StringIO()
    logger = CompositeLogger([TerminalLogger(stream=log, colour=False)])
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    status: int | str | None = 0
    raised: BaseException | None = None
    machines: list[QemuMachine] = []
    started = time.monotonic()
    with Driver(config, out_dir=out_dir, logger=logger, tmp_dir=driver_tmp) as driver:
        machines = list(driver.machines_qemu)
        try:
            driver.run_tests()
        except SystemExit as exc:
            status = exc.code
        except Exception as exc:  # noqa: BLE001 - the header says which one is expected
            raised = exc
    elapsed = time.monotonic() - started
    transcript = log.getvalue()
    stdout = capsys.readouterr().out
    context = f"{script.name} ran {elapsed:.1f} s; log:\n{transcript}"

    if header.raises is not None:
        assert raised is not None and type(raised).__name__ == header.raises, context
    else:
        assert raised is None, f"{raised!r}\n{context}"
        assert status == header.exit_status, context
    for wanted in header.logs:
        assert wanted in transcript, f"missing log text {wanted!r}\n{context}"
    if "!!! RequestedAssertionFailed: " in transcript:
        # upstream's short traceback: only the script's own frames, each with its line
        frames = [line for line in transcript.splitlines() if line.startswith("!!!   File ")]
        assert frames, context
        assert all(line.startswith('!!!   File "<string>", line ') for line in frames), context
    for unwanted in header.nologs:
        assert unwanted not in transcript, f"unexpected log text {unwanted!r}\n{context}"
    for wanted in header.stdout:
        assert wanted in stdout, f"missing stdout text {wanted!r} in {stdout!r}"
    for relative in header.outputs:
        assert (out_dir / relative).exists(), f"{relative} not in out_dir\n{context}"

    for machine in machines:
        assert machine.process is None or machine.process.poll() is not None, (
            f"QEMU of {machine.name} still runs after Driver.__exit__"
        )
    leftovers = processes_of_this_session()  # also machines from create_machine, and vde
    assert not leftovers, f"processes outlived Driver.__exit__: {leftovers}"
