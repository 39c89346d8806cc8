# machines: app
# expect: exit 1
# log: app: waiting for unit broken.service
# log: !!! Test "all services come up" failed with error: \
# "unit "broken.service" reached state "failed""
# log: !!! Traceback (most recent call last):
# log: !!!   File "<string>", line 27, in <module>
# log: !!!     wait_for_services(app, "echo.service", "broken.service")
# log: !!!   File "<string>", line 20, in wait_for_services
# log: !!!     machine.wait_for_unit(unit, timeout=timedelta(seconds=30))
# log: !!! RequestedAssertionFailed: unit "broken.service" reached state "failed"
# EXPECTED TO FAIL: wait_for_unit gives up at once when the unit fails, through a helper.
from datetime import timedelta

from test_driver.machine import BaseMachine


def wait_for_services(machine: BaseMachine, *units: str) -> None:
    for unit in units:
        machine.wait_for_unit(unit, timeout=timedelta(seconds=30))


app.start()
app.succeed("systemctl start --no-block broken.service")

with subtest("all services come up"):
    wait_for_services(app, "echo.service", "broken.service")
