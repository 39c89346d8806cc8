"""Running the user's Python in a paused script frame, and completing names for the UI."""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import inspect
import io
import keyword
import re
import traceback
from dataclasses import dataclass, field
from types import CodeType, FrameType

from nixtest_tui.driver.driver import SCRIPT_FILENAME
from nixtest_tui.driver.tracebacks import user_traceback

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*$")
_CALLEE = re.compile(r"(?<![\w.)\]])[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
EVALUATION_FILENAME = "<evaluation>"


@dataclass(frozen=True)
class EvalResult:
    """`output`: what was printed plus the value's repr (as a REPL shows it); `error`: only the
    user's frames of the traceback. `value` is kept (`has_value`) so a UI can present it its
    own way, and `printed` alone so it need not take the repr back apart."""

    source: str
    output: str
    error: str = ""
    value: object = field(default=None, compare=False)
    has_value: bool = False
    printed: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True)
class CallableHelp:
    """What a REPL shows about the callable being typed: `wait_for_unit(unit, ...)` and the
    first paragraph of its docstring."""

    name: str
    signature: str
    summary: str


def evaluate_in_namespace(namespace: dict[str, object], source: str,
                          script: str = "") -> EvalResult:
    """The same as evaluate_in, for a plain namespace (no paused frame: an idle session)."""
    return _run(source, namespace, None, script)


def evaluate_in(frame: FrameType, source: str, script: str = "") -> EvalResult:
    """Evaluate an expression or run statements with the frame's globals and locals.

    Assignments to a function frame's locals are written back (PyFrame_LocalsToFast), so the
    script continues with the changed values, as in pdb. `script` is the test script's text,
    for the source lines of its frames in a traceback.
    """
    namespace_locals = frame.f_locals
    result = _run(source, frame.f_globals, namespace_locals, script)
    if namespace_locals is not frame.f_globals:  # (re-reading f_locals would reset it)
        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))
    return result


def _run(source: str, globals_: dict[str, object], locals_: dict[str, object] | None,
         script: str) -> EvalResult:
    printed = io.StringIO()
    try:
        compiled, is_expression = _compile(source)
        with contextlib.redirect_stdout(printed):
            value = eval(compiled, globals_, locals_)  # noqa: S307 - the user's
    except BaseException as exc:  # the user's code may raise anything, even SystemExit
        return EvalResult(source, printed.getvalue(), _user_error(exc, source, script),
                          printed=printed.getvalue())
    text = printed.getvalue()
    if is_expression and value is not None:
        return EvalResult(source, text + repr(value), value=value, has_value=True, printed=text)
    return EvalResult(source, text, printed=text)


def _compile(source: str) -> tuple[CodeType, bool]:
    try:
        return compile(source, EVALUATION_FILENAME, "eval"), True
    except SyntaxError:
        return compile(source, EVALUATION_FILENAME, "exec"), False


def _user_error(exc: BaseException, source: str, script: str) -> str:
    """The traceback as the headless log writes it: the evaluated text's frames and the
    script's, never the driver's or this module's (whose line numbers mean nothing here)."""
    if isinstance(exc, SyntaxError) and exc.filename == EVALUATION_FILENAME:
        return "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
    return user_traceback(exc, {EVALUATION_FILENAME: source, SCRIPT_FILENAME: script})


def completions(frame: FrameType, text: str) -> list[str]:
    """Names (or `obj.attr` names) that complete `text`, without calling anything."""
    return complete_in_namespace(frame_scope(frame), text)


def frame_scope(frame: FrameType) -> dict[str, object]:
    return {**frame.f_globals, **frame.f_locals}


def complete_in_namespace(scope: dict[str, object], text: str) -> list[str]:
    match = _TOKEN.search(text)
    token = match.group(0) if match else ""
    if "." not in token:
        names = set(scope) | set(dir(builtins)) | set(keyword.kwlist)
        return sorted(n for n in names if n.startswith(token) and not n.startswith("__"))
    head, partial = token.rsplit(".", 1)
    obj = _resolve(scope, head)
    if obj is None:
        return []
    return sorted(f"{head}.{name}" for name in dir(obj)
                  if name.startswith(partial) and not name.startswith("_"))


def _resolve(scope: dict[str, object], dotted: str) -> object | None:
    """The object a dotted name stands for, by lookups and getattr only (nothing is called)."""
    first, *rest = dotted.split(".")
    if first in scope:
        obj = scope[first]
    elif hasattr(builtins, first):
        obj = getattr(builtins, first)
    else:
        return None
    for part in rest:
        try:
            obj = getattr(obj, part)
        except Exception:
            return None
    return obj


def describe_callable(scope: dict[str, object], text: str) -> CallableHelp | None:
    """The callable whose arguments are being typed at the end of `text` (`server.succeed(`,
    `f(a, g(1), `), else the one whose name is being typed; None when there is none."""
    callee = _callee_name(text)
    if callee is None:
        return None
    obj = _resolve(scope, callee)
    if obj is None or not callable(obj):
        return None
    try:
        signature = _unquoted(inspect.signature(obj))
    except (TypeError, ValueError):
        signature = "(...)"
    return CallableHelp(callee.rsplit(".", 1)[-1], signature, _first_paragraph(obj))


class _Written:
    """An annotation kept as text (`from __future__ import annotations`, which the driver's
    modules and, through compile(), test scripts have), shown as written rather than quoted."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _unquoted(signature: inspect.Signature) -> str:
    def plain(annotation: object) -> object:
        return _Written(annotation) if isinstance(annotation, str) else annotation

    parameters = [p.replace(annotation=plain(p.annotation))
                  for p in signature.parameters.values()]
    return str(signature.replace(parameters=parameters,
                                 return_annotation=plain(signature.return_annotation)))


def _callee_name(text: str) -> str | None:
    opening = _innermost_open_paren(text)
    head = text if opening is None else text[:opening]
    match = _CALLEE.search(head)
    return match.group(0) if match else None


def _innermost_open_paren(text: str) -> int | None:
    """Where the innermost bracket still open at the end of `text` is, if it is a `(`
    (brackets inside string literals do not count)."""
    stack: list[int] = []
    quote = ""
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif text.startswith(quote, index):
                index += len(quote) - 1
                quote = ""
        elif char in "\"'":
            quote = char * 3 if text.startswith(char * 3, index) else char
            index += len(quote) - 1
        elif char == "#":
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
        elif char in "([{":
            stack.append(index)
        elif char in ")]}" and stack:
            stack.pop()
        index += 1
    if stack and text[stack[-1]] == "(":
        return stack[-1]
    return None


def _first_paragraph(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    paragraph = doc.strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines())
