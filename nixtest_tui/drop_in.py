"""`nixos-test-driver`: the drop-in name for upstream's driver, headless."""

from __future__ import annotations

import argparse
import sys

from nixtest_tui.headless.args import add_driver_arguments


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nixos-test-driver",
        description="Run a NixOS VM test (nixtest-tui's drop-in for the upstream driver).",
    )
    add_driver_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    from nixtest_tui.headless.run import run

    args = build_parser().parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    return run(args, "nixos-test-driver")


if __name__ == "__main__":
    sys.exit(main())
