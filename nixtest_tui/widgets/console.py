"""`SerialConsole`: one machine's serial console, a pyte screen fed with the raw serial bytes.

The app hands it bytes with `feed()` (cheap: they are only queued) and, optionally, a blocking
`send` callable that writes to the guest's serial input::

    console = SerialConsole("server", send=machine.send_console)
    console.feed(event.data)          # from the bridge, on the UI thread

Parsing happens in time-boxed turns on the event loop (see `_console_feed`), so a guest
flooding its console delays the console, never the keyboard; the view is synced with the model
at most 30 times a second (8 in a flood) and redraws only pyte's dirty lines. When parsing falls
more than `MAX_BACKLOG` bytes behind, the oldest unparsed bytes are skipped and a marker line
says how many: the console is a view, and the driver's serial log keeps every byte.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ClassVar

from rich.style import Style
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import var
from textual.widget import Widget
from textual.widgets import Input

from nixtest_tui.widgets._console_feed import SlicedFeed
from nixtest_tui.widgets._console_keys import APP_KEYS, key_to_bytes
from nixtest_tui.widgets._console_view import ConsoleView, OverlayStyles
from nixtest_tui.widgets._terminal import Terminal
from nixtest_tui.widgets.ordered_keys import TextInput


class _ConsoleMessage(Message):
    def __init__(self, console: SerialConsole) -> None:
        super().__init__()
        self.console = console

    @property
    def control(self) -> SerialConsole:
        """The console that posted the message (for `@on(..., selector)`)."""
        return self.console


class SerialConsole(Widget, can_focus=True):
    """Serial console of one machine: colours, cursor movement, scrollback, search, input, copy.

    Besides the keyboard line selection (`v`, `y`), dragging the mouse selects text the Textual
    way (the screen's ctrl+c copies it); either selection freezes the view so the text stays put.
    """

    DEFAULT_CSS = """
    SerialConsole {
        height: 1fr;
        border: round $panel;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
        &:focus-within { border: round $primary; border-title-color: $text; }
        &.-frozen { border-subtitle-color: $warning; }
        &.-input { border: double $warning; border-title-color: $warning; }
        & > ConsoleView { height: 1fr; }
        & > Input { dock: bottom; display: none; height: 1; border: none; padding: 0 1; }
        &.-searching > Input { display: block; }
        & > .serial-console--match { background: $warning; color: $background; }
        & > .serial-console--match-line { background: $warning 20%; }
        & > .serial-console--selection { background: $primary 45%; }
        & > .serial-console--cursor { text-style: reverse; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("i", "input_mode", "Type", tooltip="Send keys to the machine's serial input"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next", show=False),
        Binding("N", "previous_match", "Previous", show=False),
        Binding("f,end", "follow", "Follow"),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("up,k", "line_up", "Up", show=False),
        Binding("down,j", "line_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("v", "select_lines", "Select"),
        Binding("y", "copy", "Copy"),
        Binding("escape", "cancel", "Cancel", show=False),
    ]
    """
    | Key(s) | Description |
    | :- | :- |
    | i | Input mode: every key goes to the guest until escape (ctrl+] sends ESC). |
    | / | Search scrollback and screen (plain text, case-insensitive). |
    | n / N | Next / previous match. |
    | f, end | Follow new output again. |
    | home | Scroll to the oldest line kept. |
    | up, k / down, j | Scroll a line, or extend the selection. |
    | pageup / pagedown | Scroll a page. |
    | v | Start (or drop) a line selection. |
    | y | Copy the selected lines. |
    | escape | Leave input mode, drop the selection, or close the search bar. |
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "serial-console--match",
        "serial-console--match-line",
        "serial-console--selection",
        "serial-console--cursor",
    }
    """
    | Class | Description |
    | :- | :- |
    | `serial-console--match` | The text of the current search match. |
    | `serial-console--match-line` | The rest of the line holding the match. |
    | `serial-console--selection` | Lines selected for copying. |
    | `serial-console--cursor` | The guest's cursor, shown in input mode. |
    """

    SLICE_BYTES = 2048
    """Bytes parsed at a time (under a millisecond) before the next console gets its turn."""
    MAX_BACKLOG = 8 * 1024 * 1024
    """Unparsed bytes kept before the oldest are skipped."""

    input_mode: var[bool] = var(False)
    """Whether keys go to the guest; set by `i` (refused without `send`), cleared by escape."""

    class InputSent(_ConsoleMessage):
        """Bytes typed in input mode reached `send` (possibly several keys coalesced)."""

        def __init__(self, console: SerialConsole, data: bytes) -> None:
            super().__init__(console)
            self.data = data

    class Copied(_ConsoleMessage):
        """Selected lines were copied to the clipboard."""

        def __init__(self, console: SerialConsole, text: str) -> None:
            super().__init__(console)
            self.text = text

    def __init__(
        self,
        machine: str,
        send: Callable[[bytes], None] | None = None,
        *,
        title: str | None = None,
        columns: int = 160,
        scrollback: int = 10_000,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's widget signature
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.machine = machine
        self._send = send
        self._terminal = Terminal(columns=columns, rows=24, scrollback=scrollback)
        self._view = ConsoleView(self._terminal)
        self._search_input = TextInput(placeholder="search  (enter: next match, escape: close)")
        self._feed = SlicedFeed(self._terminal.feed, self._sync_view, self.SLICE_BYTES)
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._query = ""
        self._title = title or machine
        self.border_title = self._title

    def compose(self) -> ComposeResult:
        yield self._view
        yield self._search_input

    def on_mount(self) -> None:
        self._push_styles()
        if self._send is not None:
            self._send_keys()
        self._feed.start(asyncio.get_running_loop())

    def on_unmount(self) -> None:
        self._feed.stop()

    # Section: public interface

    def feed(self, data: bytes) -> None:
        """Queue raw serial bytes; parsing and drawing happen later, in bounded slices."""
        if data:
            self._feed.feed(data)
            if self._feed.pending_bytes > self.MAX_BACKLOG:
                self._feed.shed(self.MAX_BACKLOG // 2, _skipped_marker)

    def flush(self) -> None:
        """Parse everything queued and sync the view now (blocks for as long as that takes)."""
        self._feed.flush()

    @property
    def pending_bytes(self) -> int:
        """Bytes fed but not parsed yet."""
        return self._feed.pending_bytes

    @property
    def skipped_bytes(self) -> int:
        """Bytes never shown because parsing fell `MAX_BACKLOG` behind."""
        return self._feed.skipped_bytes

    @property
    def line_count(self) -> int:
        """Lines of scrollback plus screen rows up to the last with text (after a `flush`)."""
        self.flush()
        return self._terminal.line_count

    @property
    def following(self) -> bool:
        """Whether the view follows new output (False: frozen)."""
        return self._view.following

    def plain_text(self, last: int | None = None) -> str:
        """Scrollback and screen as plain text, or only the `last` lines; flushes first."""
        self.flush()
        return self._terminal.plain_text(last)

    def _sync_view(self) -> None:
        if self.is_mounted:
            self._view.sync()
            self._update_subtitle()

    # Section: follow / freeze and scrolling

    @on(ConsoleView.FollowChanged)
    def _follow_changed(self, event: ConsoleView.FollowChanged) -> None:
        event.stop()
        self.set_class(not event.following, "-frozen")
        self._update_subtitle()

    def _update_subtitle(self) -> None:
        view = self._view
        subtitle = "" if view.following else f"frozen — {view.new_lines} new lines (f: follow)"
        if subtitle != self.border_subtitle:  # setting it repaints the whole widget
            self.border_subtitle = subtitle

    def action_follow(self) -> None:
        self._view.follow()

    def action_scroll_home(self) -> None:
        self._view.scroll_home(animate=False)

    def action_line_up(self) -> None:
        self._move(-1)

    def action_line_down(self) -> None:
        self._move(1)

    def action_page_up(self) -> None:
        self._view.scroll_page_up(animate=False)

    def action_page_down(self) -> None:
        self._view.scroll_page_down(animate=False)

    def _move(self, delta: int) -> None:
        if self._view.selection is None:
            self._view.scroll_relative(y=delta, animate=False)
        else:
            self._view.extend_selection(delta)

    # Section: search

    def action_search(self) -> None:
        self.add_class("-searching")
        self._search_input.value = self._query
        self._search_input.focus()

    @on(Input.Submitted)
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._query = event.value
        self.focus()
        if self._query:
            self._find(forward=True)

    def action_next_match(self) -> None:
        self._find(forward=True)

    def action_previous_match(self) -> None:
        self._find(forward=False)

    def _find(self, forward: bool) -> None:
        if not self._query:
            self.notify("Nothing to search for yet: press / first.", severity="warning")
            return
        self._sync_view()
        if not self._view.find(self._query, forward):
            self.notify(f"{self._query!r} not found on {self.machine}'s console.")

    # Section: selection and copy

    def action_select_lines(self) -> None:
        self._sync_view()
        self._view.toggle_selection()

    def action_copy(self) -> None:
        text = self._view.selected_text()
        if text is None:
            self.notify("Select lines with v first.", severity="warning")
            return
        self.app.copy_to_clipboard(text)
        self.post_message(self.Copied(self, text))
        self.notify(f"Copied {text.count(chr(10)) + 1} line(s) from {self.machine}'s console.")
        self._view.toggle_selection()

    def action_cancel(self) -> None:
        if self._view.selection is not None:
            self._view.toggle_selection()
        elif self.has_class("-searching"):
            self.remove_class("-searching")
            self._view.find("", forward=True)
            self.focus()

    # Section: input mode

    def action_input_mode(self) -> None:
        if self._send is None:
            self.notify(f"{self.machine}'s console takes no input here.", severity="warning")
            return
        self.input_mode = True

    def validate_input_mode(self, enabled: bool) -> bool:
        return enabled and self._send is not None

    def watch_input_mode(self, enabled: bool) -> None:
        self.set_class(enabled, "-input")
        self._view.show_cursor = enabled
        self._view.refresh_overlays()
        self.refresh_bindings()
        if enabled:
            self.border_title = f"{self.machine} — INPUT (escape: leave, ctrl+]: send ESC)"
        else:
            self.border_title = self._title

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not self.input_mode

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return self.input_mode and key not in APP_KEYS and key_to_bytes(key, character) is not None

    def on_key(self, event: events.Key) -> None:
        if not self.input_mode or event.key in APP_KEYS:
            return
        event.stop()
        event.prevent_default()
        if event.key == "escape":
            self.input_mode = False
        elif (data := key_to_bytes(event.key, event.character)) is not None:
            self._outbox.put_nowait(data)

    @work(exclusive=True, group="serial-console-send", exit_on_error=False)
    async def _send_keys(self) -> None:
        """Hand typed bytes to the blocking `send` in a thread, in order, coalescing bursts."""
        send = self._send
        assert send is not None
        while True:
            data = await self._outbox.get()
            while not self._outbox.empty():
                data += self._outbox.get_nowait()
            try:
                await asyncio.to_thread(send, data)
            except Exception as error:  # a dead QEMU must not kill the console
                self.notify(f"Could not send to {self.machine}: {error}", severity="error")
                continue
            self.post_message(self.InputSent(self, data))

    # Section: styles

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted:
            self._push_styles()

    def _push_styles(self) -> None:
        styles = OverlayStyles(
            match=self.get_component_rich_style("serial-console--match"),
            match_line=self._background_style("serial-console--match-line"),
            selection=self._background_style("serial-console--selection"),
            cursor=self.get_component_rich_style("serial-console--cursor", partial=True),
        )
        if styles != self._view.overlay_styles:
            self._view.overlay_styles = styles
            self._view.refresh()

    def _background_style(self, name: str) -> Style:
        """A component's (alpha-blended) background and text style, but not its foreground.

        Painted over console text, a full component style would also replace the guest's own
        colours; keeping them makes a highlighted `FAILED` still read red.
        """
        full = self.get_component_rich_style(name)
        partial = self.get_component_rich_style(name, partial=True)
        return Style(bgcolor=full.bgcolor) + partial.without_color


def _skipped_marker(skipped: int) -> bytes:
    return f"\r\n\x1b[0;7m[console: {skipped} bytes skipped to catch up]\x1b[0m\r\n".encode()
