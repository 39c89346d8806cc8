"""`nixtest-tui flaky`: resolve the test once, then hand the hunt to the TUI or to plain lines.

Lives beside the live view rather than in `nixtest_tui.flaky`, which stays free of Textual.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import threading
from pathlib import Path

from nixtest_tui.flaky.chaos import (
    ChaosPlan,
    check_machines,
    parse_cpu_starve,
    parse_delay,
    parse_loss,
    parse_slow_boot,
    wrap_configuration,
)
from nixtest_tui.flaky.errors import FlakyError
from nixtest_tui.flaky.launch import HeadlessLauncher, Launcher, NixLauncher, require_nix
from nixtest_tui.flaky.runner import Hunter, default_jobs
from nixtest_tui.flaky.summary import Summary
from nixtest_tui.headless.args import add_driver_arguments

DEFAULT_OUT = "flaky-out"


def add_flaky_verb(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from nixtest_tui.nixlaunch import add_nix_arguments

    flaky = verbs.add_parser(
        "flaky", help="run a test many times in parallel to provoke and explain a flake",
        description="Run the test N times, J at a time, each isolated (own state root and "
        "sockets; own network namespace as root), with OUT/run-NNN/ holding each run's trace, "
        "JUnit and log. Shows the pass rate, subtests, failures grouped by statement and "
        "error, and where failing runs part from passing ones. Exit status 0 when every "
        "run passed, 1 otherwise. Takes the target of a headless run (-c, ./result, DIR, "
        "FLAKE#ATTR) or --demo.")
    flaky.add_argument("--demo", action="store_true", help="hunt in the bundled demo test")
    flaky.add_argument("--runs", type=int, default=10, metavar="N", help="runs (default 10)")
    flaky.add_argument("--jobs", type=int, default=None, metavar="J",
                       help="runs at once (default: what the cores and memory allow)")
    flaky.add_argument("--until-fail", action="store_true",
                       help="stop (ending the runs in progress) at the first failing run")
    flaky.add_argument("--json", type=Path, metavar="FILE", help="write the summary as JSON")
    flaky.add_argument("--plain", action="store_true",
                       help="progress lines instead of the live view (the default off a tty)")
    flaky.add_argument("--runner", choices=("local", "nix"), default="local",
                       help="nix: each run is `nix build ATTR --rebuild` (or `nix-build "
                       "--check` with --nix-file), spread over your remote builders")
    chaos = flaky.add_argument_group("chaos knobs (recorded with the seed in run-NNN/chaos.json)")
    chaos.add_argument("--net-delay", metavar="50ms[±20ms]",
                       help="delay every VLAN link through vde2's wirefilter")
    chaos.add_argument("--net-loss", metavar="2%", help="drop this share of VLAN packets")
    chaos.add_argument("--cpu-starve", action="append", default=[], metavar="NAME:30%",
                       help="let this VM's QEMU use only this share of one core")
    chaos.add_argument("--slow-boot", action="append", default=[], metavar="NAME:5s",
                       help="start this VM this much later")
    chaos.add_argument("--seed", type=int, default=None,
                       help="base seed (run N gets seed+N; default: random, printed)")
    add_driver_arguments(flaky)
    add_nix_arguments(flaky)
    for action in flaky._actions:
        if action.dest == "output_directory":  # OUT is created here, not required to exist
            action.type, action.default = Path, None
            action.help = f"OUT: where run-NNN/ go, created if missing (default ./{DEFAULT_OUT})"
    flaky.set_defaults(func=cmd_flaky)


def chaos_plan(args: argparse.Namespace) -> ChaosPlan:
    delay, jitter = parse_delay(args.net_delay) if args.net_delay else (0.0, 0.0)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    return ChaosPlan(delay, jitter, parse_loss(args.net_loss) if args.net_loss else 0.0,
                     dict(parse_cpu_starve(s) for s in args.cpu_starve),
                     dict(parse_slow_boot(s) for s in args.slow_boot), seed)


def _progress(message: str) -> None:
    print(f"nixtest-tui flaky: {message}", file=sys.stderr, flush=True)


def resolve_config(args: argparse.Namespace, out_dir: Path) -> Path:
    """The driver configuration every run uses: the demo's, a project's, or a built test's."""
    from nixtest_tui.nixlaunch import NixLaunchError, target_from_args
    from nixtest_tui.project import (
        NetworkDescriptionError,
        build_project,
        is_project,
        project_directory,
    )

    if args.demo:
        from nixtest_tui.demo.network import write_demo
        from nixtest_tui.guests.accel import choose_accelerator
        from nixtest_tui.guests.tiny import ensure_tiny

        image = ensure_tiny(_progress)
        return write_demo(image, choose_accelerator(image.kernel), out_dir / "network")
    if is_project(args.testscript):
        try:
            return build_project(project_directory(args.testscript), _progress)
        except NetworkDescriptionError as exc:
            raise FlakyError(str(exc)) from None
    try:
        target_from_args(args, _progress)
    except NixLaunchError as exc:
        raise FlakyError(str(exc)) from None
    if args.config is not None:
        return Path(args.config).resolve()
    if args.testscript:
        from nixtest_tui.headless.args import config_from_wrapper

        return config_from_wrapper(Path(args.testscript))[0].resolve()
    raise FlakyError("no test: give --demo, -c driverConfiguration.json, ./result, a test "
                     "directory or FLAKE#ATTR")


