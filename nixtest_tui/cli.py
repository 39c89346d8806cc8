"""`nixtest-tui`: the command line. Each verb is a thin call into a library module."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from nixtest_tui import __version__
from nixtest_tui.demo.network import default_demo_dir
from nixtest_tui.guests.errors import GuestBuildError
from nixtest_tui.guests.image import GuestImage
from nixtest_tui.headless.args import add_driver_arguments
from nixtest_tui.nixlaunch import NixLaunchError, add_nix_arguments, target_from_args
from nixtest_tui.postmortem import VERBS as POST_MORTEM_VERBS
from nixtest_tui.postmortem import add_post_mortem_verbs
from nixtest_tui.project import (
    OUT_DIR,
    NetworkDescriptionError,
    build_project,
    is_project,
    project_directory,
    write_starter,
)

TRACE_NAME = "nixtest-trace.jsonl"

VERBS = ("demo", "guests", "attach", "init", "build", "flaky", *POST_MORTEM_VERBS)
FLAVOURS = ("tiny", "debian")


def _progress(message: str) -> None:
    print(f"nixtest-tui: {message}", file=sys.stderr, flush=True)


def _serial_echo(name: str, line: str) -> None:
    print(f"{name} # {line}", file=sys.stderr, flush=True)


def cmd_open(args: argparse.Namespace) -> int:
    if args.demo:
        demo_dir = Path(args.demo_dir) if args.demo_dir else default_demo_dir()
        args.config = _prepare_demo(demo_dir)
        if args.output_directory == Path.cwd():
            args.output_directory = demo_dir.resolve() / "out"
            args.output_directory.mkdir(exist_ok=True)
    elif is_project(args.testscript):
        try:
            _prepare_project(args)
        except NetworkDescriptionError as exc:
            print(f"nixtest-tui: error: {exc}", file=sys.stderr)
            return 2
    try:
        target_from_args(args, _progress)
    except NixLaunchError as exc:
        print(f"nixtest-tui: error: {exc}", file=sys.stderr)
        return exc.status
    if args.headless:
        from nixtest_tui.headless.run import run

        return run(args, "nixtest-tui", default_trace=Path(TRACE_NAME))
    from nixtest_tui.app import run_tui
    from nixtest_tui.driver.errors import ConfigError
    from nixtest_tui.headless.args import host_problem, resolve_configuration
    from nixtest_tui.session import Session

    try:
        config = resolve_configuration(args)
    except ConfigError as exc:
        print(f"nixtest-tui: error: {exc}", file=sys.stderr)
        return 2
    if problem := host_problem(config):
        print(f"nixtest-tui: error: {problem}", file=sys.stderr)
        return 1
    keep = bool(args.keep_machine_state or args.keep_vm_state)
    session = Session(config, args.output_directory, keep)

    return run_tui(session)


def _prepare_project(args: argparse.Namespace) -> None:
    """`nixtest-tui DIR`: (re)build DIR's start scripts, then open them like `-c`."""
    directory = project_directory(args.testscript)
    args.config = build_project(directory, _progress)
    args.testscript = None
    _progress(f"built {args.config}")
    if args.output_directory == Path.cwd():
        args.output_directory = directory / OUT_DIR
        args.output_directory.mkdir(exist_ok=True)


