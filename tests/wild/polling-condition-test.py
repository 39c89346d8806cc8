# machines: server
# log: Checking polling condition 'echo.service keeps answering'
# log: Polling condition succeeded: echo.service keeps answering
# log: waiting for slow.service finished
# log: (slow.service finished failure not fatal yet)
# Background invariants with @polling_condition, and waiting on a condition with .wait().
from datetime import timedelta

server.wait_for_unit("echo.service")


@polling_condition
def echo_is_up():
    "echo.service keeps answering"
    server.succeed("nc -z localhost 7")


@polling_condition(interval=timedelta(seconds=1), description="slow.service finished")
def slow_is_active() -> bool:
    status, _ = server.execute("systemctl is-active --quiet slow.service")
    return status == 0


with subtest("conditions are inactive outside their block"):
    t.assertEqual(driver.polling_conditions, [])
    echo_is_up()  # the decorated function can still be called directly

with subtest("work while the invariant is watched"):
    with echo_is_up:
        t.assertEqual(len(driver.polling_conditions), 1)
        server.succeed("systemctl start hello.service")
        server.sleep(duration=timedelta(seconds=3))  # let the condition fall due again
        server.wait_for_unit("hello.service")
        reply = server.succeed("echo ping | timeout 5 nc -w 1 localhost 7")
        t.assertEqual(reply.strip(), "ping")
    t.assertEqual(driver.polling_conditions, [])

with subtest("waiting for a condition to hold"):
    server.succeed("systemctl start --no-block slow.service")
    slow_is_active.wait(timeout=timedelta(seconds=30))
    server.require_unit_state("slow.service", "active")