def _headless_options(args: argparse.Namespace) -> list[str]:
    extra = ["--log-level", args.log_level]
    if args.trace_screens:
        extra += ["--trace-screens", str(args.trace_screens)]
    return extra


def build_hunter(args: argparse.Namespace) -> Hunter:
    out_dir = Path(args.output_directory or DEFAULT_OUT).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = chaos_plan(args)
    launcher: Launcher
    config: Path | None = None
    if args.runner == "nix":
        if plan.active:
            raise FlakyError("chaos knobs need the local runner (they wrap the VMs' start "
                             "scripts on this host); drop them or --runner nix")
        attr = args.attr or args.testscript
        if not attr:
            raise FlakyError("--runner nix needs the test's attribute: FLAKE#ATTR, or "
                             "--nix-file FILE -A ATTR")
        nix = NixLauncher(attr, args.nix_file)
        require_nix(nix)
        launcher = nix
    else:
        config = resolve_config(args, out_dir)
        if plan.active:
            import json

            check_machines(plan, set(json.loads(config.read_text()).get("vms", {})))
            config = wrap_configuration(config, out_dir / "chaos")
        launcher = HeadlessLauncher(config, _headless_options(args))
    jobs = args.jobs if args.jobs else default_jobs(config)
    if args.runs < 1 or jobs < 1:
        raise FlakyError("--runs and --jobs must be at least 1")
    _progress(f"{args.runs} runs, {jobs} at a time, into {out_dir}; {plan.describe()} "
              f"(seed {plan.seed}); {launcher.isolation}")
    return Hunter(launcher, out_dir, args.runs, jobs, args.until_fail, plan)


def hunt_plain(hunter: Hunter) -> Summary:
    """Progress lines for logs and CI; Ctrl-C (or SIGTERM) ends the runs and still reports."""
    shown: set[int] = set()

    def changed(summary: Summary) -> None:
        for outcome in summary.finished:
            if outcome.number not in shown:
                shown.add(outcome.number)
                word = "passed" if outcome.passed else f"FAILED: {outcome.message}"
                print(f"{outcome.name} {word} ({outcome.wall_seconds:.1f}s)", flush=True)
        print(summary.progress_line(), flush=True)

    hunter.on_change = changed

    def interrupted(signum: int, _frame: object) -> None:
        hunter.stop(f"stopped by {signal.Signals(signum).name}")

    previous = {s: signal.signal(s, interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker = threading.Thread(target=hunter.hunt, name="flaky-hunter")
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return hunter.summary


def print_report(summary: Summary) -> None:
    print(summary.progress_line())
    if summary.stopped_early:
        print(f"stopped early: {summary.stopped_early}")
    for stats in summary.subtests():
        spread = "" if stats.spread is None else "  " + stats.spread.describe()
        print(f"  subtest {stats.name!r}: {stats.passed}/{stats.total}{spread}")
    for group in summary.groups():
        names = ", ".join(o.name for o in group.runs)
        print(f"  {len(group.runs)} failed at {group.statement}: {group.message} ({names})")
        found = summary.divergence(group.runs[0])
        if found is not None:
            print("    first divergence of " + group.runs[0].name + ": "
                  + found.first.describe().replace("\n", "\n    "))


def cmd_flaky(args: argparse.Namespace) -> int:
    try:
        hunter = build_hunter(args)
    except FlakyError as exc:
        print(f"nixtest-tui flaky: error: {exc}", file=sys.stderr)
        return 2
    if args.plain or not (sys.stdout.isatty() and os.environ.get("TERM") != "dumb"):
        summary = hunt_plain(hunter)
    else:
        from nixtest_tui.flaky_ui.app import FlakyApp

        try:
            FlakyApp(hunter).run()
        finally:  # also on SIGINT (KeyboardInterrupt): the runs live in sessions of their own
            hunter.stop()  # a no-op after a finished hunt; else ends the runs still going
            if hunter.started.is_set():
                hunter.done.wait()
        summary = hunter.summary
    print_report(summary)
    if args.json:
        summary.write_json(args.json)
    return summary.exit_status()