def cmd_init(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    try:
        written = write_starter(directory)
    except NetworkDescriptionError as exc:
        print(f"nixtest-tui: error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    if args.no_build:
        return 0
    status = cmd_build(args)
    if status == 0:
        print(f"edit them, then: nixtest-tui {directory}   (or nixtest-tui --headless {directory})")
    return status


def cmd_build(args: argparse.Namespace) -> int:
    directory = Path(args.dir).resolve()
    try:
        config = build_project(directory, _progress)
    except NetworkDescriptionError as exc:
        print(f"nixtest-tui: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {config} and the start scripts in {config.parent / 'bin'}")
    return 0


def _prepare_demo(directory: Path) -> Path:
    from nixtest_tui.demo.network import write_demo
    from nixtest_tui.guests.accel import choose_accelerator
    from nixtest_tui.guests.tiny import ensure_tiny

    image = ensure_tiny(_progress)
    accelerator = choose_accelerator(image.kernel)
    _progress(f"accelerator: {accelerator}")
    return write_demo(image, accelerator, directory.resolve())


def _ensure_image(flavour: str, rebuild: bool = False) -> GuestImage:
    if flavour == "debian":
        from nixtest_tui.guests.debian import ensure_debian

        return ensure_debian(_progress, rebuild=rebuild)
    from nixtest_tui.guests.tiny import ensure_tiny

    return ensure_tiny(_progress, rebuild=rebuild)


def cmd_guests_build(args: argparse.Namespace) -> int:
    image = _ensure_image(args.flavour, rebuild=args.rebuild)
    manifest = image.manifest
    print(f"{image.flavour} guest image: {image.directory}")
    print(f"  kernel {manifest['kernel_release']}, initrd {manifest['initrd_bytes']:,} bytes")
    if image.rootfs_image is not None:
        print(f"  root disk {image.rootfs_image} ({manifest['rootfs_image_bytes']:,} bytes), "
              f"tree {image.rootfs_tree}")
    for name, version in manifest["packages"].items():
        print(f"  {name} {version}")
    return 0


def cmd_guests_path(args: argparse.Namespace) -> int:
    print(_ensure_image(args.flavour).directory)
    return 0


def cmd_guests_check(args: argparse.Namespace) -> int:
    from nixtest_tui.guests.accel import choose_accelerator
    from nixtest_tui.guests.check import Check, run_checks
    from nixtest_tui.guests.netspec import MachineSpec, Topology
    from nixtest_tui.guests.startscript import write_network

    image = _ensure_image(args.flavour)
    accelerator = choose_accelerator(image.kernel)
    _progress(f"accelerator: {accelerator}")
    if args.flavour == "debian":
        # one VM: a systemd boot costs ~10 s under TCG, and the VLAN path is the tiny check's
        topology = Topology((MachineSpec("alice"),))
        checks = [
            Check("alice", "systemctl is-system-running --wait", expect_output="running"),
            Check("alice", "systemctl is-active backdoor.service echo.socket",
                  expect_output="active\nactive"),
            Check("alice", "ping -c 1 -W 5 alice"),
            Check("alice", "systemctl start broken.service", should_succeed=False),
            Check("alice", "su -l alice -c 'XDG_RUNTIME_DIR=/run/user/$(id -u) "
                  "systemctl --user start hello-user.service'"),
            Check("alice", "timeout 1 sleep 5", should_succeed=False),
        ]
    else:
        topology = Topology((MachineSpec("alice"), MachineSpec("bob")))
        checks = [
            Check("alice", "ping -c 1 -W 5 bob"),
            Check("bob", "nc -z alice 7"),
            Check("alice", "systemctl is-active echo.service", expect_output="active"),
            Check("bob", "systemctl start broken.service", should_succeed=False),
            Check("alice", "timeout 1 sleep 5", should_succeed=False),
        ]
    with tempfile.TemporaryDirectory(prefix="nixtest-guests-check-") as out:
        config = write_network(topology, image, accelerator, Path(out), "start_all()\n")
        results = run_checks(config, checks, _progress, _serial_echo if args.verbose else None)
    return 0 if all(r.passed for r in results) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from nixtest_tui.demo.network import write_demo
    from nixtest_tui.guests.accel import choose_accelerator
    from nixtest_tui.guests.tiny import ensure_tiny
    from nixtest_tui.headless.run import run

    image = ensure_tiny(_progress)
    accelerator = choose_accelerator(image.kernel)
    _progress(f"accelerator: {accelerator}")
    demo_dir = (Path(args.dir) if args.dir else default_demo_dir()).resolve()
    config = write_demo(image, accelerator, demo_dir)
    out_dir = demo_dir / "out"
    out_dir.mkdir(exist_ok=True)
    _progress(f"demo network written: {config}; running it headless (the TUI is not there yet)")
    driver_args = build_parser().parse_args(
        ["--headless", "-c", str(config), "-o", str(out_dir), "--junit-xml", "junit.xml"]
    )
    status = run(driver_args, "nixtest-tui", default_trace=Path(TRACE_NAME))
    _progress(f"demo finished with exit status {status}; JUnit and trace in {out_dir}")
    return status


def build_parser() -> argparse.ArgumentParser:
    """`nixtest-tui [--headless] [driver options] [TARGET]`: open (or run) a test."""
    parser = argparse.ArgumentParser(
        prog="nixtest-tui",
        description="A terminal-UI debugger and drop-in driver for NixOS-style VM tests. "
        "TARGET is a flake attribute, a built driver (./result), a driver configuration "
        "JSON, or a directory with a network.toml (see `nixtest-tui init DIR`), which is "
        "built first. Other commands: `nixtest-tui init DIR`, `nixtest-tui build DIR`, "
        "`nixtest-tui demo`, `nixtest-tui guests build|path|check` (each has --help).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="open the bundled three-machine demo (built on first use)")
    parser.add_argument("--demo-dir", default=None, metavar="DIR",
                        help="where --demo writes bin/run-<name>-vm, test-script and "
                        "driver-configuration.json, results in DIR/out (default: "
                        "demo-network in the cache, $NIXTEST_CACHE_DIR or "
                        "~/.cache/nixtest-tui)")
    parser.add_argument("--headless", action="store_true",
                        help="run the test without the UI, exactly like nixos-test-driver, "
                        f"and record a trace ({TRACE_NAME} in the output directory)")
    add_driver_arguments(parser)
    add_nix_arguments(parser)
    parser.set_defaults(func=cmd_open)
    return parser


def cmd_attach(args: argparse.Namespace) -> int:
    from nixtest_tui.debugger.attach import attach

    return attach(Path(args.socket))


def build_verb_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nixtest-tui")
    verbs = parser.add_subparsers(title="commands", metavar="COMMAND")
    add_post_mortem_verbs(verbs)
    from nixtest_tui.flaky_ui.command import add_flaky_verb

    add_flaky_verb(verbs)
    attach = verbs.add_parser(
        "attach", help="attach to a headless run stopped by --break-on-failure",
        description="Evaluate Python in the failing frame, then :retry, :skip or :fail.")
    attach.add_argument("socket", help="the socket path the run printed")
    attach.set_defaults(func=cmd_attach)

    demo = verbs.add_parser(
        "demo", help="build the guests and run the bundled three-machine demo test",
        description="Build (or reuse) the tiny guest image, write the demo's nixpkgs-shaped "
        "start scripts, test script and driver configuration into --dir, and run the test "
        "headless (JUnit and trace in DIR/out).",
    )
    demo.add_argument("--dir", default=None,
                      help="where to write bin/run-<name>-vm, test-script and "
                      "driver-configuration.json (default: demo-network in the cache, "
                      "$NIXTEST_CACHE_DIR or ~/.cache/nixtest-tui)")
    demo.set_defaults(func=cmd_demo)

    init = verbs.add_parser(
        "init", help="start a test of your own: DIR/network.toml and DIR/test.py",
        description="Write a starter network description (network.toml: machines, VLANs, "
        "flavour, memory, QEMU options) and test script (test.py) into DIR, then build them "
        "(DIR/build/bin/run-<name>-vm and DIR/build/driver-configuration.json). Open the test "
        "with `nixtest-tui DIR`, run it with `nixtest-tui --headless DIR`.")
    init.add_argument("dir", metavar="DIR", help="the directory to write (created if missing)")
    init.add_argument("--no-build", action="store_true",
                      help="only write the two files (no guest image needed)")
    init.set_defaults(func=cmd_init)
    build_dir = verbs.add_parser(
        "build", help="turn DIR/network.toml into start scripts and a driver configuration",
        description="Write DIR/build/bin/run-<name>-vm (run-<name>-nspawn for containers) and "
        "DIR/build/driver-configuration.json from DIR/network.toml, building the guest images "
        "it needs. `nixtest-tui DIR` and `nixtest-tui --headless DIR` do this first anyway.")
    build_dir.add_argument("dir", metavar="DIR", help="the directory holding network.toml")
    build_dir.set_defaults(func=cmd_build)

    guests = verbs.add_parser("guests", help="build, locate and check the test guest images")
    guest_verbs = guests.add_subparsers(title="guest commands", metavar="GUEST_COMMAND",
                                        required=True)
    build = guest_verbs.add_parser(
        "build", help="build a guest image into the cache (reused when up to date)")
    build.add_argument("--rebuild", action="store_true", help="build even if cached")
    build.set_defaults(func=cmd_guests_build)
    path = guest_verbs.add_parser("path", help="print the cached image's directory")
    path.set_defaults(func=cmd_guests_path)
    check = guest_verbs.add_parser(
        "check", help="boot guests and check the guest contract on this host (tiny: two "
        "guests on a VLAN; debian: one systemd guest)")
    check.add_argument("-v", "--verbose", action="store_true", help="show the serial consoles")
    check.set_defaults(func=cmd_guests_check)
    for command in (build, path, check):
        command.add_argument(
            "--flavour", choices=FLAVOURS, default="tiny",
            help="tiny: busybox initramfs, ~3 s boot (default); debian: bookworm with real "
            "systemd, ~10 s boot, needs root to build")
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words and words[0] in VERBS:
        args = build_verb_parser().parse_args(words)
    else:
        args = build_parser().parse_args(words)
        args.argv = words
    try:
        return int(args.func(args))
    except GuestBuildError as exc:
        print(f"nixtest-tui: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nixtest-tui: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
