"""What the script is made of, from its AST: statements and `with subtest(...)` blocks.

The UI lists subtests with their line ranges and the debugger validates breakpoints against
statement lines: a breakpoint on a blank line, a comment or inside a multi-line expression moves
to the next line where a statement starts (pudb's "possibly invalid breakpoint", done quietly).
"""

from __future__ import annotations

import ast
from bisect import bisect_left
from dataclasses import dataclass


@dataclass(frozen=True)
class Subtest:
    name: str
    line: int
    end_line: int


@dataclass(frozen=True)
class ScriptModel:
    statement_lines: tuple[int, ...]
    subtests: tuple[Subtest, ...]
    line_count: int
    with_blocks: tuple[tuple[int, int], ...] = ()
    """(header line, last body line) of every `with`: its exit runs on the header line again."""
    source_lines: tuple[str, ...] = ()

    @staticmethod
    def parse(text: str) -> ScriptModel:
        tree = ast.parse(text, "<string>")
        lines = sorted({node.lineno for node in ast.walk(tree) if isinstance(node, ast.stmt)})
        subtests = tuple(
            Subtest(name, node.lineno, node.end_lineno or node.lineno)
            for node in ast.walk(tree)
            if isinstance(node, ast.With) and (name := _subtest_name(node)) is not None
        )
        withs = tuple(sorted((node.lineno, node.end_lineno or node.lineno)
                             for node in ast.walk(tree) if isinstance(node, ast.With)))
        return ScriptModel(tuple(lines), tuple(sorted(subtests, key=lambda s: s.line)),
                           len(text.splitlines()), withs, tuple(text.splitlines()))

    def statement_at(self, line: int) -> str:
        """The source of `line`, stripped, for messages such as "skipped by the user: ..."."""
        return self.source_lines[line - 1].strip() if 0 < line <= len(self.source_lines) else ""

    def breakpoint_line(self, line: int) -> int | None:
        """The statement line a breakpoint on `line` stops at, or None past the last one."""
        at = bisect_left(self.statement_lines, line)
        return self.statement_lines[at] if at < len(self.statement_lines) else None

    def subtest_at(self, line: int) -> Subtest | None:
        """The innermost subtest block containing `line`."""
        inside = [s for s in self.subtests if s.line <= line <= s.end_line]
        return max(inside, key=lambda s: s.line) if inside else None


def _subtest_name(node: ast.With) -> str | None:
    for item in node.items:
        call = item.context_expr
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id == "subtest" and call.args):
            first = call.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                return first.value
            return ast.unparse(first)
    return None
