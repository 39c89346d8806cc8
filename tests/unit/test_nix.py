"""Nix integration: every .nix file parses, and tests open from Nix builds.

These machines have no Nix store and no nixpkgs, so two kinds of Nix appear here, each
documented where it is made:
* `tests/nix/standin_nix.py`, a STAND-IN for the `nix`/`nix-build` executables that replaces
  only the build step: it records its arguments and produces a built-driver-shaped out path;
* the REAL Nix (Debian's `nix-bin`, installed on demand) building, in a private store under
  the test's tmp dir, a stand-in test derivation (`tests/nix/driver_builder.py`) shaped like a
  NixOS test's `driverInteractive`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nixtest_tui.driver.config import load_driver_configuration
from nixtest_tui.headless.args import add_driver_arguments
from nixtest_tui.nixlaunch import (
    STATUS_BUILD_FAILED,
    STATUS_USAGE,
    NixLaunchError,
    NixLogTranslator,
    add_nix_arguments,
    driver_symbol_names,
    generate_driver_symbols,
    is_nix_target,
    plan_build,
    resolve_target,
    target_from_args,
)

ROOT = Path(__file__).resolve().parent.parent.parent
HELPERS = Path(__file__).resolve().parent.parent / "nix"
NIX_FLAGS = ["--extra-experimental-features", "nix-command flakes"]
LOG_FLAGS = ["--log-format", "internal-json"]
DEMO_MACHINES = ["client", "outsider", "server"]
# The globals nixpkgs' test-script-prepend.py declares for every test script (spec §11).
UPSTREAM_GLOBALS = {"start_all", "subtest", "retry", "test_script", "machines", "vlans",
                    "driver", "log", "create_machine", "run_tests", "join_all",
                    "serial_stdout_off", "serial_stdout_on", "polling_condition"}


def _install_nix_bin() -> str | None:
    """Installs Debian's nix-bin when missing; returns why not, if it cannot."""
    if all(shutil.which(tool) for tool in ("nix", "nix-build", "nix-instantiate")):
        return None
    if shutil.which("apt-get") is None:
        return "Nix is not installed and there is no apt-get to install nix-bin"
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and shutil.which("sudo") is None:
        return "Nix is not installed and installing nix-bin needs root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", "nix-bin"]
    result = subprocess.run(install, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, capture_output=True)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        return f"cannot install nix-bin: {result.stderr.strip()[-300:]}"
    return None if shutil.which("nix-instantiate") else "nix-bin installed no nix-instantiate"


@pytest.fixture(scope="session")
def nix_bin() -> None:
    reason = _install_nix_bin()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def private_store(nix_bin: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real Nix, pointed at a store, state and config of its own under tmp_path."""
    home = tmp_path / "nix-home"
    for name, sub in (("NIX_STORE_DIR", "store"), ("NIX_STATE_DIR", "var"),
                      ("NIX_LOG_DIR", "log"), ("NIX_CONF_DIR", "etc"), ("HOME", "home"),
                      ("XDG_CACHE_HOME", "cache"), ("XDG_CONFIG_HOME", "config"),
                      ("XDG_DATA_HOME", "data")):
        (home / sub).mkdir(parents=True)
        monkeypatch.setenv(name, str(home / sub))
    monkeypatch.delenv("NIX_REMOTE", raising=False)
    (home / "etc" / "nix.conf").write_text(
        "sandbox = false\nbuild-users-group =\nsubstituters =\nflake-registry =\n")
    return home


@dataclass
class StandIn:
    out_root: Path
    record: Path

    def call(self) -> dict[str, Any]:
        recorded: dict[str, Any] = json.loads(self.record.read_text())
        return recorded


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """`nix` and `nix-build` on a PATH of their own: the stand-ins for the build step."""
    bindir = tmp_path / "standin-bin"
    bindir.mkdir()
    source = (HELPERS / "standin_nix.py").read_text()
    for name in ("nix", "nix-build"):
        program = bindir / name
        program.write_text(f"#!{sys.executable}\n{source}")
        program.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    stand_in = StandIn(tmp_path / "standin-store", tmp_path / "standin-argv.json")
    stand_in.out_root.mkdir()
    monkeypatch.setenv("STANDIN_OUT", str(stand_in.out_root))
    monkeypatch.setenv("STANDIN_RECORD", str(stand_in.record))
    return stand_in


@pytest.fixture
def in_tmp(tmp_path: Path) -> Iterator[Path]:
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(cwd)


# -- the .nix files ------------------------------------------------------------------------


def test_every_nix_file_parses(private_store: Path) -> None:
    files = [ROOT / "flake.nix", *sorted((ROOT / "nix").glob("*.nix"))]
    assert {f.name for f in files} >= {"flake.nix", "package.nix", "test-module.nix"}
    for path in files:
        result = subprocess.run(["nix-instantiate", "--parse", str(path)],
                                capture_output=True, text=True)
        assert result.returncode == 0, f"{path}: {result.stderr}"


def test_nix_reads_version_and_description_from_pyproject(private_store: Path) -> None:
    """nix/package.nix takes both from pyproject.toml through Nix's own TOML reader."""
    expression = ("let p = (builtins.fromTOML (builtins.readFile ./pyproject.toml)).project;"
                  " in [ p.version p.description ]")
    result = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "-E",
                             expression], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert json.loads(result.stdout) == [project["version"], project["description"]]


