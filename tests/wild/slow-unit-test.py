# machines: worker
# log: worker: waiting for unit slow.service
# A unit that needs a while: --no-block starts, list-jobs, and retry() told the seconds left.
import time
from datetime import timedelta

worker.wait_for_unit("echo.service")

with subtest("a unit that is still activating"):
    worker.succeed("systemctl start --no-block slow.service")
    t.assertEqual(worker.get_unit_property("slow.service", "ActiveState"), "activating")
    t.assertIn("slow.service", worker.succeed("systemctl list-jobs"))
    worker.wait_for_unit("slow.service", timeout=timedelta(seconds=30))
    t.assertIn("No jobs", worker.succeed("systemctl list-jobs"))

with subtest("retry() until the journal says so"):
    seen = []

    def slow_reported_ready(remaining: float | None) -> bool:
        status, journal = worker.execute("journalctl -u slow.service")
        seen.append(remaining)
        if remaining is not None and remaining < 2:
            worker.log(f"journal of slow.service so far: {journal!r}")
        return status == 0 and "slow service ready" in journal

    retry(slow_reported_ready, timeout=timedelta(seconds=20))
    t.assertTrue(all(r is not None and 0 < r <= 20 for r in seen), seen)
    t.assertEqual(seen, sorted(seen, reverse=True), "the time left only shrinks")

with subtest("a blocking restart takes as long as the unit needs"):
    started = time.monotonic()
    worker.succeed("systemctl restart slow.service")
    t.assertGreaterEqual(time.monotonic() - started, 2.5)
    worker.require_unit_state("slow.service")
    ready_lines = worker.succeed("journalctl -u slow.service | grep -c 'slow service ready'")
    t.assertEqual(ready_lines.strip(), "2")
