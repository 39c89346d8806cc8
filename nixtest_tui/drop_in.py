"""`nixos-test-driver`: the drop-in name for upstream's driver (not implemented yet)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print(
        "nixos-test-driver (nixtest-tui): the drop-in driver is not implemented yet in this "
        "version; see `nixtest-tui --help` for what works today.",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
