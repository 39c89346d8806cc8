"""`-I/--interactive`: a Python REPL over the test's namespace, as upstream's ptpython shell.

Nothing starts by itself and no global timeout is armed; a failing `test_script()` raises
SystemExit, which the REPL reports and survives. History lives in ./.nixos-test-history.
"""

from __future__ import annotations

import code
import sys
from pathlib import Path
from typing import Any

from nixtest_tui.driver.driver import Driver

HISTORY = Path.cwd() / ".nixos-test-history"


class _SurvivingConsole(code.InteractiveConsole):
    """`test_script()` ends with sys.exit(1) on failure; in a REPL that must not end the session."""

    def runcode(self, code_object: Any) -> None:
        try:
            exec(code_object, self.locals)  # noqa: S102 - it is a REPL
        except SystemExit as exc:
            print(f"(the script exited with status {exc.code}; the session goes on)",
                  file=sys.stderr)
        except BaseException:
            self.showtraceback()


def run_repl(driver: Driver) -> None:
    namespace = driver.test_symbols()
    try:
        from ptpython.ipython import embed  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        embed = None
    if embed is not None:
        embed(user_ns=namespace, history_filename=str(HISTORY))
        return
    try:
        import readline

        if HISTORY.exists():
            readline.read_history_file(HISTORY)
    except (ImportError, OSError):
        readline = None  # type: ignore[assignment]
    try:
        _SurvivingConsole(namespace).interact(
            banner="nixtest-tui REPL: start_all(), test_script(), machines, ... (Ctrl-D quits)",
            exitmsg="",
        )
    finally:
        if readline is not None:
            readline.write_history_file(HISTORY)
