# machines: worker
# log: worker: waiting for file '/tmp/marker'
# log: worker: waiting for TCP port 7 on localhost to be closed
# log: worker: waiting for failure: test -e /tmp/lock
# The wait_* helpers against things that change in the background, and their timeouts.
import time
from datetime import timedelta

from test_driver.errors import RequestedAssertionFailed

worker.wait_for_unit("multi-user.target")

with subtest("wait_for_file sees a file created later"):
    worker.succeed("(sleep 1; echo done > /tmp/marker) >/dev/null 2>&1 &")
    worker.wait_for_file("/tmp/marker", timeout=timedelta(seconds=30))
    t.assertEqual(worker.succeed("cat /tmp/marker"), "done\n")

with subtest("wait_until_succeeds returns the output of the successful attempt"):
    worker.succeed("(for i in 1 2 3; do sleep .5; echo $i >>/tmp/counter; done) >/dev/null 2>&1 &")
    out = worker.wait_until_succeeds("grep -qx 3 /tmp/counter && cat /tmp/counter",
                                     timeout=timedelta(seconds=30))
    t.assertEqual(out.split(), ["1", "2", "3"])

with subtest("wait_until_fails"):
    worker.succeed("touch /tmp/lock", "(sleep 1; rm /tmp/lock) >/dev/null 2>&1 &")
    worker.wait_until_fails("test -e /tmp/lock", timeout=timedelta(seconds=30))

with subtest("ports close and open with their unit"):
    worker.stop_job("echo.service")
    worker.wait_for_closed_port(7, timeout=timedelta(seconds=20))
    worker.start_job("echo.service")
    worker.wait_for_open_port(7, timeout=timedelta(seconds=20))

with subtest("sleep() is guest time"):
    before = float(worker.succeed("cut -d' ' -f1 /proc/uptime"))
    worker.sleep(duration=timedelta(seconds=1))
    after = float(worker.succeed("cut -d' ' -f1 /proc/uptime"))
    t.assertGreaterEqual(after - before, 1.0)

with subtest("a command that outlives its timeout"):
    status, _ = worker.execute("sleep 30", timeout=timedelta(seconds=2))
    t.assertEqual(status, 124)  # what coreutils' timeout reports

with subtest("retry gives up at its deadline, without a call after it"):
    attempts = []

    def never(remaining: float | None) -> bool:
        attempts.append(remaining)
        return worker.execute("test -e /tmp/never")[0] == 0

    started = time.monotonic()
    with t.assertRaises(RequestedAssertionFailed) as raised:
        retry(never, timeout=timedelta(seconds=2))
    t.assertRegex(str(raised.exception),
                  r"^action timed out after \d+\.\d\d seconds \(timeout=2\.0\)$")
    t.assertLess(time.monotonic() - started, 10)
    t.assertGreaterEqual(len(attempts), 2)
    # no call after the deadline: every attempt had time left (upstream's newest retry)
    t.assertTrue(all(r is not None and 0 < r <= 2 for r in attempts), attempts)
