# machines: client
# expect: exit 1
# log: client: waiting for success: nc -z localhost 8080
# log: !!! Test "the app listens on 8080" failed with error: "action timed out after
# log: !!!   File "<string>", line 12, in <module>
# log: !!! RequestedAssertionFailed: action timed out after
# log: seconds (timeout=3.0)
# EXPECTED TO FAIL: nothing ever listens on port 8080, so the wait times out.
from datetime import timedelta

with subtest("the app listens on 8080"):
    client.wait_until_succeeds("nc -z localhost 8080", timeout=timedelta(seconds=3))
