"""Open a NixOS test straight from Nix: build its driver, then find its driver configuration.

Users name a test the way they already build it (`.#checks.x86_64-linux.foo`, `--nix-file
test.nix -A foo`, `./result`). We build the test's `driverInteractive` rather than the test
itself: building the test would *run* it inside the Nix sandbox, while the driver is only the
wrapper `bin/nixos-test-driver` whose baked-in `--config` names everything we need (start
scripts, VLANs, test script). `driverInteractive` is the variant upstream builds for humans:
full QEMU with a display, and no sandbox-only settings.

Nix reports progress as `--log-format internal-json` lines; `NixLogTranslator` turns them into
one-line messages so that a terminal, a log or the TUI's build view can show them as they come.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nixtest_tui.driver.errors import ConfigError
from nixtest_tui.headless.args import config_from_wrapper

Progress = Callable[[str], None]

NIX_FEATURES = ("--extra-experimental-features", "nix-command flakes")
WRAPPER = Path("bin") / "nixos-test-driver"
DRIVER_ATTRS = ("driverInteractive", "driver")
STATUS_USAGE = 2
STATUS_BUILD_FAILED = 1
TAIL_LINES = 25
NOTHING_TO_OPEN = ("nothing to open: name a test (FLAKE#ATTR, or --nix-file FILE -A ATTR), a "
                   "built ./result, or pass -c driver-configuration.json")

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_STORE_NAME = re.compile(r"^[0-9a-z]{32}-(.+?)(?:\.drv)?$")

# Nix's logger numbering (libutil/logging.hh); only the ones a progress view needs.
_ACT_BUILDS = 104
_ACT_BUILD = 105
_RES_BUILD_LOG_LINE = 101
_RES_SET_PHASE = 104
_RES_PROGRESS = 105
_RES_POST_BUILD_LOG_LINE = 107
_LEVEL_INFO = 3
_LOG_FORMAT = ("--log-format", "internal-json")


class NixLaunchError(Exception):
    """The test cannot be opened; the message says what to do. `status` suits an exit code:
    1 when the Nix build itself failed, 2 for everything the user can fix in the command."""

    def __init__(self, message: str, status: int = STATUS_USAGE) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class LaunchTarget:
    config: Path                 # the driver configuration JSON to open
    log_level: str | None = None  # the wrapper's --log-level, when it has one
    out_path: Path | None = None  # the built (or given) driver, when there is one
    description: str = ""        # what was opened, for messages and titles


@dataclass(frozen=True)
class BuildPlan:
    argv: tuple[str, ...]
    description: str
    flake: bool  # `nix build --json` prints JSON; `nix-build` prints one out path a line

    @property
    def command(self) -> str:
        """The command for a human to retry, without the machine-readable log format."""
        words = [w for w in self.argv if w not in _LOG_FORMAT]
        return " ".join(f"'{w}'" if " " in w else w for w in words)


def is_nix_target(target: str | None, nix_file: Path | None = None,
                  attr: str | None = None) -> bool:
    """Whether opening this needs a Nix build (as opposed to a path already on disk)."""
    if nix_file is not None or attr is not None:
        return True
    if not target or Path(target).exists():
        return False
    return "#" in target or bool(_SCHEME.match(target))


def driver_attr(attr: str) -> str:
    """The attribute to build: the test's `driverInteractive`, unless a driver is named."""
    if attr.rsplit(".", 1)[-1] in DRIVER_ATTRS:
        return attr
    return f"{attr}.driverInteractive" if attr else "driverInteractive"


