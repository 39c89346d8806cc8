"""Command-line arguments of the drop-in `nixos-test-driver` and `nixtest-tui --headless`.

The names are upstream's (spec §2.1, §2.2), including the underscore in `--output_directory`
and argparse's prefix matching, which nixpkgs relies on (`--junit=…`, `--debug-hook=…`).
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from pathlib import Path

from nixtest_tui.driver.config import (
    DriverConfiguration,
    check_start_scripts,
    legacy_configuration,
    load_driver_configuration,
)
from nixtest_tui.driver.errors import ConfigError, MachineError
from nixtest_tui.driver.logger import LogLevel
from nixtest_tui.driver.nspawn_host import require_container_host

_WRAPPER_CONFIG = re.compile(r"""--config['"]?\s+['"]?([^\s'"]+)""")
_WRAPPER_LOG_LEVEL = re.compile(r"""--log-level['"]?\s+['"]?([a-z]+)""")


def writable_directory(value: str) -> Path:
    path = Path(value)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} is not a directory (create it first)")
    try:  # a real probe: os.access says yes to root on a read-only mount
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{value} is not writable ({exc.strerror})") from None
    return path.resolve()


def positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value} is not a number of seconds") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{value}: give a positive number of seconds")
    return seconds


def add_driver_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", type=Path,
                        help="the driver configuration JSON: a Nix build's "
                        "driverConfiguration.json, or the driver-configuration.json that "
                        "`nixtest-tui build DIR` and --demo write")
    parser.add_argument("-K", "--keep-machine-state", action="store_true",
                        help="reuse the machines' state directories from a previous run")
    parser.add_argument("--keep-vm-state", action="store_true", dest="keep_vm_state",
                        help=argparse.SUPPRESS)
    parser.add_argument("-I", "--interactive", action=argparse.BooleanOptionalAction,
                        default=False, help="open a Python REPL over the test instead of "
                        "running the script (no global timeout)")
    parser.add_argument("--debug-hook-attach", metavar="CMD",
                        help="on failure, stop and serve pdb on 127.0.0.1:4444 "
                        "(the command printed tells how to attach)")
    parser.add_argument("--break-on-failure", action="store_true",
                        help="on a failure keep the machines up and wait: attach with "
                        "`nixtest-tui attach SOCKET` to inspect, then retry, skip or fail")
    parser.add_argument("-o", "--output_directory", type=writable_directory,
                        default=Path.cwd(), metavar="DIR",
                        help="where screenshots, copied files and reports go (default: cwd)")
    parser.add_argument("--junit-xml", type=Path, metavar="PATH",
                        help="write a JUnit report to DIR/PATH (an absolute PATH wins)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        default=os.environ.get("logLevel", "info"),
                        help="terminal log level (default: $logLevel or info)")
    parser.add_argument("--trace", type=Path, metavar="FILE",
                        help="record every driver event as JSON lines (see README)")
    parser.add_argument("--trace-screens", type=positive_seconds, metavar="SECONDS",
                        help="add each VM's screen to the trace every SECONDS when it changed "
                        "(a film strip for `nixtest-tui replay` and the HTML report); "
                        "implies a trace")
    parser.add_argument("--html-report", type=Path, metavar="PATH",
                        help="write a self-contained HTML report of the run to DIR/PATH "
                        "(an absolute PATH wins); implies a trace")
    parser.add_argument("--test-script", type=Path, metavar="PATH",
                        help="run this script instead of the configuration's test_script")
    legacy = parser.add_argument_group("legacy interface (nixpkgs before April 2026)")
    legacy.add_argument("--start-scripts", nargs="*", default=None)
    legacy.add_argument("--vm-names", nargs="*", default=None)
    legacy.add_argument("--vm-start-scripts", nargs="*", default=None)
    legacy.add_argument("--container-names", nargs="*", default=None)
    legacy.add_argument("--container-start-scripts", nargs="*", default=None)
    legacy.add_argument("--vlans", nargs="*", default=None)
    legacy.add_argument("--global-timeout", default=None)
    legacy.add_argument("testscript", nargs="?", default=None,
                        help="(legacy) the test script; or a built result/bin/nixos-test-driver")


def config_from_wrapper(path: Path) -> tuple[Path, str | None]:
    """The `--config` (and `--log-level`) baked into a built `bin/nixos-test-driver` wrapper."""
    if path.is_dir():
        path = path / "bin" / "nixos-test-driver"
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the driver wrapper ({exc.strerror})") from None
    match = _WRAPPER_CONFIG.search(text)
    if not match:
        raise ConfigError(f"{path}: no --config in this wrapper; pass -c/--config instead")
    level = _WRAPPER_LOG_LEVEL.search(text)
    return Path(match.group(1)), level.group(1) if level else None


def resolve_configuration(args: argparse.Namespace) -> DriverConfiguration:
    """-c, a built wrapper given as the positional argument, or the legacy flags/env vars."""
    if args.config is not None:
        config = load_driver_configuration(args.config)
    elif args.testscript and _looks_like_wrapper(Path(args.testscript)):
        config_path, level = config_from_wrapper(Path(args.testscript))
        if level and "--log-level" not in _argv_words(args):
            args.log_level = level
        config = load_driver_configuration(config_path)
    else:
        env = os.environ
        script = args.testscript or env.get("testScript")
        if not script:
            raise ConfigError("no configuration: pass -c/--config driverConfiguration.json, "
                              "a built result/bin/nixos-test-driver, or the legacy testScript")
        config = legacy_configuration(
            test_script=script,
            vm_start_scripts=args.vm_start_scripts or env.get("vmStartScripts"),
            vm_names=args.vm_names or env.get("vmNames"),
            start_scripts=args.start_scripts or env.get("startScripts"),
            container_start_scripts=(args.container_start_scripts
                                     or env.get("containerStartScripts")),
            container_names=args.container_names or env.get("containerNames"),
            vlans=args.vlans or env.get("vlans"),
            global_timeout=args.global_timeout or env.get("globalTimeout"),
        )
    if args.test_script is not None:
        config = DriverConfiguration(**{**config.__dict__, "test_script": args.test_script})
    check_start_scripts(config)
    check_script(config.test_script)
    return config


def host_problem(config: DriverConfiguration) -> str | None:
    """What keeps this host from running the test at all, said before anything starts."""
    if not config.containers:
        return None
    try:
        require_container_host(sorted(config.containers))
    except MachineError as exc:
        return str(exc)
    return None


def check_script(path: Path) -> None:
    """A test script that cannot be read or compiled is a bad input: say where, exit 2, and
    start no switch and no machine for it."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"test script {path}: {exc.strerror}") from None
    try:
        compile(text, str(path), "exec")
    except SyntaxError as exc:
        line = (exc.text or "").rstrip("\n")
        caret = " " * max((exc.offset or 1) - 1, 0) + "^"
        raise ConfigError(f"test script {path}, line {exc.lineno}: {exc.msg}\n    {line}\n"
                          f"    {caret}") from None


def _looks_like_wrapper(path: Path) -> bool:
    if path.is_dir():
        return (path / "bin" / "nixos-test-driver").exists()
    return path.name == "nixos-test-driver" or (path.is_file() and os.access(path, os.X_OK)
                                               and b"--config" in path.read_bytes()[:65536])


def _argv_words(args: argparse.Namespace) -> list[str]:
    return list(getattr(args, "argv", []) or [])


def log_level(args: argparse.Namespace) -> LogLevel:
    return LogLevel.parse(args.log_level)
