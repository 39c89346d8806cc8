"""A self-contained HTML report of a headless run, for the CI page one click away.

One file, nothing fetched: CSS and script inline, pictures as `data:` URIs, and a
Content-Security-Policy that forbids every request, so the report behaves the same when opened
from a CI artifact store, an e-mail or a laptop without network. Built from the trace (so it
can be made after the fact: `nixtest-tui report OUT_DIR -o report.html`) through a Jinja2
template shipped as package data.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import jinja2

from nixtest_tui.replay.model import Run, build_run
from nixtest_tui.replay.reader import open_trace
from nixtest_tui.report import sections

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
       "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("nixtest_tui.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def build_report(target: Path | str) -> str:
    """The report's HTML for an output directory or a trace file."""
    run = build_run(open_trace(target))
    info = run.trace.info
    title = Path(info.script_path).name if info.script_path else run.trace.path.parent.name
    template = _environment().get_template("report.html.j2")
    return template.render(
        csp=CSP,
        title=title,
        run=run,
        started=sections.wall_clock(run),
        machines=[(name, _final_state(run, name)) for name in run.trace.machines],
        failure=sections.failure_view(run),
        subtests=run.subtests,
        timeline=sections.timeline(run),
        pictures=sections.pictures(run),
        consoles=sections.consoles(run),
        log=sections.log_entries(run),
        log_total=len(run.log),
    )


def write_report(target: Path | str, output: Path) -> Path:
    """Write atomically, so that a CI step never publishes half a report."""
    html = build_report(target)
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=output.parent, prefix=".report-", suffix=".html")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(html)
        os.chmod(scratch, 0o644)
        os.replace(scratch, output)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    return output


def _final_state(run: Run, name: str) -> str:
    steps = run.states.get(name)
    return str(steps.values[-1]) if steps is not None and steps.values else "never started"