def plan_build(target: str | None, nix_file: Path | None = None, attr: str | None = None,
               extra_args: Sequence[str] = ()) -> BuildPlan:
    """The Nix command that builds the driver of the named test."""
    log = _LOG_FORMAT
    if nix_file is not None or attr is not None:
        if target:
            raise NixLaunchError(f"give either a test ({target}) or --nix-file/-A, not both")
        file_args = (os.path.abspath(nix_file),) if nix_file is not None else ()
        if nix_file is not None and not nix_file.exists():
            raise NixLaunchError(f"{nix_file}: no such file (--nix-file names a Nix file "
                                 "that evaluates to a NixOS test, or to tests under -A)")
        attribute = driver_attr(attr or "")
        where = str(nix_file) if nix_file is not None else "./default.nix"
        return BuildPlan(("nix-build", *file_args, "-A", attribute, "--no-out-link", *log,
                          *extra_args), f"{where} -A {attribute}", flake=False)
    if not target:
        raise NixLaunchError(NOTHING_TO_OPEN)
    flake_ref, hash_sign, attr_path = target.partition("#")
    if not hash_sign or not attr_path:
        raise NixLaunchError(f"{target}: name the test inside the flake, e.g. "
                             f"{flake_ref or '.'}#checks.x86_64-linux.my-test")
    installable = f"{flake_ref or '.'}#{driver_attr(attr_path)}"
    return BuildPlan(("nix", *NIX_FEATURES, "build", installable, "--json", "--no-link", *log,
                      *extra_args), installable, flake=True)


def resolve_target(target: str | None, nix_file: Path | None = None, attr: str | None = None,
                   progress: Progress | None = None,
                   extra_nix_args: Sequence[str] = ()) -> LaunchTarget:
    """Build the test if it needs building, and find its driver configuration.

    `target` is a flake reference with an attribute (`.#t`, `github:o/r#t`), a built driver
    (`./result`, `./result/bin/nixos-test-driver`) or a driver configuration JSON file;
    `nix_file`/`attr` are `--nix-file`/`-A`. Raises NixLaunchError.
    """
    report = progress if progress is not None else _ignore
    if not is_nix_target(target, nix_file, attr):
        if not target:
            raise NixLaunchError(NOTHING_TO_OPEN)
        return read_built_driver(Path(target))
    plan = plan_build(target, nix_file, attr, extra_nix_args)
    report(f"building the driver of {plan.description}")
    for out_path in run_build(plan, report):
        if (out_path / WRAPPER).exists():
            found = read_built_driver(out_path)
            return LaunchTarget(found.config, found.log_level, out_path, plan.description)
    raise NixLaunchError(f"{plan.description} built, but without {WRAPPER}: is it a NixOS "
                         "test (or a test's driver)? Name the test itself, e.g. "
                         "checks.<system>.<name> or nixosTests.<name>")


def read_built_driver(path: Path) -> LaunchTarget:
    """A driver built earlier: a `result` directory, its wrapper, or the JSON file itself."""
    if not path.exists():
        hint = " (a flake test is named FLAKE#ATTR)" if "#" not in str(path) else ""
        raise NixLaunchError(f"{path}: no such file or directory{hint}")
    if path.is_dir():
        if not (path / WRAPPER).exists():
            flake = ""
            if (path / "flake.nix").exists():
                flake = f" It is a flake: name the test, e.g. {path}#checks.x86_64-linux.my-test."
            raise NixLaunchError(f"{path}: no {WRAPPER} here; give a built test driver "
                                 f"(nix build .#my-test.driverInteractive makes ./result).{flake}")
        wrapper = path / WRAPPER
    elif _is_json_config(path):
        return LaunchTarget(path.resolve(), None, None, str(path))
    else:
        wrapper = path
    try:
        config, level = config_from_wrapper(wrapper)
    except ConfigError as exc:
        raise NixLaunchError(f"{exc}{_legacy_hint(wrapper)}") from None
    if not config.is_file():
        raise NixLaunchError(f"{wrapper} names {config}, which does not exist (garbage-"
                             "collected?): build the driver again")
    return LaunchTarget(config, level, path if path.is_dir() else None, str(path))


