"""Driver errors, named as upstream names them so that test scripts can catch them.

Upstream's `RequestedAssertionFailed` derives from `AssertionError` (scripts catch it that way);
`TestScriptError` is kept as a common base for "the test's fault" failures.
"""

from __future__ import annotations


class TestScriptError(Exception):
    """A failure that is the test's fault; it gets the short, script-only traceback."""

    __test__ = False  # not a pytest test class, despite the name


class RequestedAssertionFailed(TestScriptError, AssertionError):
    """Raised by succeed/fail/wait_* helpers, `retry` and `t.assert*`."""


class MachineError(Exception):
    """A machine or the driver itself misbehaved (QEMU died, a tool is missing, ...)."""


class PollingConditionError(Exception):
    """A polling condition failed while the script was running other commands."""


class QMPAPIError(RuntimeError):
    """QEMU answered a QMP command with an error (`class` and `desc` from the reply)."""

    def __init__(self, error_class: str, desc: str, msg_id: object = None) -> None:
        super().__init__(f"{error_class}: {desc}")
        self.error_class = error_class
        self.desc = desc
        self.id = msg_id


class VLanError(MachineError):
    """A virtual switch could not be started; the message says what to install or check."""


class ConfigError(ValueError):
    """The driver configuration is unusable; the message names the file and the field."""


# Tracebacks name classes by module: show upstream's, which CI users grep for and which the
# `test_driver.errors` alias module (compat.py) exposes while a script runs.
for _error in (TestScriptError, RequestedAssertionFailed, MachineError, PollingConditionError):
    _error.__module__ = "test_driver.errors"
