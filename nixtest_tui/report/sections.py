"""What the HTML report shows, prepared as plain data for the template.

Everything the page needs is embedded: consoles rendered to HTML spans by rich from the same
terminal model the TUI uses (so colours and `\\r` redraws look as they did), screenshots as
`data:` URIs, film-strip frames shrunk to thumbnails. Sizes are bounded so that a one-hour run
of four chatty machines still gives a file a browser opens at once: the last
`CONSOLE_LINES` lines of each console, at most `FILM_FRAMES` film frames, `LOG_ENTRIES` log
lines, `TIMELINE_MARKS` command and wait marks.
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from rich.console import Console
from rich.terminal_theme import MONOKAI
from rich.text import Text

from nixtest_tui.replay.console import ConsoleReplay
from nixtest_tui.replay.model import Mark, Run, Shot

CONSOLE_LINES = 1500
FILM_FRAMES = 120
THUMBNAIL_WIDTH = 320
LOG_ENTRIES = 4000
TIMELINE_MARKS = 1500
CONTEXT_LINES = 4


@dataclass(frozen=True)
class ScriptLine:
    number: int
    text: str
    failing: bool


@dataclass(frozen=True)
class FailureView:
    subtest: str | None
    statement: str
    error: str
    traceback: str
    t: float
    context: list[ScriptLine]


@dataclass(frozen=True)
class Picture:
    machine: str
    t: float
    name: str
    data_uri: str | None
    film: bool


@dataclass(frozen=True)
class TimelineMark:
    kind: str
    left: float  # percent of the run
    width: float
    label: str
    t: float


@dataclass(frozen=True)
class ConsoleView:
    machine: str
    html: str
    shown: int
    total: int


def script_lines(run: Run) -> list[str]:
    text = run.trace.info.script
    if text is None and run.trace.info.script_path:
        try:
            text = Path(run.trace.info.script_path).read_text(errors="replace")
        except OSError:
            text = None
    return text.splitlines() if text else []


def failure_view(run: Run) -> FailureView | None:
    failure = run.failure
    if failure is None:
        return None
    lines = script_lines(run)
    line = failure.line
    context: list[ScriptLine] = []
    statement = ""
    if line is not None and 0 < line <= len(lines):
        statement = lines[line - 1].strip()
        first, last = max(1, line - CONTEXT_LINES), min(len(lines), line + CONTEXT_LINES)
        context = [ScriptLine(n, lines[n - 1], n == line) for n in range(first, last + 1)]
    message = failure.message.strip()
    error = message.splitlines()[-1] if message else ""
    subtest = failure.subtest or next(
        (s.name for s in run.subtests if s.ok is False), None)
    return FailureView(subtest, statement, error, message, failure.t, context)


def wall_clock(run: Run) -> str:
    wall = run.trace.wall
    if wall is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(wall)))


def timeline(run: Run) -> list[TimelineMark]:
    span = max(run.duration, 1e-6)

    def place(t: float) -> float:
        return round(min(100.0, max(0.0, 100.0 * t / span)), 3)

    marks = [TimelineMark("subtest-" + ("ok" if s.ok else "failed" if s.ok is False
                                        else "running"),
                          place(s.start), max(0.2, place(s.end or run.duration) - place(s.start)),
                          s.name, s.start) for s in run.subtests]
    small: list[Mark] = [m for m in run.marks() if m.kind in ("command", "wait")]
    step = max(1, len(small) // TIMELINE_MARKS)
    marks += [TimelineMark(m.kind, place(m.t), 0.0, m.label, m.t) for m in small[::step]]
    marks += [TimelineMark(m.kind, place(m.t), 0.0, m.label, m.t) for m in run.marks()
              if m.kind in ("failure", "screenshot")]
    return marks


def pictures(run: Run) -> list[Picture]:
    script = [s for s in run.shots if not s.film]
    film = [s for s in run.shots if s.film]
    step = max(1, -(-len(film) // FILM_FRAMES))
    chosen = script + film[::step]
    return [_picture(run, shot) for shot in sorted(chosen, key=lambda s: s.t)]


def _picture(run: Run, shot: Shot) -> Picture:
    path = run.trace.resolve(shot.path)
    try:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
        if shot.film and image.width > THUMBNAIL_WIDTH:
            height = round(image.height * THUMBNAIL_WIDTH / image.width)
            image = image.resize((THUMBNAIL_WIDTH, height))
        out = io.BytesIO()
        image.save(out, "PNG", optimize=True)
        uri: str | None = "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()
    except OSError:
        uri = None  # the file is gone: say so on the page instead of a broken image
    return Picture(shot.machine, shot.t, Path(shot.path).name, uri, shot.film)


def consoles(run: Run) -> list[ConsoleView]:
    views = []
    for machine in run.trace.machines:
        replay = ConsoleReplay(run.trace, machine)
        terminal = replay.at(run.duration)
        end = terminal.end_line
        start = max(terminal.first_line, end - CONSOLE_LINES)
        recorder = Console(record=True, file=io.StringIO(), width=terminal.columns,
                           color_system="truecolor", force_terminal=True, soft_wrap=True)
        for number in range(start, end):
            line = terminal.line(number)
            recorder.print(Text.assemble(*((s.text, s.style or "") for s in line.segments)) if
                           line.segments else Text(""))
        html = recorder.export_html(theme=MONOKAI, inline_styles=True, code_format="{code}")
        views.append(ConsoleView(machine, html, end - start, end - terminal.first_line))
    return views


def log_entries(run: Run) -> list[tuple[float, int, str, str]]:
    entries = run.log[-LOG_ENTRIES:]
    return [(e.t, e.depth, e.level, f"{e.machine}: {e.text}" if e.machine else e.text)
            for e in entries]