def run_build(plan: BuildPlan, progress: Progress) -> list[Path]:
    """Run the Nix command, streaming its progress; return the out paths it printed."""
    if shutil.which(plan.argv[0]) is None:
        raise NixLaunchError(f"`{plan.argv[0]}` is not on PATH: install Nix "
                             "(https://nixos.org/download), or build the test's driver "
                             "elsewhere and pass its ./result")
    translator = NixLogTranslator()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    stdout: list[str] = []
    process = subprocess.Popen(plan.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, errors="replace")
    out_stream, err_stream = process.stdout, process.stderr
    assert out_stream is not None and err_stream is not None
    reader = threading.Thread(target=lambda: stdout.append(out_stream.read()),
                              name="nix-stdout", daemon=True)
    reader.start()
    try:
        for raw in err_stream:
            for line in translator.feed(raw):
                tail.append(line)
                progress(line)
        status = process.wait()
    except BaseException:
        _stop(process)
        raise
    finally:
        reader.join(timeout=10)
    if status != 0:
        shown = "\n  ".join(tail) or "(no output)"
        raise NixLaunchError(f"the Nix build of {plan.description} failed (exit status "
                             f"{status}):\n  {shown}\nFix what it reports, check that "
                             f"`{plan.command}` succeeds, then open the test again.",
                             STATUS_BUILD_FAILED)
    return _out_paths("".join(stdout), plan)


class NixLogTranslator:
    """Nix's internal-json log as human lines; anything else passes through unchanged.

    Build log lines carry the derivation's name (`name> line`), like Nix's own
    `--print-build-logs`, so that interleaved builds stay readable.
    """

    def __init__(self) -> None:
        self._names: dict[Any, str] = {}
        self._builds: Any = None
        self._built = 0

    def feed(self, raw: str) -> list[str]:
        line = _ANSI.sub("", raw.rstrip("\r\n"))
        if not line.startswith("@nix "):
            return [line] if line.strip() else []
        try:
            event = json.loads(line[5:])
        except json.JSONDecodeError:
            return [line]
        if not isinstance(event, dict):
            return []
        action = event.get("action")
        if action == "msg":
            if _level(event) > _LEVEL_INFO:
                return []
            return [m for m in _ANSI.sub("", str(event.get("msg", ""))).splitlines() if m.strip()]
        if action == "start":
            return self._start(event)
        if action == "result":
            return self._result(event)
        return []

    def _start(self, event: dict[str, Any]) -> list[str]:
        kind = event.get("type")
        fields = event.get("fields") or []
        if kind == _ACT_BUILDS:
            self._builds = event.get("id")
        elif kind == _ACT_BUILD and fields:
            self._names[event.get("id")] = store_name(str(fields[0]))
        text = _ANSI.sub("", str(event.get("text") or ""))
        return [text] if text and _level(event) <= _LEVEL_INFO else []

    def _result(self, event: dict[str, Any]) -> list[str]:
        kind = event.get("type")
        fields = event.get("fields") or []
        name = self._names.get(event.get("id"), "build")
        if kind in (_RES_BUILD_LOG_LINE, _RES_POST_BUILD_LOG_LINE) and fields:
            return [f"{name}> {_ANSI.sub('', str(fields[0]))}"]
        if kind == _RES_SET_PHASE and fields:
            return [f"{name}> running {fields[0]}"]
        if kind == _RES_PROGRESS and event.get("id") == self._builds and len(fields) >= 2:
            done, expected = fields[0], fields[1]
            if isinstance(done, int) and isinstance(expected, int) and done > self._built:
                self._built = done
                return [f"built {done} of {expected} derivations"]
        return []


def store_name(path: str) -> str:
    """`/nix/store/<hash>-name.drv` -> `name`."""
    base = path.rstrip("/").rsplit("/", 1)[-1]
    match = _STORE_NAME.match(base)
    return match.group(1) if match else base


