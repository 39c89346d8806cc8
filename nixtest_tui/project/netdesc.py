"""A test network described in TOML (`network.toml`), for writing a test without Nix.

The description is what a user edits by hand, so every mistake is reported as one line naming
the field (`machines.web.memory: ...`), the way a Nix evaluation error names the option. It maps
onto `guests.topology` (machines, VLANs, QEMU knobs) plus a flavour per machine, which decides
the guest image (tiny or debian VM) or makes the machine a systemd-nspawn container.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nixtest_tui.guests.netspec import MachineSpec, Topology, TopologyError

DESCRIPTION_NAME = "network.toml"
FLAVOURS = ("tiny", "debian", "container")
_TOP_KEYS = {"test", "machines"}
_TEST_KEYS = {"script", "global_timeout", "restrict_network"}
_MACHINE_KEYS = {"flavour", "vlans", "memory", "qemu_options", "kernel_params"}
T = TypeVar("T")


class NetworkDescriptionError(ValueError):
    """A `network.toml` we cannot turn into start scripts; the message is one line."""


@dataclass(frozen=True)
class MachineEntry:
    spec: MachineSpec
    flavour: str


@dataclass(frozen=True)
class NetworkDescription:
    directory: Path
    machines: tuple[MachineEntry, ...]
    script: Path
    global_timeout: int = 3600
    restrict_network: bool = True

    @property
    def topology(self) -> Topology:
        return Topology(tuple(m.spec for m in self.machines),
                        restrict_network=self.restrict_network,
                        global_timeout=self.global_timeout)

    def flavours(self) -> set[str]:
        return {m.flavour for m in self.machines}


def load_description(directory: Path) -> NetworkDescription:
    """Read and check `directory/network.toml`; raises NetworkDescriptionError."""
    path = directory / DESCRIPTION_NAME
    try:
        text = path.read_text()
    except OSError as exc:
        raise NetworkDescriptionError(
            f"{path}: cannot read it ({exc.strerror}); `nixtest-tui init {directory}` "
            "writes a starter") from None
    return parse_description(text, directory, str(path))


def parse_description(text: str, directory: Path, source: str) -> NetworkDescription:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NetworkDescriptionError(f"{source}: not valid TOML: {exc}") from None
    try:
        return _description(data, directory)
    except _FieldError as exc:
        raise NetworkDescriptionError(f"{source}: {exc.field}: {exc.problem}") from None


class _FieldError(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


def _description(data: dict[str, Any], directory: Path) -> NetworkDescription:
    _no_unknown_keys(data, _TOP_KEYS, "")
    test = _table(data.get("test", {}), "test")
    _no_unknown_keys(test, _TEST_KEYS, "test.")
    script = directory / _typed(test.get("script", "test.py"), str, "test.script", "a file name")
    if not script.is_file():
        raise _FieldError("test.script", f"{script} does not exist")
    timeout = _typed(test.get("global_timeout", 3600), int, "test.global_timeout",
                     "a number of seconds")
    if timeout <= 0:
        raise _FieldError("test.global_timeout", "must be more than 0 seconds")
    restrict = _typed(test.get("restrict_network", True), bool, "test.restrict_network",
                      "true or false")
    machines = _table(data.get("machines", {}), "machines")
    if not machines:
        raise _FieldError("machines", "declare at least one machine, e.g. [machines.server]")
    entries = tuple(_machine(name, _table(body, f"machines.{name}"))
                    for name, body in machines.items())
    description = NetworkDescription(directory, entries, script, timeout, restrict)
    try:
        description.topology  # noqa: B018 - the checks of Topology.__post_init__
    except TopologyError as exc:
        raise _FieldError("machines", str(exc)) from None
    return description


def _machine(name: str, body: dict[str, Any]) -> MachineEntry:
    field = f"machines.{name}"
    _no_unknown_keys(body, _MACHINE_KEYS, f"{field}.")
    flavour = _typed(body.get("flavour", "tiny"), str, f"{field}.flavour", "a string")
    if flavour not in FLAVOURS:
        raise _FieldError(f"{field}.flavour", f"{flavour!r} is not one of {', '.join(FLAVOURS)}")
    vlans = _typed(body.get("vlans", [1]), list, f"{field}.vlans", "a list of VLAN numbers")
    for vlan in vlans:
        if isinstance(vlan, bool) or not isinstance(vlan, int) or not 1 <= vlan <= 255:
            raise _FieldError(f"{field}.vlans", f"{vlan!r} is not a VLAN number in 1..255")
    memory = body.get("memory")
    if memory is not None:
        memory = _typed(memory, int, f"{field}.memory", "a size in MiB")
        if not 64 <= memory <= 65536:
            raise _FieldError(f"{field}.memory", f"{memory} MiB is outside 64..65536")
    options = _typed(body.get("qemu_options", []), list, f"{field}.qemu_options",
                     "a list of strings")
    if not all(isinstance(option, str) for option in options):
        raise _FieldError(f"{field}.qemu_options", "every option must be a string")
    kernel_params = _typed(body.get("kernel_params", ""), str, f"{field}.kernel_params",
                           "a string")
    if flavour == "container" and (memory is not None or options):
        which = "memory" if memory is not None else "qemu_options"
        raise _FieldError(f"{field}.{which}", "a container runs no QEMU; drop this field")
    spec = MachineSpec(name, tuple(vlans), memory, tuple(options), kernel_params,
                       kind="container" if flavour == "container" else "vm")
    return MachineEntry(spec, flavour)


def _no_unknown_keys(table: dict[str, Any], known: set[str], prefix: str) -> None:
    for key in table:
        if key not in known:
            raise _FieldError(f"{prefix}{key}",
                              f"unknown field (known: {', '.join(sorted(known))})")


def _table(value: object, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _FieldError(field, f"expected a table ([{field}]), got {value!r}")
    return value


def _typed(value: object, kind: type[T], field: str, expected: str) -> T:
    # bool is an int in Python, but `memory = true` is a mistake, not 1 MiB
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _FieldError(field, f"expected {expected}, got {value!r}")
    return value