# -- building with the stand-in nix ----------------------------------------------------------


def test_flake_target_builds_the_tests_driver_interactive(standin: StandIn) -> None:
    progress: list[str] = []
    target = resolve_target(".#demo", progress=progress.append)
    call = standin.call()
    assert call["program"] == "nix"
    assert call["argv"] == [*NIX_FLAGS, "build", ".#demo.driverInteractive", "--json",
                            "--no-link", *LOG_FLAGS]
    out = standin.out_root / "0123456789abcdfghijklmnpqrsvwxyz-nixos-test-driver-demo"
    assert target.out_path == out
    assert target.config == out / "driver-configuration.json"
    assert target.log_level == "debug"
    assert list(load_driver_configuration(target.config).vms) == ["machine"]
    assert progress == [
        "building the driver of .#demo.driverInteractive",
        "this derivation will be built:",
        "building '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-test-driver-demo.drv'",
        "nixos-test-driver-demo> hello from the builder",
        "a plain line, as an older Nix might print",
        "built 1 of 1 derivations",
    ]


@pytest.mark.parametrize(("target", "installable"), [
    ("github:o/r#checks.x86_64-linux.t", "github:o/r#checks.x86_64-linux.t.driverInteractive"),
    ("github:o/r#t.driverInteractive", "github:o/r#t.driverInteractive"),
    ("path:/src#t.driver", "path:/src#t.driver"),
    ("#t", ".#t.driverInteractive"),
])
def test_flake_installable(target: str, installable: str) -> None:
    plan = plan_build(target)
    assert plan.argv == ("nix", *NIX_FLAGS, "build", installable, "--json", "--no-link",
                         *LOG_FLAGS)


def test_nix_file_and_attr_use_nix_build(standin: StandIn, tmp_path: Path) -> None:
    test_file = tmp_path / "test.nix"
    test_file.write_text("{ }\n")
    target = resolve_target(None, test_file, "tests.login")
    assert standin.call() == {"program": "nix-build", "argv": [
        str(test_file), "-A", "tests.login.driverInteractive", "--no-out-link", *LOG_FLAGS]}
    assert target.config.name == "driver-configuration.json"


def test_attr_alone_builds_from_default_nix(standin: StandIn) -> None:
    resolve_target(None, attr="nixosTests.login")
    assert standin.call()["argv"] == ["-A", "nixosTests.login.driverInteractive",
                                      "--no-out-link", *LOG_FLAGS]


def test_nix_file_alone_is_the_test(standin: StandIn, tmp_path: Path) -> None:
    test_file = tmp_path / "test.nix"
    test_file.write_text("{ }\n")
    resolve_target(None, test_file)
    assert standin.call()["argv"][:3] == [str(test_file), "-A", "driverInteractive"]


