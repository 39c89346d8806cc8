"""A breakpoint and the rules deciding what it does when its line runs: stop, log, or nothing.

The order is the one debuggers agree on: the condition first (a hit is only counted where it
holds), then the hit condition on that count, then either a pause or, for a log point, a
message written instead of pausing. Everything the user types is compiled when it is set, so a
typo is refused with a message at once rather than found a thousand lines into a run; what can
still fail (a name that does not exist in that frame) stops the run with the error, because a
condition that silently never holds looks exactly like code that is never reached.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType, FrameType

_HIT = re.compile(r"^\s*(==|>=|>|<=|<|!=|%)?\s*(\d+)\s*$")
_COMPARISONS: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq, ">=": operator.ge, ">": operator.gt, "<=": operator.le,
    "<": operator.lt, "!=": operator.ne, "%": lambda hits, n: hits % n == 0,
}


class InvalidBreakpoint(ValueError):
    """A condition, hit condition or log message that cannot work; the message says why."""


@dataclass
class Breakpoint:
    """`hit_condition`: "5" (from the 5th hit on), "== 5", ">= 5", "% 3" (every third) ...;
    `log_message`: a template such as "counter is {counter}" that makes this a log point;
    `error`: why the last evaluation of the condition or template failed, shown to the user."""

    line: int
    condition: str | None = None
    enabled: bool = True
    hits: int = 0
    hit_condition: str | None = None
    log_message: str | None = None
    error: str = ""

    @property
    def kind(self) -> str:
        """"disabled", "log point", "conditional" or "plain": how the gutter marks it."""
        if not self.enabled:
            return "disabled"
        if self.log_message:
            return "log point"
        return "conditional" if self.condition or self.hit_condition else "plain"

    def visit(self, frame: FrameType) -> Visit:
        """The line of this (enabled) breakpoint is about to run in `frame`."""
        try:
            holds = not self.condition or bool(
                eval(compiled_condition(self.condition), frame.f_globals, frame.f_locals))  # noqa: S307
        except Exception as exc:  # the user's expression may raise anything
            self.error = f"condition {self.condition!r} failed: {describe(exc)}"
            return Visit(stop=self.error)
        if not holds:
            return Visit()
        self.hits += 1
        if not hit_condition_holds(self.hit_condition, self.hits):
            return Visit()
        if not self.log_message:
            return Visit(stop="breakpoint")
        try:
            message = eval(compiled_template(self.log_message), frame.f_globals, frame.f_locals)  # noqa: S307
        except Exception as exc:
            self.error = f"log message {self.log_message!r} failed: {describe(exc)}"
            return Visit(stop=self.error, log=self.error, failed=True)
        self.error = ""
        return Visit(log=str(message))


@dataclass(frozen=True)
class Visit:
    """What a visit asks for: `stop` (the pause reason, or ""), `log` (a line for the log)."""

    stop: str = ""
    log: str | None = None
    failed: bool = False


def describe(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()
    return type(exc).__name__ + (f": {first[0]}" if first else "")


def check_condition(text: str | None) -> str | None:
    """The condition, normalised ("" is none); raises InvalidBreakpoint if it cannot compile."""
    if text is None or not text.strip():
        return None
    try:
        compiled_condition(text.strip())
    except SyntaxError as exc:
        raise InvalidBreakpoint(f"the condition is not a Python expression: {exc.msg}") from None
    return text.strip()


def check_hit_condition(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    match = _HIT.match(text)
    if match is None or (match.group(1) == "%" and int(match.group(2)) == 0):
        raise InvalidBreakpoint(
            f"hit condition {text.strip()!r}: write a count such as 5 (from the 5th hit on), "
            "== 5, >= 5, < 5 or % 3 (every third hit)")
    return text.strip()


def check_log_message(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    try:
        compiled_template(text)
    except SyntaxError as exc:
        raise InvalidBreakpoint(f"the log message is not a valid template: {exc.msg} "
                                "(write {name} for a value, {{ for a brace)") from None
    return text


def hit_condition_holds(text: str | None, hits: int) -> bool:
    if not text:
        return True
    match = _HIT.match(text)
    if match is None:  # (checked when it was set)
        return True
    comparison, number = match.group(1), int(match.group(2))
    if comparison is None:
        return hits >= number
    return _COMPARISONS[comparison](hits, number)


@functools.lru_cache(maxsize=256)
def compiled_condition(text: str) -> CodeType:
    return compile(text, "<breakpoint condition>", "eval")


@functools.lru_cache(maxsize=256)
def compiled_template(text: str) -> CodeType:
    """The template as the f-string it reads as: `{expr}` and `{expr!r:>8}` work as there."""
    return compile("f" + repr(text), "<log point>", "eval")


_CHECKS: dict[str, Callable[[str | None], str | None]] = {
    "condition": check_condition, "hit_condition": check_hit_condition,
    "log_message": check_log_message,
}


def checked_changes(**changes: str | bool | None) -> dict[str, str | bool | None]:
    """`changes` to a breakpoint's settings, each validated; raises InvalidBreakpoint."""
    checked: dict[str, str | bool | None] = {}
    for name, value in changes.items():
        if name == "enabled":
            checked[name] = bool(value)
        elif name in _CHECKS and (value is None or isinstance(value, str)):
            checked[name] = _CHECKS[name](value)
        else:
            raise InvalidBreakpoint(f"a breakpoint has no setting {name}={value!r}")
    return checked


def apply_changes(breakpoint_: Breakpoint, changes: dict[str, str | bool | None]) -> None:
    for name, value in changes.items():
        setattr(breakpoint_, name, value)
    breakpoint_.error = ""
