# machines: server
# expect: raise PollingConditionError
# log: Polling condition failed: echo answers on port 7
# log: !!! Test "maintenance keeps echo alive" failed with error: \
# "Polling condition failed: echo answers on port 7"
# EXPECTED TO FAIL: a watched invariant breaks, and the next command raises.
from datetime import timedelta

server.wait_for_unit("echo.service")


@polling_condition(interval=timedelta(seconds=1))
def echo_alive():
    "echo answers on port 7"
    server.succeed("nc -z localhost 7")


with subtest("maintenance keeps echo alive"):
    with echo_alive:
        server.succeed("echo ping | timeout 5 nc -w 1 localhost 7")
        server.stop_job("echo.service")
        server.sleep(duration=timedelta(seconds=2))
        server.succeed("cat /etc/hostname")
