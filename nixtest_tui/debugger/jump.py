"""Run from here: the script from a chosen line on, as code to run in the paused run's globals.

Why not `frame.f_lineno = N`: CPython refuses a jump into or out of the `while`/`try` blocks
that transform.py wraps around statements, and into any block at all. Instead the run's `exec`
is ended by an exception (`Jumped`) and a new code object is run in the same globals: the
script's text with every line before the target blanked, so that line numbers (breakpoints,
the pane, tracebacks) stay those of the file.

Where a jump may land: a statement at the top level, or one directly in the body of a
`with subtest(...)` block (nested ones too): that subtest is entered again and runs only its
remaining statements. Anywhere else is refused, because there is no honest way to be there
without what came before: inside a loop (which iteration?), an `if` (its condition did not run),
a `try` (its handlers would guard a partial body), a function body (it runs when called).
"""

from __future__ import annotations

import ast
from bisect import bisect_left
from types import CodeType

from nixtest_tui.debugger.commands import Jump
from nixtest_tui.debugger.transform import make_retryable
from nixtest_tui.driver.driver import SCRIPT_FILENAME
from nixtest_tui.driver.errors import LeftBlock

__all__ = ["JumpRefused", "Jumped", "compile_from", "source_from"]


class JumpRefused(Exception):
    """A line a jump cannot land on; the message says where the user can jump instead."""


class Jumped(LeftBlock):
    """Raised into the paused script to end its `exec`; the runner then runs the command's code.

    A `LeftBlock`, so a `with subtest(...)` it passes through logs that it was left, not that
    it failed; a BaseException, so neither the script nor the retry wrappers handle it."""

    def __init__(self, command: Jump) -> None:
        super().__init__(command.note)
        self.command = command


def compile_from(text: str, line: int) -> tuple[int, CodeType]:
    """The statement line a jump to `line` lands on, and the code that runs from there."""
    target, source = source_from(text, line)
    return target, make_retryable(source, SCRIPT_FILENAME)


def source_from(text: str, line: int) -> tuple[int, str]:
    """`text` with the lines before the landing statement blanked, but for the headers of the
    subtest blocks around it; raises JumpRefused for a line a jump cannot land on."""
    tree = ast.parse(text, SCRIPT_FILENAME)
    target = _next_statement(tree, line)
    body, headers = tree.body, []
    while True:
        statement = next(s for s in body if _first_line(s) <= target <= _last_line(s))
        if target in (statement.lineno, _first_line(statement)):
            break
        if not _enterable(statement):
            raise JumpRefused(_inside(statement, target))
        assert isinstance(statement, ast.With)
        headers.append(statement)
        body = statement.body
    kept = {n for h in headers for n in range(h.lineno, h.body[0].lineno)}
    first = _first_line(statement)
    lines = [text if number >= first or number in kept else ""
             for number, text in enumerate(text.splitlines(), start=1)]
    return statement.lineno, "\n".join(lines) + "\n"


def _next_statement(tree: ast.Module, line: int) -> int:
    """Like a breakpoint, a jump to a blank line or a comment goes to the next statement."""
    starts: list[int] = sorted({n.lineno for n in ast.walk(tree) if isinstance(n, ast.stmt)})
    at = bisect_left(starts, line)
    if at == len(starts):
        raise JumpRefused(f"no statement on or after line {line}: nothing to run from there")
    return starts[at]


def _first_line(statement: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(statement, "decorator_list", [])
    return min([statement.lineno, *(d.lineno for d in decorators)])


def _last_line(statement: ast.stmt) -> int:
    return statement.end_lineno or statement.lineno


def _enterable(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.With) and _is_subtest(statement)
            and statement.body[0].lineno > statement.lineno)


def _is_subtest(statement: ast.With) -> bool:
    return any(isinstance(item.context_expr, ast.Call)
               and isinstance(item.context_expr.func, ast.Name)
               and item.context_expr.func.id == "subtest" for item in statement.items)


def _inside(statement: ast.stmt, target: int) -> str:
    start = _first_line(statement)
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return (f"line {target} is in the body of {statement.name} (line {start}), which runs "
                f"when it is called: set a breakpoint on line {target} and continue instead")
    kind = {ast.For: "loop", ast.AsyncFor: "loop", ast.While: "loop", ast.If: "if block",
            ast.Try: "try block", ast.TryStar: "try block", ast.With: "with block",
            ast.AsyncWith: "with block", ast.Match: "match block"}.get(type(statement), "block")
    return (f"line {target} is inside the {kind} at line {start} (a jump lands on a top-level "
            f"line or in a subtest's body): jump to line {start}, or set a breakpoint on "
            f"line {target} and continue")
