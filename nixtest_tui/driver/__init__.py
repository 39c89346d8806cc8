"""The machine controller: a drop-in re-implementation of the NixOS test driver, UI-free."""

from nixtest_tui.driver import polling as polling_condition
from nixtest_tui.driver.base import BaseMachine
from nixtest_tui.driver.config import DriverConfiguration, load_driver_configuration
from nixtest_tui.driver.driver import Driver
from nixtest_tui.driver.errors import MachineError, RequestedAssertionFailed
from nixtest_tui.driver.nspawn import NspawnMachine
from nixtest_tui.driver.polling import PollingCondition
from nixtest_tui.driver.qemu import QemuMachine
from nixtest_tui.driver.retry import retry
from nixtest_tui.driver.vlan import VLan

__all__ = [
    "BaseMachine",
    "Driver",
    "DriverConfiguration",
    "MachineError",
    "NspawnMachine",
    "PollingCondition",
    "QemuMachine",
    "RequestedAssertionFailed",
    "VLan",
    "load_driver_configuration",
    "polling_condition",
    "retry",
]
