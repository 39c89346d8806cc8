"""Driver errors, named as upstream names them so that test scripts can catch them."""

from __future__ import annotations


class TestScriptError(Exception):
    """A failure that is the test's fault; it gets the short, script-only traceback."""

    __test__ = False  # not a pytest test class, despite the name


class RequestedAssertionFailed(TestScriptError):
    """Raised by succeed/fail/wait_* helpers, `retry` and `t.assert*`."""


class MachineError(Exception):
    """A machine or the driver itself misbehaved (QEMU died, a tool is missing, ...)."""


class VLanError(MachineError):
    """A virtual switch could not be started; the message says what to install or check."""
