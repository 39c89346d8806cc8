"""Make each failing statement of a script retryable: the AST rewrite behind pause-on-failure.

A statement that calls something is wrapped, keeping its line numbers, as

    while True:
        try:
            <statement>
        except BaseException as error:
            action = __nixtest_debugger__.on_failure(error, <line>)
            if action == "retry": continue
            if action == "skip": break
            raise
        break

so that after a failure the paused script can re-run exactly that statement (after the user
fixed something in the guest), skip it, or fail as it would have. Only simple statements are
wrapped: compound ones, `return`/`break`/`continue` and statements inside a user `try` or a
non-subtest `with` (which may swallow the exception on purpose, e.g. `t.assertRaises`) are left
alone, and so is any statement without a call, so hot pure-Python loops stay fast.
"""

from __future__ import annotations

import ast
from typing import Any

HOOK = "__nixtest_debugger__"
_SIMPLE = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Assert, ast.Delete)


def _calls_something(node: ast.stmt) -> bool:
    return any(isinstance(child, ast.Call) for child in ast.walk(node))


def _is_subtest_with(node: ast.With) -> bool:
    return any(isinstance(item.context_expr, ast.Call)
               and isinstance(item.context_expr.func, ast.Name)
               and item.context_expr.func.id == "subtest" for item in node.items)


class _Wrapper(ast.NodeTransformer):
    def __init__(self) -> None:
        self.protected = 0  # depth of user try blocks / swallowing with blocks around us

    def _wrap(self, node: ast.stmt) -> Any:
        if self.protected or not isinstance(node, _SIMPLE) or not _calls_something(node):
            return node
        line = node.lineno
        template = ast.parse(
            "while True:\n"
            "    try:\n"
            "        pass\n"
            "    except BaseException as __nixtest_error__:\n"
            f"        __nixtest_action__ = {HOOK}.on_failure(__nixtest_error__, {line})\n"
            "        if __nixtest_action__ == 'retry':\n"
            "            continue\n"
            "        if __nixtest_action__ == 'skip':\n"
            "            break\n"
            "        raise\n"
            "    break\n"
        ).body[0]
        assert isinstance(template, ast.While)
        attempt = template.body[0]
        assert isinstance(attempt, ast.Try)
        attempt.body = [node]
        for child in ast.walk(template):
            if child is not node and hasattr(child, "lineno") and not _inside(child, node):
                ast.copy_location(child, node)
                child.end_lineno = node.lineno  # type: ignore[attr-defined]
        return template

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for field, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, field, [self._visit_statement(s) for s in value])
            elif isinstance(value, ast.AST):
                self.visit(value)
        return node

    def _visit_statement(self, node: ast.stmt) -> Any:
        protects = isinstance(node, ast.Try | ast.TryStar) or (
            isinstance(node, ast.With | ast.AsyncWith)
            and not (isinstance(node, ast.With) and _is_subtest_with(node))
        )
        if protects:
            self.protected += 1
            try:
                self.generic_visit(node)
            finally:
                self.protected -= 1
            return node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            outer, self.protected = self.protected, 0  # a function body runs elsewhere
            try:
                self.generic_visit(node)
            finally:
                self.protected = outer
            return node
        self.generic_visit(node)
        return self._wrap(node)


def _inside(child: ast.AST, node: ast.AST) -> bool:
    return any(child is descendant for descendant in ast.walk(node))


def make_retryable(text: str, filename: str = "<string>") -> Any:
    """Compile `text` with every eligible statement wrapped; line numbers are unchanged."""
    tree = _Wrapper().visit(ast.parse(text, filename))
    ast.fix_missing_locations(tree)
    return compile(tree, filename, "exec")


def protected_lines(text: str) -> set[int]:
    """Lines inside a user `try` body or a non-subtest `with` body: failures there are handled."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        bodies: list[list[ast.stmt]] = []
        if isinstance(node, ast.Try | ast.TryStar):
            bodies.append(node.body)
        elif isinstance(node, ast.With | ast.AsyncWith) and not (
                isinstance(node, ast.With) and _is_subtest_with(node)):
            bodies.append(node.body)
        for body in bodies:
            for statement in body:
                end = statement.end_lineno or statement.lineno
                lines.update(range(statement.lineno, end + 1))
    return lines
