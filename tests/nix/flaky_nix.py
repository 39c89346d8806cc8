"""A STAND-IN for `nix` and `nix-build`, for tests/unit/test_flaky_nix.py only.

No Nix store here, so a test derivation cannot really be rebuilt. This records its arguments
and plays back one canned outcome per call, in order:
  FLAKY_NIX_RECORD  file to append {"program", "argv"} lines to (JSON lines)
  FLAKY_NIX_PLAN    comma-separated outcomes, e.g. "pass,fail,pass"; a call takes the next
  FLAKY_NIX_TRACE   a gzipped trace to put into a passing build's out path
  FLAKY_NIX_STORE   directory in which to create out paths
"""

import fcntl
import gzip
import json
import os
import sys
from pathlib import Path

PROGRAM = os.environ.get("FLAKY_NIX_PROGRAM", "nix")  # set by the nix / nix-build shims


def next_outcome(record: Path) -> tuple[int, str]:
    with open(record, "a+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        file.seek(0)
        number = sum(1 for _ in file)
        file.write(json.dumps({"program": PROGRAM, "argv": sys.argv[1:]}) + "\n")
    plan = os.environ["FLAKY_NIX_PLAN"].split(",")
    return number, plan[number % len(plan)]


def main() -> int:
    number, outcome = next_outcome(Path(os.environ["FLAKY_NIX_RECORD"]))
    drv = f"/nix/store/{number:032d}-vm-test-run-demo.drv"
    print(f"building '{drv}'...", file=sys.stderr)
    if outcome == "fail":
        print("vm-test-run-demo> client: must succeed: ping -c 1 server", file=sys.stderr)
        print(f"error: builder for '{drv}' failed with exit code 1", file=sys.stderr)
        return 1
    out = Path(os.environ["FLAKY_NIX_STORE"]) / f"{number:032d}-vm-test-run-demo"
    out.mkdir(parents=True)
    (out / "nixtest-trace.jsonl").write_bytes(
        gzip.decompress(Path(os.environ["FLAKY_NIX_TRACE"]).read_bytes()))
    (out / "junit.xml").write_text("<testsuites/>\n")
    if PROGRAM == "nix-build":
        print(out)
    else:
        print(json.dumps([{"drvPath": drv, "outputs": {"out": str(out)}}]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