def add_nix_arguments(parser: argparse.ArgumentParser) -> None:
    """`--nix-file` and `-A`: the nix-build way of naming a test."""
    group = parser.add_argument_group("building the test with Nix")
    group.add_argument("--nix-file", type=Path, metavar="FILE",
                       help="a Nix file evaluating to a NixOS test (or to tests: add -A); "
                       "its driverInteractive is built with nix-build")
    group.add_argument("-A", "--attr", metavar="ATTR",
                       help="the test's attribute path in --nix-file (default file: "
                       "./default.nix, e.g. -A nixosTests.login in a nixpkgs checkout)")


def target_from_args(args: argparse.Namespace, progress: Progress) -> LaunchTarget | None:
    """Resolve a Nix-built or JSON target into `args.config` (and the wrapper's log level).

    Returns None, changing nothing, when the arguments name no such target: then -c, a built
    wrapper or the legacy interface apply as before.
    """
    target = getattr(args, "testscript", None)
    nix_file, attr = getattr(args, "nix_file", None), getattr(args, "attr", None)
    json_file = bool(target) and _is_json_config(Path(str(target)))
    if not (is_nix_target(target, nix_file, attr) or json_file):
        return None
    if getattr(args, "config", None) is not None:
        raise NixLaunchError("give either -c/--config or a test to open, not both")
    resolved = resolve_target(target, nix_file, attr, progress)
    args.config = resolved.config
    args.testscript = None
    words = list(getattr(args, "argv", []) or [])
    chosen = any(w == "--log-level" or w.startswith("--log-level=") for w in words)
    if resolved.log_level and not chosen:
        args.log_level = resolved.log_level
    return resolved


def driver_symbol_names() -> list[str]:
    """The globals a test script gets (without machine and VLAN names, which Nix adds)."""
    from nixtest_tui.driver.config import DriverConfiguration
    from nixtest_tui.driver.driver import Driver

    config = DriverConfiguration(vms={}, test_script=Path(os.devnull))
    with tempfile.TemporaryDirectory(prefix="nixtest-symbols-") as out:
        driver = Driver(config, Path(out))
        with contextlib.redirect_stdout(io.StringIO()):  # test_symbols() announces them
            return list(driver.test_symbols())


def generate_driver_symbols() -> int:
    """Upstream's `generate-driver-symbols`: nixpkgs' driver.nix runs it unconditionally and
    feeds the file `driver-symbols` to pyflakes as PYFLAKES_BUILTINS (spec §2.1, §11)."""
    Path("driver-symbols").write_text(",".join(driver_symbol_names()))
    return 0


def _ignore(_line: str) -> None:
    return None


def _level(event: dict[str, Any]) -> int:
    level = event.get("level", 0)
    return level if isinstance(level, int) else 0


def _stop(process: subprocess.Popen[str]) -> None:
    """Ends the build we started (on an interrupt or an error in the progress callback)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _out_paths(stdout: str, plan: BuildPlan) -> list[Path]:
    if plan.flake:
        try:
            built = json.loads(stdout)
        except json.JSONDecodeError:
            raise NixLaunchError(f"`nix build --json` printed no JSON for {plan.description}: "
                                 f"{stdout[:200]!r}") from None
        paths = [Path(p) for item in built if isinstance(item, dict)
                 for p in (item.get("outputs") or {}).values() if isinstance(p, str)]
    else:
        paths = [Path(line) for line in stdout.split() if line.startswith("/")]
    if not paths:
        raise NixLaunchError(f"the Nix build of {plan.description} reported no out path")
    return paths


def _is_json_config(path: Path) -> bool:
    if not path.is_file():
        return False
    if path.suffix == ".json":
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(64).lstrip().startswith(b"{")
    except OSError:
        return False


def _legacy_hint(wrapper: Path) -> str:
    """Drivers built by nixpkgs before the JSON configuration (April 2026) use env vars."""
    try:
        text = wrapper.read_text(errors="replace")
    except OSError:
        return ""
    if "testScript" in text or "vmStartScripts" in text or "startScripts" in text:
        return (" (this driver comes from a nixpkgs older than April 2026, which passes the "
                "test through environment variables; run the wrapper itself, or update nixpkgs)")
    return ""
