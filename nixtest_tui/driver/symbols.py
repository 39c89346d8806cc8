"""Pieces of the test script's namespace: names, `t`, `debug` and the `machine` alias."""

from __future__ import annotations

import unittest
import warnings
from typing import Any

from nixtest_tui.driver.base import BaseMachine
from nixtest_tui.driver.errors import RequestedAssertionFailed


def pythonize_name(name: str) -> str:
    """A machine name as a Python identifier: `web-1` → `web_1`, `1st` → `_st`."""
    head = name[:1] if (name[:1].isalpha() and name[:1].isascii()) or name[:1] == "_" else "_"
    return head + "".join(c if (c.isascii() and c.isalnum()) or c == "_" else "_"
                          for c in name[1:])


class DebugNop:
    """Upstream's default debugger: `debug.breakpoint()` does nothing without a debug hook."""

    def breakpoint(self, host: str = "127.0.0.1", port: int = 4444) -> None:
        pass


class AssertionTestCase(unittest.TestCase):
    """`t` in scripts: unittest's asserts, failing like the driver's own assertions."""

    failureException = RequestedAssertionFailed
    maxDiff = None

    def runTest(self) -> None:  # noqa: N802 - unittest's name
        pass


class MachineDeprecationWrapper:
    """The implicit `machine` alias of a single-machine test; upstream deprecates it."""

    def __init__(self, machine: BaseMachine) -> None:
        object.__setattr__(self, "_machine", machine)
        object.__setattr__(self, "_warned", False)

    def _warn(self) -> None:
        if not self._warned:
            object.__setattr__(self, "_warned", True)
            name = pythonize_name(self._machine.name)
            warnings.warn(f"Using `machine` for the only machine `{name}` is deprecated and will "
                          f"no longer work in NixOS 27.05; use `{name}` instead", UserWarning,
                          stacklevel=3)

    def __getattr__(self, attribute: str) -> Any:
        self._warn()
        return getattr(self._machine, attribute)

    def __setattr__(self, attribute: str, value: Any) -> None:
        self._warn()
        setattr(self._machine, attribute, value)

    def __repr__(self) -> str:
        return repr(self._machine)
