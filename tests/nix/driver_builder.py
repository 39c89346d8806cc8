"""Builder of a STAND-IN NixOS test derivation, built by the REAL Nix in tests/test_nix.py.

Without nixpkgs a real NixOS test cannot be evaluated here, so the test's Nix expression is a
plain `derivation` whose builder (this script) lays out what nixpkgs' driver.nix produces: an
out path with `bin/nixos-test-driver` (a makeWrapper-style wrapper carrying `--config` and
`--log-level`), the driver configuration JSON, the test script and a start script. Nix itself,
its command line, its log stream and its out paths are real.
"""

import json
import os
import sys
from pathlib import Path


def main() -> int:
    out = Path(os.environ["out"])
    if os.environ.get("failBuild"):
        print("the test's driver does not build (stand-in failure)", file=sys.stderr)
        return 2
    print("assembling the test driver")
    (out / "bin").mkdir(parents=True)
    start = out / "bin" / "run-machine-vm"
    start.write_text("#!/bin/sh\nexit 0\n")
    (out / "test-script").write_text("start_all()\nmachine.succeed('true')\n")
    config = out / "driver-configuration.json"
    config.write_text(json.dumps({
        "vms": {"machine": {"name": "machine", "start_script": str(start)}},
        "containers": {}, "vlans": [], "global_timeout": 3600,
        "enable_ssh_backdoor": False, "test_script": str(out / "test-script"),
    }))
    wrapper = out / "bin" / "nixos-test-driver"
    wrapper.write_text(f'#!/bin/sh\nexec nixos-test-driver --config {config} '
                       f'--log-level warning --interactive "$@"\n')
    wrapper.chmod(0o755)
    return 0


if __name__ == "__main__":
    sys.exit(main())
