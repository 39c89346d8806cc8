"""Make `import test_driver...` work inside test scripts run by our driver.

Scripts written for upstream import names such as `from test_driver.errors import
RequestedAssertionFailed`. Rather than installing a top-level `test_driver` package into the
user's environment (it would shadow a real one elsewhere), the driver registers lightweight
alias modules in `sys.modules` while it runs, each exposing our implementations under upstream's
module names, and removes them when the last driver that registered them ends.
"""

from __future__ import annotations

import sys
import threading
import types
from typing import Any

from nixtest_tui.driver import (
    base,
    config,
    duration,
    efi,
    errors,
    logger,
    nspawn,
    polling,
    qemu,
    qmp,
    symbols,
    vlan,
)
from nixtest_tui.driver.retry import script_retry

_lock = threading.Lock()
_users = 0  # drivers inside their `with` block; the aliases go when the last one leaves


class EfiVariable:
    """Placeholder for upstream's EFI variable record; the EFI helpers are not supported yet."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs


def _module(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name, f"nixtest-tui's stand-in for upstream's {name}")
    module.__dict__.update(attributes)
    return module


def install_test_driver_alias(driver_class: type) -> None:
    """Register `test_driver` and its submodules (the Driver class comes from the caller,
    so that this module sits below driver.py rather than in a cycle with it)."""
    global _users
    with _lock:
        _users += 1
        if _users == 1:
            sys.modules.update(_aliases(driver_class))


def remove_test_driver_alias() -> None:
    global _users
    with _lock:
        _users = max(_users - 1, 0)
        if _users == 0:
            for name in [n for n in sys.modules if n == "test_driver"
                         or n.startswith("test_driver.")]:
                del sys.modules[name]


def _aliases(driver_class: type) -> dict[str, types.ModuleType]:
    qmp_module = _module("test_driver.machine.qmp", QMPSession=qmp.QMPSession,
                         QMPAPIError=errors.QMPAPIError)
    efi_module = _module("test_driver.efi", EfiVariable=EfiVariable,
                         UnsupportedMixin=efi.UnsupportedMixin)
    machine_module = _module(
        "test_driver.machine", BaseMachine=base.BaseMachine, QemuMachine=qemu.QemuMachine,
        NspawnMachine=nspawn.NspawnMachine, Machine=qemu.QemuMachine, retry=script_retry,
        qmp=qmp_module,
    )
    machine_module.__path__ = []  # a package, so that `test_driver.machine.qmp` imports
    modules = {
        "test_driver.machine": machine_module,
        "test_driver.machine.qmp": qmp_module,
        "test_driver.errors": _module(
            "test_driver.errors", RequestedAssertionFailed=errors.RequestedAssertionFailed,
            MachineError=errors.MachineError, TestScriptError=errors.TestScriptError,
        ),
        "test_driver.driver": _module("test_driver.driver", Driver=driver_class,
                                      DriverConfiguration=config.DriverConfiguration),
        "test_driver.vlan": _module("test_driver.vlan", VLan=vlan.VLan),
        "test_driver.logger": _module(
            "test_driver.logger", AbstractLogger=logger.AbstractLogger,
            CompositeLogger=logger.CompositeLogger, TerminalLogger=logger.TerminalLogger,
            LogLevel=logger.LogLevel,
        ),
        "test_driver.polling_condition": _module(
            "test_driver.polling_condition", PollingCondition=polling.PollingCondition,
            PollingConditionError=errors.PollingConditionError,
        ),
        "test_driver.duration": _module("test_driver.duration", Duration=duration.Duration,
                                        to_timedelta=duration.to_timedelta),
        "test_driver.efi": efi_module,
        "test_driver.debug": _module("test_driver.debug", DebugNop=symbols.DebugNop,
                                     DebugAbstract=symbols.DebugNop),
    }
    package = _module("test_driver", **{k.split(".")[1]: v for k, v in modules.items()
                                        if k.count(".") == 1})
    package.__path__ = []
    package.Driver = driver_class  # type: ignore[attr-defined]
    return {"test_driver": package, **modules}
