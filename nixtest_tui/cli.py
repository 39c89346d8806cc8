"""`nixtest-tui`: the command line. Each verb is a thin call into a library module."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from nixtest_tui import __version__
from nixtest_tui.guests.errors import GuestBuildError

NOT_YET = (
    "nixtest-tui: the test driver and the TUI are not implemented yet in this version.\n"
    "What works today: `nixtest-tui demo` builds the guest image, writes the demo's start\n"
    "scripts and driver configuration, boots the three demo machines and checks them;\n"
    "`nixtest-tui guests build|check|path` manages the guest images."
)


def _progress(message: str) -> None:
    print(f"nixtest-tui: {message}", file=sys.stderr, flush=True)


def _serial_echo(name: str, line: str) -> None:
    print(f"{name} # {line}", file=sys.stderr, flush=True)


def cmd_open(args: argparse.Namespace) -> int:
    print(NOT_YET, file=sys.stderr)
    return 2


def cmd_guests_build(args: argparse.Namespace) -> int:
    from nixtest_tui.guests.tiny import ensure_tiny

    image = ensure_tiny(_progress, rebuild=args.rebuild)
    manifest = image.manifest
    print(f"tiny guest image: {image.directory}")
    print(f"  kernel {manifest['kernel_release']}, initrd {manifest['initrd_bytes']:,} bytes")
    for name, version in manifest["packages"].items():
        print(f"  {name} {version}")
    return 0


def cmd_guests_path(args: argparse.Namespace) -> int:
    from nixtest_tui.guests.tiny import ensure_tiny

    print(ensure_tiny(_progress).directory)
    return 0


def cmd_guests_check(args: argparse.Namespace) -> int:
    from nixtest_tui.guests.accel import choose_accelerator
    from nixtest_tui.guests.check import Check, run_checks
    from nixtest_tui.guests.startscript import write_network
    from nixtest_tui.guests.tiny import ensure_tiny
    from nixtest_tui.guests.topology import MachineSpec, Topology

    image = ensure_tiny(_progress)
    accelerator = choose_accelerator(image.kernel)
    _progress(f"accelerator: {accelerator}")
    topology = Topology((MachineSpec("alice"), MachineSpec("bob")))
    with tempfile.TemporaryDirectory(prefix="nixtest-guests-check-") as out:
        config = write_network(topology, image, accelerator, Path(out), "start_all()\n")
        checks = [
            Check("alice", "ping -c 1 -W 5 bob"),
            Check("bob", "nc -z alice 7"),
            Check("alice", "systemctl is-active echo.service", expect_output="active"),
            Check("bob", "systemctl start broken.service", should_succeed=False),
            Check("alice", "timeout 1 sleep 5", should_succeed=False),
        ]
        results = run_checks(config, checks, _progress, _serial_echo if args.verbose else None)
    return 0 if all(r.passed for r in results) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from nixtest_tui.demo.network import write_demo
    from nixtest_tui.guests.accel import choose_accelerator
    from nixtest_tui.guests.check import Check, run_checks
    from nixtest_tui.guests.tiny import ensure_tiny

    image = ensure_tiny(_progress)
    accelerator = choose_accelerator(image.kernel)
    _progress(f"accelerator: {accelerator}")
    out_dir = Path(args.dir).resolve()
    config = write_demo(image, accelerator, out_dir)
    _progress(f"demo network written: {config}")
    _progress("the driver is not implemented yet: booting the demo machines with the bring-up "
              "check instead of running test-script")
    checks = [
        Check("server", "systemctl is-active echo.service", expect_output="active"),
        Check("client", "ping -c 1 -W 5 server"),
        Check("client", "echo hello | nc -w 2 server 7", expect_output="hello"),
        Check("outsider", "ping -c 1 -W 5 192.168.2.1"),
        Check("outsider", "ping -c 1 -W 2 192.168.1.3", should_succeed=False),
    ]
    results = run_checks(config, checks, _progress, _serial_echo if args.verbose else None)
    return 0 if all(r.passed for r in results) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nixtest-tui",
        description="A terminal-UI debugger and drop-in driver for NixOS-style VM tests.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(func=cmd_open)
    verbs = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = verbs.add_parser(
        "demo", help="build the guests and boot the bundled three-machine demo",
        description="Build (or reuse) the tiny guest image, write the demo's nixpkgs-shaped "
        "start scripts and driver configuration into --dir, boot the machines and check them.",
    )
    demo.add_argument("--dir", default="demo-network",
                      help="where to write the demo's scripts (default: ./demo-network)")
    demo.add_argument("-v", "--verbose", action="store_true", help="show the serial consoles")
    demo.set_defaults(func=cmd_demo)

    guests = verbs.add_parser("guests", help="build, locate and check the test guest images")
    guest_verbs = guests.add_subparsers(title="guest commands", metavar="GUEST_COMMAND",
                                        required=True)
    build = guest_verbs.add_parser(
        "build", help="build the tiny guest image into the cache (reused when up to date)")
    build.add_argument("--rebuild", action="store_true", help="build even if cached")
    build.set_defaults(func=cmd_guests_build)
    path = guest_verbs.add_parser("path", help="print the cached image's directory")
    path.set_defaults(func=cmd_guests_path)
    check = guest_verbs.add_parser(
        "check", help="boot two guests on a VLAN and check the guest contract on this host")
    check.add_argument("-v", "--verbose", action="store_true", help="show the serial consoles")
    check.set_defaults(func=cmd_guests_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
