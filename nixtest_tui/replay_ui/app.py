"""`nixtest-tui replay`: a headless run's trace in the TUI's layout, driven by a timeline.

Everything is read-only and answers "what did it look like at t": the app keeps one time, a
thread worker computes the `Moment` and each machine's console for it (console replay can feed
up to a keyframe's worth of bytes, so it stays off the event loop), and the panes are set from
the result. One seeker thread serves all seeks, and a sequence number drops results of
seeks that a newer one overtook.
"""

from __future__ import annotations

import bisect
import queue
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Input, Static, TabbedContent, TabPane

from nixtest_tui.replay.console import ConsoleReplay, clone
from nixtest_tui.replay.model import Run, build_run
from nixtest_tui.replay.moment import Moment, moment
from nixtest_tui.replay.reader import open_trace
from nixtest_tui.replay_ui.timeline import ReplayTimeline
from nixtest_tui.replay_ui.views import (
    ReplayLines,
    ReplayMachines,
    ReplayScreen,
    ReplayScript,
    ReplaySubtests,
    ReplayWaiting,
    console_source,
    log_lines,
)
from nixtest_tui.widgets._terminal import Terminal
from nixtest_tui.widgets.ordered_keys import TextInput

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
TICK = 0.1
IMAGES_KEPT = 8  # decoded screenshots kept (a 1024x768 picture is 2.3 MB)


@dataclass(frozen=True)
class Frame:
    """Everything the panes show for one time."""

    seq: int
    moment: Moment
    consoles: dict[str, Terminal]
    picture: Image.Image | None = None
    with_picture: bool = False  # the screen tab was open: `picture` is the one to show


