"""`nixtest-tui replay` and `nixtest-tui report`: the post-mortem verbs.

Kept out of cli.py so that the verbs' wiring sits with nothing else; cli.py only registers
them. Both take a headless run's output directory or its trace file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

VERBS = ("replay", "report")


def cmd_replay(args: argparse.Namespace) -> int:
    from nixtest_tui.replay.errors import TraceError
    from nixtest_tui.replay_ui.app import run_replay

    try:
        return run_replay(Path(args.trace), at_failure=not args.start)
    except TraceError as exc:
        print(f"nixtest-tui: error: {exc}", file=sys.stderr)
        return 2


def cmd_report(args: argparse.Namespace) -> int:
    from nixtest_tui.replay.errors import TraceError
    from nixtest_tui.report import write_report

    try:
        written = write_report(Path(args.trace), Path(args.output))
    except TraceError as exc:
        print(f"nixtest-tui: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"nixtest-tui: error: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"nixtest-tui: report written: {written}", file=sys.stderr)
    return 0


def add_post_mortem_verbs(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = verbs.add_parser(
        "replay", help="replay a headless run's trace in the TUI (read-only, with a timeline)",
        description="Open OUT_DIR (a headless run's output directory) or its trace file in "
        "the TUI's layout, driven by a timeline: every pane shows the state at the chosen "
        "time. Opens on the failure, if there is one.")
    replay.add_argument("trace", metavar="OUT_DIR|TRACE")
    replay.add_argument("--start", action="store_true",
                        help="open at the start of the run instead of at the failure")
    replay.set_defaults(func=cmd_replay)
    report = verbs.add_parser(
        "report", help="write a self-contained HTML report of a headless run",
        description="One HTML file with the summary, subtests, failure, timeline, consoles "
        "and screenshots; no external files, no network access.")
    report.add_argument("trace", metavar="OUT_DIR|TRACE")
    report.add_argument("-o", "--output", default="report.html", metavar="FILE",
                        help="where to write it (default: ./report.html)")
    report.set_defaults(func=cmd_report)
