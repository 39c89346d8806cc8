"""Driver errors, named and related as upstream names and relates them, so that test scripts can
catch them.

Upstream master has `RequestedAssertionFailed(AssertionError)` and `MachineError(Exception)`,
nothing in between: a script's `except AssertionError` catches every failed `succeed()`, and an
`except` or `isinstance` written against that hierarchy must behave the same here. Older
upstream drivers had a `TestScriptError` base; the name stays importable for scripts written
against them, but nothing derives from it any more, exactly as on master where it is gone.
"""

from __future__ import annotations

from typing import Any


class TestScriptError(Exception):
    """Kept only so that `from test_driver.errors import TestScriptError` keeps importing."""

    __test__ = False  # not a pytest test class, despite the name


class RequestedAssertionFailed(AssertionError):
    """Raised by succeed/fail/wait_* helpers, `retry` and `t.assert*`."""


class MachineError(Exception):
    """A machine or the driver itself misbehaved (QEMU died, a tool is missing, ...)."""


class LeftBlock(BaseException):
    """The script's blocks are being left on the debugger's request (a jump to another line):
    a `with subtest(...)` this passes through was left, not failed, and logs it so."""


class PollingConditionError(Exception):
    """A polling condition failed while the script was running other commands."""


class QMPAPIError(RuntimeError):
    """QEMU answered a QMP command with an error.

    The attributes are upstream's (`class_name`, `description`, `transaction_id`), which
    nixpkgs' own `qmp-api-error` test reads. `transaction_id` is the `id` the *caller* put on
    the command; `QMPSession.send()` never sends one, so it is `None`, as upstream's. The older
    names `error_class`, `desc` and `id` remain as read-only aliases for code that used them.
    """

    def __init__(self, class_name: str, description: str,
                 transaction_id: Any = None) -> None:
        super().__init__(class_name, description, transaction_id)
        self.class_name = class_name
        self.description = description
        self.transaction_id = transaction_id

    def __str__(self) -> str:
        # upstream's wording: CI logs and scripts that match on str(error) see the same text
        return (f"<QMP API error related to transaction {self.transaction_id} "
                f"[{self.class_name}]: {self.description}>")

    @property
    def error_class(self) -> str:
        return self.class_name

    @property
    def desc(self) -> str:
        return self.description

    @property
    def id(self) -> Any:  # noqa: A003 - the old attribute name
        return self.transaction_id


class VLanError(MachineError):
    """A virtual switch could not be started; the message says what to install or check."""


class ConfigError(ValueError):
    """The driver configuration is unusable; the message names the file and the field."""


# Tracebacks name classes by module: show upstream's, which CI users grep for and which the
# `test_driver.errors` alias module (compat.py) exposes while a script runs.
for _error in (TestScriptError, RequestedAssertionFailed, MachineError, PollingConditionError):
    _error.__module__ = "test_driver.errors"
