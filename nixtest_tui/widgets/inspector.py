"""The screen tab: a machine's screen in the terminal, its OCR text, and a live regex check.

The picture is drawn with half blocks (`▀`, foreground the upper pixel, background the lower),
so that it works in any true-colour terminal without an image protocol or an extra dependency;
`screen_picture.py` says how it stays legible (zoom, the OCR text layer, word boxes and
regex matches drawn on it), and `enter` shows it on the whole terminal. Screenshots and
OCR call into QEMU and tesseract, so both run in exclusive thread workers: a new screenshot
supersedes the OCR of the previous one, whose late results are dropped. The regex box
answers "would `wait_for_text` match now?" against the texts already read, per variant, as
`wait_for_text` accepts a match in any of them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Select, Static
from textual.worker import get_current_worker

from nixtest_tui.driver.base import BaseMachine
from nixtest_tui.driver.events import Event, MachineStateChanged
from nixtest_tui.driver.ocr import VARIANTS, OcrResult
from nixtest_tui.driver.qemu import QemuMachine
from nixtest_tui.driver.screen import Screenshot, screenshot_path
from nixtest_tui.network_model import STATE_LABELS
from nixtest_tui.widgets.ordered_keys import TextInput
from nixtest_tui.widgets.screen_image import ScreenImage
from nixtest_tui.widgets.screen_picture import HALF_BLOCK, halfblock_strips
from nixtest_tui.widgets.screen_viewer import ScreenViewer

__all__ = ["HALF_BLOCK", "ScreenImage", "ScreenInspector", "halfblock_strips"]

RUNNING = ("running", "connected")


class ScreenInspector(Vertical):
    """| Key | Action |
    | --- | --- |
    | `r` | take a screenshot now (also every few seconds while the tab is shown) |

    The picture's own keys (zoom, pan, text layer, word boxes, whole terminal) are in
    `ScreenImage`. Its word boxes and matches are those of the first OCR variant that read
    any word, in the order raw, positive, negative.
    """

    BINDINGS = [Binding("r", "refresh_screen", "Refresh screen")]
    DEFAULT_CSS = """
    ScreenInspector #inspector-top { height: 1; }
    ScreenInspector #inspector-machine { width: 24; }
    ScreenInspector #inspector-status { width: 1fr; padding: 0 1; color: $text-muted; }
    ScreenInspector #inspector-body { height: 1fr; }
    ScreenInspector #inspector-side { width: 40; }
    ScreenInspector #inspector-verdicts { height: auto; }
    ScreenInspector #inspector-ocr { height: 1fr; background: $surface; }
    ScreenInspector Input { margin-top: 1; }
    ScreenInspector #inspector-regex { margin-top: 0; }
    """

    def __init__(self, machines: list[str], machine: Callable[[str], BaseMachine],
                 every: float = 5.0, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.machines = machines
        self.machine_name = machines[0] if machines else ""
        self._machine = machine
        self.every = every
        self.states: dict[str, str] = {}
        self.shot: Screenshot | None = None
        self.taken_at = ""
        self.results: dict[str, OcrResult] = {}
        self.stale = False
        """`results` are from the picture before `shot`: shown until the new ones arrive, so
        that a blinking cursor (a new picture every blink) does not blank the text."""
        self.verdicts: dict[str, bool | None] = {}
        """Per variant: would the regex match its text (None: not read yet or no regex)."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="inspector-top"):
            yield Select([(name, name) for name in self.machines], compact=True,
                         value=self.machine_name or Select.NULL,
                         allow_blank=not self.machines, id="inspector-machine")
            yield Static("", id="inspector-status")
        with Horizontal(id="inspector-body"):
            yield ScreenImage()
            with Vertical(id="inspector-side"):
                yield TextInput(placeholder="regex: would wait_for_text match now?", compact=True,
                            id="inspector-regex")
                yield Static("", id="inspector-verdicts")
                with VerticalScroll(id="inspector-ocr"):
                    yield Static("", id="inspector-text")
                yield TextInput(placeholder="keys to send (\\n is enter)", compact=True,
                            id="inspector-keys")
                yield TextInput(placeholder="save screenshot as NAME (output dir)", compact=True,
                            id="inspector-save")

    def on_mount(self) -> None:
        self.set_interval(self.every, self._tick)
        self._status()

    def on_show(self) -> None:
        self._tick()

    def _tick(self) -> None:
        if self.is_on_screen and self.states.get(self.machine_name) in RUNNING:
            self.take_screenshot(self.machine_name)

    def handle(self, event: Event) -> None:
        if isinstance(event, MachineStateChanged) and event.machine in self.machines:
            self.states[event.machine] = event.state
            if event.machine == self.machine_name:
                self._status()
                if event.state == "connected":
                    self._tick()

    @on(Select.Changed, "#inspector-machine")
    def _machine_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.machine_name:
            self.machine_name = event.value
            self._show(None)
            self._tick()

    def action_refresh_screen(self) -> None:
        if self.machine_name:
            self.take_screenshot(self.machine_name)

    # -- screenshot and OCR (thread workers) -----------------------------------------------------

    def _qemu(self, name: str) -> QemuMachine:
        machine = self._machine(name)
        if not isinstance(machine, QemuMachine):
            raise TypeError(f"{name} has no screen (not a QEMU machine)")
        return machine

    @work(thread=True, exclusive=True, group="inspector-grab", exit_on_error=False)
    def take_screenshot(self, name: str) -> None:
        try:
            shot = self._qemu(name).screens.grab(publish=False)
        except Exception as exc:
            self.app.call_from_thread(self._status, f"{name}: {exc}")
            return
        self.app.call_from_thread(self._grabbed, name, shot)

    def _grabbed(self, name: str, shot: Screenshot) -> None:
        if name != self.machine_name:
            return  # taken for the machine shown before
        self.taken_at = time.strftime("%H:%M:%S")
        if self.shot is None or shot.digest != self.shot.digest:
            self._show(shot)
            self.read_text(name, shot)
        self._status()

    @work(thread=True, exclusive=True, group="inspector-ocr", exit_on_error=False)
    def read_text(self, name: str, shot: Screenshot) -> None:
        worker = get_current_worker()
        screens = self._qemu(name).screens
        for variants in (("raw",), tuple(v for v in VARIANTS if v != "raw")):
            if worker.is_cancelled:
                return  # a newer screenshot took over
            try:
                results = screens.read(variants, shot)
            except Exception as exc:
                self.app.call_from_thread(self._status, f"OCR failed: {exc}")
                return
            if not worker.is_cancelled:
                self.app.call_from_thread(self._read, shot.digest, results)

    def _read(self, digest: str, results: list[OcrResult]) -> None:
        if self.shot is not None and digest == self.shot.digest:
            if self.stale:
                self.results, self.stale = {}, False
            self.results.update({result.variant: result for result in results})
            self._render_text()

    # -- display ---------------------------------------------------------------------------------

    def _show(self, shot: Screenshot | None) -> None:
        if shot is None:
            self.results = {}
        self.shot, self.stale = shot, shot is not None and bool(self.results)
        self.query_one(ScreenImage).show(None if shot is None else shot.image)
        self._render_text()

    def _status(self, message: str = "") -> None:
        parts = [STATE_LABELS.get(self.states.get(self.machine_name, "off"), "off")]
        if self.shot is not None:
            width, height = self.shot.image.size
            parts.append(f"{width}×{height} #{self.shot.digest[:8]} at {self.taken_at}")
        parts.append(self.query_one(ScreenImage).describe_view())
        parts.append(message or f"r refreshes (every {self.every:g} s while shown)")
        self.query_one("#inspector-status", Static).update(" · ".join(parts))

    def _render_text(self) -> None:
        text = Text()
        for variant in VARIANTS:
            result = self.results.get(variant)
            timing = "reading..." if result is None else f"{result.seconds:.2f} s" + \
                (", previous picture" if self.stale else "")
            text.append(f"── {variant} ({timing})\n", style="bold")
            if result is not None:
                text.append(result.text.strip() + "\n")
        self.query_one("#inspector-text", Static).update(text if self.shot else "")
        self._check_regex()

    @on(Input.Changed, "#inspector-regex")
    def _check_regex(self) -> None:
        source = self.query_one("#inspector-regex", Input).value
        parts: list[Text] = []
        self.verdicts = {}
        try:
            pattern = re.compile(source) if source else None
        except re.error as exc:
            parts.append(Text(f"bad regex: {exc}", style="bold red"))
            pattern = None
        for variant in VARIANTS:
            result = self.results.get(variant)
            if pattern is None or result is None:
                self.verdicts[variant] = None
                continue
            matched = self.verdicts[variant] = pattern.search(result.text) is not None
            parts.append(Text.assemble(f"{variant}: ", ("match", "green") if matched else
                                       ("no match", "red")))
        if pattern is not None and not any(v is not None for v in self.verdicts.values()):
            parts.append(Text("no text read yet"))
        self.query_one("#inspector-verdicts", Static).update(Text(" · ").join(parts))
        self._draw_words(pattern)

    def _draw_words(self, pattern: re.Pattern[str] | None) -> None:
        """Boxes of a picture's own words only: stale ones would sit in the wrong places."""
        found = (self.results.get(variant) for variant in VARIANTS)
        words = () if self.stale else next((r.words for r in found if r and r.words), ())
        self.query_one(ScreenImage).show_words(words, pattern)

    @on(ScreenImage.FullSize)
    def _full_size(self, event: ScreenImage.FullSize) -> None:
        event.stop()
        self.app.push_screen(ScreenViewer(f"{self.machine_name}'s screen", event.image))

    @on(ScreenImage.ViewChanged)
    def _view_changed(self, event: ScreenImage.ViewChanged) -> None:
        event.stop()
        if self.is_mounted:
            self._status()

    # -- typing and saving -----------------------------------------------------------------------

    @on(Input.Submitted, "#inspector-keys")
    def _keys_submitted(self, event: Input.Submitted) -> None:
        if event.value and self.machine_name:
            self.send_keys(self.machine_name, event.value.replace("\\n", "\n"))
            event.input.value = ""

    @work(thread=True, group="inspector-keys", exit_on_error=False)
    def send_keys(self, name: str, chars: str) -> None:
        try:
            self._qemu(name).send_chars(chars)
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"{name}: {exc}", severity="error")
            return
        self.app.call_from_thread(self.action_refresh_screen)

    @on(Input.Submitted, "#inspector-save")
    def _save_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() and self.machine_name:
            self.save_screenshot(self.machine_name, event.value.strip())
            event.input.value = ""

    @work(thread=True, group="inspector-save", exit_on_error=False)
    def save_screenshot(self, name: str, filename: str) -> None:
        try:
            machine = self._qemu(name)
            machine.screenshot(filename)
            path = screenshot_path(filename, machine.out_dir)
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"{name}: {exc}", severity="error")
            return
        self.app.call_from_thread(self.notify, f"saved {path}")
