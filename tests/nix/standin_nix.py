"""A STAND-IN for the `nix` and `nix-build` executables, for tests/test_nix.py only.

These machines have no Nix store and no nixpkgs, so a NixOS test's driver cannot really be
built here. This program replaces only that build step: it records its arguments, prints
progress in Nix's `--log-format internal-json` shape, and "builds" an out path that looks like
a built `driverInteractive` (a `bin/nixos-test-driver` wrapper whose `--config` names a
generated driver configuration). Everything else in the launch path is the real code.

Controlled by environment variables set by the test:
  STANDIN_RECORD  file to write {"program", "argv"} into (JSON)
  STANDIN_OUT     directory in which to create the out path
  STANDIN_FAIL    if set: fail like a broken build (error on stderr, exit status 1)
  STANDIN_GO      if set: after the first progress lines, wait until this file exists
  STANDIN_PIDFILE if set: write the process id there
  STANDIN_HANG    if set: sleep for a minute before "building"
  STANDIN_EMPTY   if set: build an out path without bin/nixos-test-driver
"""

import json
import os
import sys
import time
from pathlib import Path

HASH = "0123456789abcdfghijklmnpqrsvwxyz"
DRV = f"/nix/store/{HASH}-nixos-test-driver-demo.drv"


def nix_log(**event: object) -> None:
    print("@nix " + json.dumps(event), file=sys.stderr, flush=True)


def build(out_root: Path) -> Path:
    out = out_root / f"{HASH}-nixos-test-driver-demo"
    (out / "bin").mkdir(parents=True, exist_ok=True)
    if os.environ.get("STANDIN_EMPTY"):
        return out
    config = out / "driver-configuration.json"
    config.write_text(json.dumps({
        "vms": {"machine": {"name": "machine", "start_script": f"{out}/bin/run-machine-vm"}},
        "containers": {}, "vlans": [1], "global_timeout": 600,
        "enable_ssh_backdoor": False, "test_script": f"{out}/test-script",
    }))
    (out / "test-script").write_text("start_all()\n")
    wrapper = out / "bin" / "nixos-test-driver"
    wrapper.write_text(
        "#! /nix/store/aaaa-bash/bin/bash -e\n"
        'exec -a "$0" "/nix/store/bbbb-nixtest-tui/bin/.nixos-test-driver-wrapped"  '
        f"--config {config} --log-level debug --interactive \"$@\"\n"
    )
    wrapper.chmod(0o755)
    return out


def main() -> int:
    program = Path(sys.argv[0]).name
    Path(os.environ["STANDIN_RECORD"]).write_text(
        json.dumps({"program": program, "argv": sys.argv[1:]}))
    if os.environ.get("STANDIN_PIDFILE"):
        Path(os.environ["STANDIN_PIDFILE"]).write_text(str(os.getpid()))
    if os.environ.get("STANDIN_HANG"):
        time.sleep(60)
    nix_log(action="msg", level=3, msg="this derivation will be built:")
    nix_log(action="start", id=1, level=0, text="", type=104)
    nix_log(action="start", id=2, level=3, text=f"building '{DRV}'", type=105,
            fields=[DRV, "", 1, 1])
    nix_log(action="result", id=2, type=101, fields=["hello from the builder"])
    print("a plain line, as an older Nix might print", file=sys.stderr, flush=True)
    go = os.environ.get("STANDIN_GO")
    if go:
        deadline = time.monotonic() + 20
        while not Path(go).exists():
            if time.monotonic() > deadline:
                print("error: nobody read the progress while the build ran", file=sys.stderr)
                return 3
            time.sleep(0.02)
    if os.environ.get("STANDIN_FAIL"):
        nix_log(action="msg", level=0,
                msg=f"\x1b[31;1merror:\x1b[0m builder for '{DRV}' failed with exit code 2")
        return 1
    nix_log(action="result", id=1, type=105, fields=[1, 1, 0, 0])
    out = build(Path(os.environ["STANDIN_OUT"]))
    if program == "nix":
        print(json.dumps([{"drvPath": DRV, "outputs": {"out": str(out)}}]))
    else:
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
