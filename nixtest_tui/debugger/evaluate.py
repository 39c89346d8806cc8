"""Running the user's Python in a paused script frame, and completing names for the UI."""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import io
import keyword
import re
import traceback
from dataclasses import dataclass
from types import FrameType

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class EvalResult:
    """`output`: what was printed plus the value's repr (as a REPL shows it); `error`: traceback."""

    source: str
    output: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def evaluate_in_namespace(namespace: dict[str, object], source: str) -> EvalResult:
    """The same as evaluate_in, for a plain namespace (no paused frame: an idle session)."""
    printed = io.StringIO()
    try:
        try:
            compiled, is_expression = compile(source, "<evaluation>", "eval"), True
        except SyntaxError:
            compiled, is_expression = compile(source, "<evaluation>", "exec"), False
        with contextlib.redirect_stdout(printed):
            value = eval(compiled, namespace)  # noqa: S307 - the user's
        output = printed.getvalue()
        if is_expression and value is not None:
            output += repr(value)
        return EvalResult(source, output)
    except BaseException:
        return EvalResult(source, printed.getvalue(), traceback.format_exc(limit=-3))


def evaluate_in(frame: FrameType, source: str) -> EvalResult:
    """Evaluate an expression or run statements with the frame's globals and locals.

    Assignments to a function frame's locals are written back (PyFrame_LocalsToFast), so the
    script continues with the changed values, as in pdb.
    """
    namespace_locals = frame.f_locals
    printed = io.StringIO()
    try:
        try:
            compiled = compile(source, "<evaluation>", "eval")
            is_expression = True
        except SyntaxError:
            compiled = compile(source, "<evaluation>", "exec")
            is_expression = False
        with contextlib.redirect_stdout(printed):
            value = eval(compiled, frame.f_globals, namespace_locals)  # noqa: S307 - the user's
        if namespace_locals is not frame.f_globals:  # (re-reading f_locals would reset it)
            ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))
        output = printed.getvalue()
        if is_expression and value is not None:
            output += repr(value)
        return EvalResult(source, output)
    except BaseException:  # the user's code may raise anything, even SystemExit
        return EvalResult(source, printed.getvalue(), traceback.format_exc(limit=-3))


def completions(frame: FrameType, text: str) -> list[str]:
    """Names (or `obj.attr` names) that complete `text`, without calling anything."""
    return complete_in_namespace({**frame.f_globals, **frame.f_locals}, text)


def complete_in_namespace(scope: dict[str, object], text: str) -> list[str]:
    match = _TOKEN.search(text)
    token = match.group(0) if match else ""
    if "." not in token:
        names = set(scope) | set(dir(builtins)) | set(keyword.kwlist)
        return sorted(n for n in names if n.startswith(token) and not n.startswith("__"))
    head, partial = token.rsplit(".", 1)
    parts = head.split(".")
    if parts[0] not in scope:
        return []
    obj: object = scope[parts[0]]
    for part in parts[1:]:
        try:
            obj = getattr(obj, part)
        except Exception:
            return []
    return sorted(f"{head}.{name}" for name in dir(obj)
                  if name.startswith(partial) and not name.startswith("_"))