def test_progress_streams_while_the_build_runs(standin: StandIn, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in waits for a file that only the progress callback creates."""
    go = tmp_path / "go"
    monkeypatch.setenv("STANDIN_GO", str(go))

    def progress(line: str) -> None:
        if line.startswith("nixos-test-driver-demo> "):
            go.touch()

    assert resolve_target(".#demo", progress=progress).log_level == "debug"


def test_failed_build_says_what_failed(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_FAIL", "1")
    with pytest.raises(NixLaunchError) as failure:
        resolve_target(".#demo")
    message = str(failure.value)
    assert failure.value.status == STATUS_BUILD_FAILED
    assert "the Nix build of .#demo.driverInteractive failed (exit status 1)" in message
    assert "error: builder for '/nix/store/" in message and "\x1b" not in message
    assert "nixos-test-driver-demo> hello from the builder" in message
    assert ("`nix --extra-experimental-features 'nix-command flakes' build "
            ".#demo.driverInteractive --json --no-link` succeeds") in message


@pytest.mark.parametrize(("target", "attr", "program"), [(".#demo", None, "nix"),
                                                         (None, "demo", "nix-build")])
def test_missing_nix_says_how_to_get_it(target: str | None, attr: str | None, program: str,
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NixLaunchError, match=f"`{program}` is not on PATH: install Nix") as err:
        resolve_target(target, attr=attr)
    assert err.value.status == STATUS_USAGE


def test_built_path_without_a_driver(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_EMPTY", "1")
    with pytest.raises(NixLaunchError, match="without bin/nixos-test-driver: is it a NixOS"):
        resolve_target(".#hello")


def test_interrupt_stops_the_build(standin: StandIn, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pidfile = tmp_path / "pid"
    monkeypatch.setenv("STANDIN_PIDFILE", str(pidfile))
    monkeypatch.setenv("STANDIN_GO", str(tmp_path / "never"))

    def progress(line: str) -> None:
        if line.startswith("nixos-test-driver-demo> "):  # the build is under way
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        resolve_target(".#demo", progress=progress)
    assert not Path(f"/proc/{pidfile.read_text()}").exists()


# -- targets already on disk ----------------------------------------------------------------


def test_result_directory_wrapper_and_json(standin: StandIn, tmp_path: Path) -> None:
    built = resolve_target(".#demo")
    assert built.out_path is not None
    result = tmp_path / "result"
    result.symlink_to(built.out_path)
    for given in (result, result / "bin" / "nixos-test-driver", built.config):
        assert not is_nix_target(str(given))
        opened = resolve_target(str(given))
        assert opened.config == built.config
    assert resolve_target(str(result)).log_level == "debug"
    assert resolve_target(str(built.config)).log_level is None
    untyped = tmp_path / "config"
    untyped.write_text(built.config.read_text())
    assert resolve_target(str(untyped)).config == untyped


@pytest.mark.parametrize(("target", "message"), [
    (None, "nothing to open"),
    ("github:o/r", "name the test inside the flake, e.g. github:o/r#checks"),
    ("nowhere/result", "nowhere/result: no such file or directory"),
])
def test_unusable_targets(target: str | None, message: str) -> None:
    with pytest.raises(NixLaunchError, match=message) as err:
        resolve_target(target)
    assert err.value.status == STATUS_USAGE


def test_flake_directory_needs_an_attribute(in_tmp: Path) -> None:
    (in_tmp / "flake.nix").write_text("{ outputs = _: { }; }\n")
    with pytest.raises(NixLaunchError, match=r"It is a flake: name the test, e\.g\. \.#checks"):
        resolve_target(".")


def test_legacy_wrapper_is_explained(tmp_path: Path) -> None:
    wrapper = tmp_path / "nixos-test-driver"
    wrapper.write_text("#!/bin/sh\nexport testScript='/nix/store/x-test-script'\nexec d\n")
    with pytest.raises(NixLaunchError, match="nixpkgs older than April 2026"):
        resolve_target(str(wrapper))


# -- wiring into an argparse command line ---------------------------------------------------


def _parse(words: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_driver_arguments(parser)
    add_nix_arguments(parser)
    args = parser.parse_args(words)
    args.argv = words
    return args


def test_target_from_args_fills_config_and_log_level(standin: StandIn) -> None:
    args = _parse([".#demo"])
    target = target_from_args(args, lambda line: None)
    assert target is not None and args.config == target.config
    assert args.testscript is None and args.log_level == "debug"
    by_file = _parse(["--nix-file", "t.nix", "-A", "t"])
    assert by_file.nix_file == Path("t.nix") and by_file.attr == "t"


def test_target_from_args_keeps_an_explicit_log_level(standin: StandIn) -> None:
    args = _parse(["--log-level=warning", ".#demo"])
    target_from_args(args, lambda line: None)
    assert args.log_level == "warning"


def test_target_from_args_leaves_other_targets_alone(tmp_path: Path) -> None:
    script = tmp_path / "test-script.py"
    script.write_text("start_all()\n")
    args = _parse([str(script)])
    assert target_from_args(args, lambda line: None) is None
    assert args.testscript == str(script) and args.config is None
    with pytest.raises(NixLaunchError, match="either -c/--config or a test"):
        target_from_args(_parse(["-c", "x.json", ".#demo"]), lambda line: None)


# -- the real Nix, building a stand-in test derivation ---------------------------------------


def _stand_in_test(fail: bool = False) -> str:
    """A Nix attrset shaped like a NixOS test: `{ driverInteractive = <drv>; }`."""
    system = f"{platform.machine()}-linux"
    env = 'failBuild = "1";' if fail else ""
    return (f'{{ driverInteractive = derivation {{ name = "nixos-test-driver-demo"; '
            f'system = "{system}"; builder = "{sys.executable}"; '
            f"args = [ ./driver_builder.py ]; {env} }}; }}")


def test_real_nix_builds_a_flake_test(private_store: Path, tmp_path: Path) -> None:
    flake = tmp_path / "flake"
    flake.mkdir()
    shutil.copy(HELPERS / "driver_builder.py", flake)
    system = f"{platform.machine()}-linux"
    (flake / "flake.nix").write_text(
        f"{{ outputs = {{ self }}: {{ checks.{system}.demo = {_stand_in_test()}; }}; }}\n")
    progress: list[str] = []
    target = resolve_target(f"{flake}#checks.{system}.demo", progress=progress.append)
    assert target.out_path is not None
    assert target.out_path.parent == private_store / "store"
    assert target.log_level == "warning"
    config = load_driver_configuration(target.config)
    assert list(config.vms) == ["machine"]
    assert Path(config.test_script).read_text().startswith("start_all()")
    assert "nixos-test-driver-demo> assembling the test driver" in progress


def test_real_nix_build_of_a_nix_file(private_store: Path, tmp_path: Path) -> None:
    shutil.copy(HELPERS / "driver_builder.py", tmp_path)
    test_file = tmp_path / "tests.nix"
    test_file.write_text(f"{{ login = {_stand_in_test()}; }}\n")
    target = resolve_target(None, test_file, "login")
    assert target.config.parent.parent == private_store / "store"
    assert list(load_driver_configuration(target.config).vms) == ["machine"]


def test_real_nix_build_failure(private_store: Path, tmp_path: Path) -> None:
    shutil.copy(HELPERS / "driver_builder.py", tmp_path)
    test_file = tmp_path / "broken.nix"
    test_file.write_text(_stand_in_test(fail=True) + "\n")
    with pytest.raises(NixLaunchError) as failure:
        resolve_target(None, test_file)
    assert failure.value.status == STATUS_BUILD_FAILED
    assert "does not build (stand-in failure)" in str(failure.value)
    assert "failed with exit code 2" in str(failure.value)


# -- what driver.nix needs from the driver package -------------------------------------------


def test_driver_symbols_cover_the_upstream_globals(in_tmp: Path) -> None:
    assert generate_driver_symbols() == 0
    written = (in_tmp / "driver-symbols").read_text().split(",")
    assert written == driver_symbol_names()
    assert UPSTREAM_GLOBALS <= set(written)


def test_demo_script_passes_the_lint_driver_nix_runs() -> None:
    """driver.nix lints with pyflakes, builtins = machine names + driver-symbols; ruff's F
    rules with the same builtins stand in for pyflakes (not a dev dependency here)."""
    ruff = Path(sys.executable).with_name("ruff")
    script = ROOT / "nixtest_tui" / "demo" / "echo-test.py"

    def lint(builtins: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ruff), "check", "--isolated", "--no-cache", "--select", "F",
                               "--config", f"builtins = {json.dumps(builtins)}", str(script)],
                              capture_output=True, text=True)

    assert lint(DEMO_MACHINES + driver_symbol_names()).returncode == 0
    assert "Undefined name `t`" in lint(DEMO_MACHINES + ["start_all", "subtest"]).stdout


def test_translator_keeps_what_a_person_needs() -> None:
    translator = NixLogTranslator()
    quiet = '@nix {"action":"start","id":7,"level":6,"text":"querying info","type":0}'
    assert translator.feed(quiet) == []
    assert translator.feed('@nix {"action":"msg","level":5,"msg":"chatty"}') == []
    assert translator.feed("@nix {not json") == ["@nix {not json"]
    phase = '@nix {"action":"result","id":9,"type":104,"fields":["buildPhase"]}'
    assert translator.feed(phase) == ["build> running buildPhase"]