class ReplayApp(App[int]):
    """| Key | Action |
    | --- | --- |
    | `space` | play / pause |
    | `+` / `-` | faster / slower |
    | `.` / `,` | next / previous event |
    | `right` / `left` | one second on / back (`shift`: ten) |
    | `c` / `C` | next / previous command |
    | `s` / `S` | next / previous subtest |
    | `e` | the failure (again: the next one) |
    | `g` | go to a time (seconds) |
    | `[` / `]` | start / end of the run |
    | `q` | quit |
    """

    TITLE = "nixtest-tui replay"
    CSS = """
    #top { height: 1fr; }
    #side { width: 36; border-right: solid $panel; }
    #main { width: 1fr; }
    #bottom { height: 45%; min-height: 7; }
    #goto { dock: bottom; display: none; }
    #goto.-open { display: block; }
    #screen-caption { height: 1; padding: 0 1; }
    """
    BINDINGS = [
        Binding("space", "toggle_play", "Play/pause"),
        Binding("plus,equals_sign", "speed(1)", "Faster"),
        Binding("minus", "speed(-1)", "Slower"),
        Binding("full_stop", "step(1)", "Next event"),
        Binding("comma", "step(-1)", "Prev event", show=False),
        Binding("right", "nudge(1)", show=False),
        Binding("left", "nudge(-1)", show=False),
        Binding("shift+right", "nudge(10)", show=False),
        Binding("shift+left", "nudge(-10)", show=False),
        Binding("c", "jump('command', 1)", "Command"),
        Binding("C", "jump('command', -1)", show=False),
        Binding("s", "jump('subtest', 1)", "Subtest"),
        Binding("S", "jump('subtest', -1)", show=False),
        Binding("e", "failure", "Failure"),
        Binding("g", "goto", "Go to"),
        Binding("left_square_bracket", "seek_to(0)", show=False),
        Binding("right_square_bracket", "seek_to(-1)", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, run: Run, at_failure: bool = True) -> None:
        super().__init__()
        self.recording = run
        self.machines = run.trace.machines
        self.consoles = {m: ConsoleReplay(run.trace, m) for m in self.machines}
        self.log_times, self.log_texts = log_lines(run.log)
        self.event_times = sorted({float(e["t"]) for e in run.trace.events})
        self.t = 0.0
        self.shown: Frame | None = None
        self.playing = False
        self.speed = 1.0
        self._seq = 0
        self._stop = threading.Event()
        self._requests: queue.SimpleQueue[tuple[int, float, list[str], bool] | None] = \
            queue.SimpleQueue()
        self._at_failure = at_failure
        self._images: OrderedDict[Path, Image.Image | None] = OrderedDict()
        self._failure_index = -1

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="top"):
            with Vertical(id="side"):
                yield ReplayMachines()
                yield ReplaySubtests()
            with Vertical(id="main"):
                yield ReplayScript(self._script_text())
        yield ReplayWaiting()
        with TabbedContent(id="bottom"):
            with TabPane("log", id="tab-log"):
                yield ReplayLines(id="log")
            for name in self.machines:
                with TabPane(name, id=f"tab-console-{name}"):
                    yield ReplayLines(id=f"console-{name}")
            with TabPane("screen", id="tab-screen"):
                yield Static(id="screen-caption")
                yield ReplayScreen()
        yield TextInput(placeholder="go to second (enter), escape: close", id="goto")
        yield ReplayTimeline(self.recording)
        yield Footer()

    def _script_text(self) -> str:
        info = self.recording.trace.info
        if info.script is not None:
            return info.script
        if info.script_path and Path(info.script_path).is_file():
            return Path(info.script_path).read_text(errors="replace")
        return "# the script's text is not in this trace (format 1, and its file is gone)\n"

    def on_mount(self) -> None:
        trace = self.recording.trace
        self.sub_title = f"{trace.path} · {self.recording.result} · {self.recording.duration:.1f}s"
        self.build_keyframes()
        self.seeker()
        self.set_interval(TICK, self._tick)
        failure = self.recording.failure_time()
        self.seek(failure if self._at_failure and failure is not None else 0.0)
        self.query_one(ReplayScript).focus()

    def on_unmount(self) -> None:
        self._stop.set()
        self._requests.put(None)

    @work(thread=True, group="keyframes", exit_on_error=False)
    def build_keyframes(self) -> None:
        for replay in self.consoles.values():
            replay.build(self._stop)
        if not self._stop.is_set():
            self.call_from_thread(self._show_status)

    # -- time --------------------------------------------------------------------------------

    def seek(self, t: float) -> None:
        self.t = max(0.0, min(self.recording.duration, t))
        self._seq += 1
        screen = self.query_one(TabbedContent).active == "tab-screen"
        self._requests.put((self._seq, self.t, self._shown_consoles(), screen))

    def _shown_consoles(self) -> list[str]:
        """Only the console on screen is replayed: the others catch up when their tab opens,
        so opening a long trace does not wait for every console's bytes."""
        active = self.query_one(TabbedContent).active
        name = active.removeprefix("tab-console-")
        return [name] if active.startswith("tab-console-") and name in self.consoles else []

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        if self._shown_consoles() or self.query_one(TabbedContent).active == "tab-screen":
            self.seek(self.t)

    @work(thread=True, group="seek", exit_on_error=False)
    def seeker(self) -> None:
        """One thread answers every seek, newest first: a request that a newer one overtook
        while it waited is dropped, so holding a key or playing fast never queues up work."""
        while (request := self._requests.get()) is not None:
            while not self._requests.empty():
                newer = self._requests.get()
                if newer is None:
                    return
                request = newer
            seq, t, machines, screen = request
            state = moment(self.recording, t)
            terminals = {name: clone(self.consoles[name].at(t)) for name in machines}
            picture = self._picture(state) if screen else None
            if self._stop.is_set():
                return
            self.call_from_thread(self._apply, Frame(seq, state, terminals, picture, screen))

    def _picture(self, state: Moment) -> Image.Image | None:
        """The screenshot at t, decoded (in the seeker thread; a few are kept)."""
        if state.screenshot is None:
            return None
        path = self.recording.trace.resolve(state.screenshot.path)
        if path not in self._images:
            try:
                with Image.open(path) as image:
                    self._images[path] = image.convert("RGB")
            except OSError:
                self._images[path] = None
            while len(self._images) > IMAGES_KEPT:
                self._images.popitem(last=False)
        return self._images[path]

    def _apply(self, frame: Frame) -> None:
        if frame.seq != self._seq:
            return  # a newer seek is on its way
        self.shown = frame
        state = frame.moment
        self.query_one(ReplayMachines).show(state)
        self.query_one(ReplaySubtests).show(state)
        failure = self.recording.failure
        failed = (failure is not None and state.script_line == failure.line
                  and state.t >= (self.recording.failure_time() or failure.t))
        error = failure.message.strip().splitlines()[-1] if failure is not None and failed \
            else ""
        self.query_one(ReplayWaiting).show(state, error)
        self.query_one(ReplayScript).show_position(state.script_line, failed)
        texts, count = self.log_texts, bisect.bisect_right(self.log_times, state.t)
        self.query_one("#log", ReplayLines).show(
            count, lambda i: list(texts[i].render(self.console)))
        for name, terminal in frame.consoles.items():
            size, line = console_source(terminal)
            self.query_one(f"#console-{name}", ReplayLines).show(size, line, terminal.columns)
        self._show_screenshot(frame)
        self._show_status()

    def _show_screenshot(self, frame: Frame) -> None:
        shot = frame.moment.screenshot
        caption = self.query_one("#screen-caption", Static)
        if shot is None:
            caption.update(Text("no screenshot before this time", style="dim"))
        else:
            kind = "film strip" if shot.film else "screenshot"
            caption.update(f"{shot.machine}: {kind} {shot.path} at {shot.t:.1f}s")
        screen = self.query_one(ReplayScreen)
        if frame.with_picture and screen.image is not frame.picture:
            screen.show(frame.picture)

    def _show_status(self) -> None:
        mode = "▶" if self.playing else "⏸"
        building = "" if all(c.built for c in self.consoles.values()) else "  indexing consoles…"
        self.query_one(ReplayTimeline).show(self.t, f"{mode} ×{self.speed:g}{building}")

    def _tick(self) -> None:
        if not self.playing:
            return
        if self.t >= self.recording.duration:
            self.playing = False
            self._show_status()
            return
        self.seek(self.t + TICK * self.speed)

    # -- actions -----------------------------------------------------------------------------

    def action_toggle_play(self) -> None:
        if not self.playing and self.t >= self.recording.duration:
            self.t = 0.0
        self.playing = not self.playing
        self._show_status()

    def action_speed(self, direction: int) -> None:
        index = SPEEDS.index(self.speed) + direction
        self.speed = SPEEDS[max(0, min(len(SPEEDS) - 1, index))]
        self._show_status()

    def action_step(self, direction: int) -> None:
        times = self.event_times
        if direction > 0:
            index = bisect.bisect_right(times, self.t)
            self.seek(times[index] if index < len(times) else self.recording.duration)
        else:
            index = bisect.bisect_left(times, self.t) - 1
            self.seek(times[index] if index >= 0 else 0.0)

    def action_nudge(self, seconds: float) -> None:
        self.seek(self.t + seconds)

    def action_jump(self, kind: str, direction: int) -> None:
        times = sorted(m.t for m in self.recording.marks() if m.kind == kind)
        if direction > 0:
            later = [t for t in times if t > self.t + 1e-9]
            if later:
                self.seek(later[0])
        else:
            earlier = [t for t in times if t < self.t - 1e-9]
            if earlier:
                self.seek(earlier[-1])

    def action_failure(self) -> None:
        """The failure the script ended with first; then each logged failure in turn."""
        failures = self.recording.failures
        if not failures:
            self.notify("this run has no failure")
            return
        self._failure_index = (self._failure_index + 1) % len(failures)
        if self._failure_index == 0 and (shown := self.recording.failure_time()) is not None:
            self.seek(shown)
        else:
            self.seek(failures[self._failure_index].t)

    def action_seek_to(self, where: int) -> None:
        self.seek(self.recording.duration if where < 0 else 0.0)

    def action_goto(self) -> None:
        box = self.query_one("#goto", Input)
        box.add_class("-open")
        box.value = f"{self.t:.2f}"
        box.focus()

    @on(Input.Submitted, "#goto")
    def _goto_submitted(self, event: Input.Submitted) -> None:
        try:
            seconds = float(event.value.strip().removesuffix("s"))
        except ValueError:
            self.notify(f"not a number of seconds: {event.value!r}", severity="warning")
            return
        event.input.remove_class("-open")
        self.query_one(ReplayScript).focus()
        self.seek(seconds)

    def key_escape(self) -> None:
        box = self.query_one("#goto", Input)
        if box.has_class("-open"):
            box.remove_class("-open")
            self.query_one(ReplayScript).focus()

    @on(ReplayTimeline.Seek)
    def _timeline_clicked(self, event: ReplayTimeline.Seek) -> None:
        self.seek(event.t)


def run_replay(target: Path, at_failure: bool = True) -> int:
    """Open the viewer on an output directory or trace; TraceError if it is not one."""
    run = build_run(open_trace(target))
    ReplayApp(run, at_failure).run()
    return 0
