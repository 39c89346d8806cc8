"""SerialConsole: captured serial streams in, rendered text, cell styles and behaviour out.

Golden files in tests/data/serial/ pair a raw capture (`*.bin`, the bytes QEMU prints) with the
plain text the console must show (`*.txt`), in the manner of pyte's tests/test_input_output.py.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyte
import pytest
from conftest import until
from rich.color import Color
from rich.style import Style
from textual.app import App, ComposeResult
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.pilot import Pilot
from textual.strip import Strip
from textual.widgets import Static, TabbedContent, TabPane

from nixtest_tui.widgets._console_keys import key_to_bytes
from nixtest_tui.widgets._console_screen import ConsoleScreen
from nixtest_tui.widgets._console_view import ConsoleView
from nixtest_tui.widgets._terminal import HistoryLine, Terminal
from nixtest_tui.widgets.console import SerialConsole

DATA = Path(__file__).parent.parent / "data" / "serial"
FIXTURES = ["kernel-boot", "systemd-status", "fullscreen", "progress"]
SIZE = (120, 34)


class ConsoleApp(App[None]):
    """One focused console; notifications are recorded for the tests to read."""

    BINDINGS = [("x", "probe", "Probe")]

    def __init__(self, console: SerialConsole) -> None:
        super().__init__()
        self.serial = console
        self.notices: list[str] = []
        self.probes: list[int] = []

    def compose(self) -> ComposeResult:
        yield self.serial

    def on_mount(self) -> None:
        self.serial.focus()

    def action_probe(self) -> None:
        self.probes.append(self.serial.pending_bytes)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        self.notices.append(message)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)


class Recorder:
    """A blocking, thread-safe stand-in for `Machine.send_console`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.data = bytearray()
        self.threads: set[int] = set()

    def __call__(self, data: bytes) -> None:
        time.sleep(0.005)  # like a pipe write: the UI thread must never wait for this
        with self.lock:
            self.data += data
            self.threads.add(threading.get_ident())

    def received(self) -> bytes:
        with self.lock:
            return bytes(self.data)


def seen(message: Message, messages: Sequence[Message]) -> bool:
    """The hook sees a message once per node it bubbles through; count it once."""
    return any(other is message for other in messages)


def fixture(name: str) -> bytes:
    return (DATA / f"{name}.bin").read_bytes()


def numbered(start: int, stop: int) -> bytes:
    return b"".join(f"line {n:04d}\r\n".encode() for n in range(start, stop))


def view_of(console: SerialConsole) -> ConsoleView:
    return console.query_one(ConsoleView)


def visible_strips(console: SerialConsole) -> list[Strip]:
    view = view_of(console)
    return [view.render_line(y) for y in range(view.scrollable_content_region.height)]


def visible_texts(console: SerialConsole) -> list[str]:
    return [strip.text.rstrip() for strip in visible_strips(console)]


def strip_with(console: SerialConsole, text: str) -> Strip:
    return next(strip for strip in visible_strips(console) if text in strip.text)


def style_at(strip: Strip, cell: int) -> Style:
    position = 0
    for segment in strip:
        if position <= cell < position + segment.cell_length:
            return segment.style or Style()
        position += segment.cell_length
    raise AssertionError(f"no cell {cell} in {strip.text!r}")


def style_of(strip: Strip, text: str) -> Style:
    return style_at(strip, strip.text.index(text))


async def settle(pilot: Pilot[None], console: SerialConsole) -> None:
    console.flush()
    await pilot.pause()


def flood(size: int, seed: int = 7) -> Iterator[bytes]:
    """A boot log of `size` bytes in 64 KiB chunks, the way the bridge hands them over."""
    rnd = random.Random(seed)
    lines: list[bytes] = []
    total = 0
    n = 0
    while total < size:
        if rnd.random() < 0.6:
            line = f"[{n / 1000:12.6f}] virtio_net virtio{n % 4} eth0: link up {n}\r\n"
        else:
            line = f"[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39munit-{n}.service\x1b[0m.\r\n"
        lines.append(line.encode())
        total += len(lines[-1])
        n += 1
    lines.append(b"END OF FLOOD\r\n")
    data = b"".join(lines)
    for start in range(0, len(data), 65536):
        yield data[start : start + 65536]


# Section: golden files and the terminal model


@pytest.mark.parametrize("name", FIXTURES)
async def test_capture_renders_as_its_golden_text(name: str) -> None:
    console = SerialConsole("server")
    async with ConsoleApp(console).run_test(size=SIZE):
        console.feed(fixture(name))
        assert console.plain_text() == (DATA / f"{name}.txt").read_text().rstrip("\n")


def test_split_sequences_render_like_the_whole_stream() -> None:
    data = b"".join(fixture(name) for name in FIXTURES)
    whole, pieces = Terminal(rows=30), Terminal(rows=30)
    whole.feed(data)
    rnd = random.Random(3)
    position = 0
    while position < len(data):
        step = rnd.randint(1, 7)
        pieces.feed(data[position : position + step])
        position += step
    assert pieces.history == whole.history
    assert [pieces.screen_line(r) for r in range(30)] == [whole.screen_line(r) for r in range(30)]


def test_fast_ascii_path_matches_pyte() -> None:
    rnd = random.Random(5)
    noise = "".join(
        rnd.choice(["\r\n", "\r", "\x1b[1;31m", "\x1b[0m", "\x1b[5;3H", "\x1b[K", "é", "中"])
        + "".join(rnd.choice("abc xyz=[]#") for _ in range(rnd.randint(0, 120)))
        for _ in range(400)
    ).encode()
    ours, reference = ConsoleScreen(80, 25, lambda line, changed: None), pyte.Screen(80, 25)
    pyte.ByteStream(ours).feed(noise)
    pyte.ByteStream(reference).feed(noise)
    assert [ours.buffer[y] for y in range(25)] == [reference.buffer[y] for y in range(25)]
    assert (ours.cursor.x, ours.cursor.y) == (reference.cursor.x, reference.cursor.y)


def test_clear_screen_keeps_earlier_lines_in_history() -> None:
    terminal = Terminal(rows=10)
    terminal.feed(fixture("fullscreen"))
    assert list(terminal.texts(0, 3)) == [
        "<<< Welcome to the installer >>>",
        "old line one",
        "old line two",
    ]
    assert terminal.screen_line(0).text.startswith(" nixos-install")


def test_find_wraps_both_ways_and_ignores_case() -> None:
    terminal = Terminal(rows=5)
    terminal.feed(numbered(0, 20) + b"a Needle here\r\n" + numbered(20, 40) + b"needle 2\r\n")
    assert terminal.find("NEEDLE", 0) == (20, 2)
    assert terminal.find("needle", 21) == (41, 0)
    assert terminal.find("needle", 42) == (20, 2)
    assert terminal.find("needle", 19, forward=False) == (41, 0)
    assert terminal.find("absent", 0) is None


@pytest.mark.parametrize(
    ("key", "character", "expected"),
    [
        ("a", "a", b"a"),
        ("space", " ", b" "),
        ("eacute", "é", "é".encode()),
        ("enter", "\r", b"\r"),
        ("backspace", "\x7f", b"\x7f"),
        ("tab", "\t", b"\t"),
        ("ctrl+c", "\x03", b"\x03"),
        ("ctrl+d", "\x04", b"\x04"),
        ("up", None, b"\x1b[A"),
        ("left", None, b"\x1b[D"),
        ("pagedown", None, b"\x1b[6~"),
        ("ctrl+right_square_bracket", "\x1d", b"\x1b"),
        ("f24", None, None),
    ],
)
def test_keys_become_terminal_bytes(key: str, character: str | None, expected: bytes) -> None:
    assert key_to_bytes(key, character) == expected


# Section: rendering


async def test_colours_and_attributes_reach_the_strips() -> None:
    console = SerialConsole("server")
    async with ConsoleApp(console).run_test(size=SIZE) as pilot:
        console.feed(fixture("systemd-status") + fixture("fullscreen"))
        await settle(pilot, console)
        console.query_one(ConsoleView).scroll_home(animate=False)
        await pilot.pause()
        ok = style_of(strip_with(console, "Created slice"), "  OK  ")
        assert ok.color == Color.parse("green")
        failed = style_of(strip_with(console, "[FAILED]"), "FAILED")
        assert failed.bold and failed.color == Color.parse("red")
        grey = style_of(strip_with(console, "See '"), "systemctl status")
        assert grey.color is not None and grey.color.triplet == (0x8A, 0x8A, 0x8A)
        orange = style_of(strip_with(console, "Backdoor Shell"), "backdoor.service")
        assert orange.color is not None and orange.color.triplet == (255, 135, 0)
        unit = style_of(strip_with(console, "broken.service"), "broken.service")
        assert unit.bold
        plain = style_of(strip_with(console, "Created slice"), "Created")
        assert plain.bgcolor == view_of(console).rich_style.bgcolor  # theme default

        console.query_one(ConsoleView).scroll_end(animate=False)
        await pilot.pause()
        title = strip_with(console, "nixos-install")
        assert style_of(title, "nixos-install").reverse
        assert not style_of(title, "step 2/3").reverse
        button = style_of(strip_with(console, "Press Enter"), "Press")
        assert button.bgcolor == Color.parse("blue")
        assert button.color == Color.parse("bright_white")


async def test_only_dirty_lines_are_redrawn(monkeypatch: pytest.MonkeyPatch) -> None:
    console = SerialConsole("server")
    async with ConsoleApp(console).run_test(size=SIZE) as pilot:
        console.feed(b"Unpacking\r\n[#    ]  20%")
        await settle(pilot, console)
        view = view_of(console)
        lines: list[int] = []
        full: list[object] = []
        monkeypatch.setattr(view, "refresh_line", lines.append)
        monkeypatch.setattr(view, "refresh", lambda *args, **kwargs: full.append(args))
        console.feed(b"\r[##   ]  40%")
        console.flush()
        assert lines == [len(console.query_one(ConsoleView)._terminal.history) + 1]
        assert full == []


async def test_scrolling_renders_only_the_new_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    console = SerialConsole("server")
    async with ConsoleApp(console).run_test(size=SIZE) as pilot:
        console.feed(numbered(0, 100))
        await settle(pilot, console)
        terminal = view_of(console)._terminal
        rendered: list[int] = []
        line = terminal.line

        def counting_line(number: int) -> HistoryLine:
            rendered.append(number)
            return line(number)

        monkeypatch.setattr(terminal, "line", counting_line)
        console.feed(numbered(100, 103))
        await settle(pilot, console)
        assert "line 0102" in visible_texts(console)
        assert rendered and min(rendered) >= 100, "lines that only moved up come from the cache"


async def test_cached_strips_never_go_stale() -> None:
    """Whatever arrives between two redraws, the view shows what the terminal holds."""
    console = SerialConsole("server", scrollback=60)
    async with ConsoleApp(console).run_test(size=(100, 20)) as pilot:
        data = b"".join(fixture(name) for name in FIXTURES) + numbered(0, 40)
        data += b"".join(b"\r[%3d%%] step %d\x1b[K" % (n, n) + b"\r\n" * (n % 3) for n in range(60))
        rnd = random.Random(11)
        view = view_of(console)
        position = 0
        while position < len(data):
            step = rnd.randint(1, 300)
            console.feed(data[position : position + step])
            position += step
            console.flush()
            if rnd.random() < 0.2:
                view.scroll_relative(y=rnd.randint(-15, 15), animate=False)
            shown = [strip.text.rstrip() for strip in visible_strips(console)]
            width = view.scrollable_content_region.width
            expected = [view._terminal.text(n)[:width].rstrip() for n in view.visible_lines]
            assert shown == expected[: len(shown)]
        await pilot.pause()


async def test_scrollback_is_bounded() -> None:
    console = SerialConsole("server", scrollback=100)
    async with ConsoleApp(console).run_test(size=SIZE) as pilot:
        console.feed(numbered(0, 1000))
        await settle(pilot, console)
        rows = view_of(console).scrollable_content_region.height
        text = console.plain_text().splitlines()
        assert len(text) == console.line_count <= 100 + rows
        assert text[-1] == "line 0999"
        assert text[0] == f"line {1000 - len(text):04d}"
        assert view_of(console).virtual_size.height == 100 + rows


# Section: follow, freeze, flood


async def test_scrolling_up_freezes_and_f_follows_again() -> None:
    console = SerialConsole("server")
    async with ConsoleApp(console).run_test(size=SIZE) as pilot:
        console.feed(numbered(0, 200))
        await settle(pilot, console)
        assert console.following and "line 0199" in visible_texts(console)
        await pilot.press("k")
        assert not console.following and console.has_class("-frozen")
        before = visible_texts(console)
        console.feed(numbered(200, 250))
        await settle(pilot, console)
        assert visible_texts(console) == before
        assert "50 new lines" in str(console.border_subtitle)
        await pilot.press("f")
        assert console.following and not console.has_class("-frozen")
        assert "line 0249" in visible_texts(console)


async def test_frozen_view_keeps_its_lines_while_history_is_trimmed() -> None:
    console = SerialConsole("server", scrollback=100)
    async with ConsoleApp(console).run_test(size=SIZE) as pilot:
        console.feed(numbered(0, 300))
        await settle(pilot, console)
        await pilot.press("pageup")
        before = visible_texts(console)
        console.feed(numbered(300, 330))
        await settle(pilot, console)
        assert visible_texts(console) == before


async def test_flood_is_parsed_in_slices_and_keys_get_through() -> None:
    console = SerialConsole("server")
    app = ConsoleApp(console)
    async with app.run_test(size=SIZE) as pilot:
        for chunk in flood(3_000_000):
            console.feed(chunk)
        await pilot.press("x")
        assert app.probes and app.probes[0] > 0, "the key waited for the whole flood"
        await until(lambda: console.pending_bytes == 0, seconds=25)
        await pilot.pause(0.1)
        assert console.skipped_bytes == 0
        assert console.plain_text(last=1) == "END OF FLOOD"
        assert "END OF FLOOD" in visible_texts(console)
        assert console.line_count <= 10_000 + view_of(console).scrollable_content_region.height


async def test_backlog_is_bounded_by_skipping_the_oldest_bytes() -> None:
    console = SerialConsole("server")
    console.MAX_BACKLOG = 256 * 1024
    async with ConsoleApp(console).run_test(size=SIZE):
        for chunk in flood(2_000_000, seed=9):
            console.feed(chunk)
            assert console.pending_bytes <= console.MAX_BACKLOG + 200
        assert console.skipped_bytes > 1_000_000
        await until(lambda: console.pending_bytes == 0)
        text = console.plain_text()
        assert "bytes skipped to catch up" in text
        assert text.endswith("END OF FLOOD")


# Section: search, copy, input


async def test_search_jumps_to_matches_and_highlights_them() -> None:
    console = SerialConsole("server")
    async with ConsoleApp(console).run_test(size=SIZE) as pilot:
        console.feed(numbered(0, 20) + b"the Needle one\r\n" + numbered(21, 150))
        console.feed(b"needle two\r\n" + numbered(151, 300))
        await settle(pilot, console)
        view = view_of(console)
        await pilot.press("slash", *"NEEDLE", "enter")
        assert console.has_class("-searching") and not console.following
        assert view.match is not None and view.match[0] == 20
        hit = strip_with(console, "the Needle one")
        assert style_at(hit, 4).bgcolor == view.overlay_styles.match.bgcolor
        assert style_at(hit, 0).bgcolor != view.overlay_styles.match.bgcolor
        await pilot.press("n")
        assert view.match[0] == 150 and "needle two" in visible_texts(console)
        await pilot.press("n")
        assert view.match[0] == 20
        await pilot.press("N")
        assert view.match[0] == 150
        await pilot.press("escape")
        assert view.match is None and not console.has_class("-searching")


async def test_search_for_missing_text_says_so() -> None:
    console = SerialConsole("server")
    app = ConsoleApp(console)
    async with app.run_test(size=SIZE) as pilot:
        console.feed(numbered(0, 10))
        await pilot.press("slash", *"zebra", "enter")
        assert view_of(console).match is None
        assert any("not found" in notice for notice in app.notices)


async def test_line_selection_is_copied() -> None:
    console = SerialConsole("server")
    app = ConsoleApp(console)
    copied: list[SerialConsole.Copied] = []

    def hook(message: Message) -> None:
        if isinstance(message, SerialConsole.Copied) and not seen(message, copied):
            copied.append(message)

    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        console.feed(numbered(0, 10))
        await settle(pilot, console)
        await pilot.press("v", "k", "k")
        assert not console.following
        selected = strip_with(console, "line 0008")
        selection = view_of(console).overlay_styles.selection
        assert style_of(selected, "line").bgcolor == selection.bgcolor
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard == "line 0007\nline 0008\nline 0009"
        assert [message.text for message in copied] == [app.clipboard]
        assert view_of(console).selection is None


async def test_input_mode_sends_keys_off_the_ui_thread() -> None:
    recorder = Recorder()
    console = SerialConsole("server", send=recorder)
    sent: list[SerialConsole.InputSent] = []

    def hook(message: Message) -> None:
        if isinstance(message, SerialConsole.InputSent) and not seen(message, sent):
            sent.append(message)

    keys = ["e", "c", "h", "o", "space", "f", "slash", "enter", "ctrl+c", "ctrl+d", "up"]
    keys += ["left", "backspace", "tab", "ctrl+right_square_bracket"]
    expected = b"echo f/\r\x03\x04\x1b[A\x1b[D\x7f\t\x1b"
    async with ConsoleApp(console).run_test(size=SIZE, message_hook=hook) as pilot:
        await pilot.press("i")
        assert console.input_mode and console.has_class("-input")
        assert "INPUT" in str(console.border_title)
        await pilot.press(*keys)
        await until(lambda: b"".join(message.data for message in sent) == expected)
        assert recorder.received() == expected
        assert threading.get_ident() not in recorder.threads
        assert not console.has_class("-searching"), "keys in input mode must not run bindings"
        await pilot.press("escape")
        assert not console.input_mode and not console.has_class("-input")
        await pilot.press("k")
        await pilot.pause(0.05)
        assert recorder.received() == expected


async def test_input_mode_shows_the_guest_cursor() -> None:
    console = SerialConsole("server", send=Recorder())
    async with ConsoleApp(console).run_test(size=SIZE) as pilot:
        console.feed(b"Welcome\r\nlogin: ")
        await settle(pilot, console)
        reverse = view_of(console).overlay_styles.cursor
        assert not style_at(strip_with(console, "login:"), 7).reverse
        await pilot.press("i")
        assert reverse.reverse and style_at(strip_with(console, "login:"), 7).reverse


async def test_input_mode_is_refused_without_send() -> None:
    console = SerialConsole("server")
    app = ConsoleApp(console)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")
        assert not console.input_mode
        assert any("takes no input" in notice for notice in app.notices)


async def test_shrinking_keeps_every_line() -> None:
    console = SerialConsole("server")
    async with ConsoleApp(console).run_test(size=SIZE) as pilot:
        console.feed(numbered(0, 30) + b"prompt$ ")
        await settle(pilot, console)
        before = console.plain_text()
        await pilot.resize_terminal(SIZE[0], 16)
        await settle(pilot, console)
        assert view_of(console)._terminal.rows == view_of(console).scrollable_content_region.height
        assert console.plain_text() == before
        assert "prompt$" in visible_texts(console)


async def test_a_console_in_a_hidden_tab_catches_up_when_shown() -> None:
    class Tabs(App[None]):
        def compose(self) -> ComposeResult:
            with TabbedContent():
                with TabPane("log", id="log"):
                    yield Static("driver log")
                with TabPane("server", id="server"):
                    yield SerialConsole("server", id="console")

    app = Tabs()
    async with app.run_test(size=SIZE) as pilot:
        console = app.query_one("#console", SerialConsole)
        console.feed(numbered(0, 100))
        await pilot.pause(0.1)
        assert console.pending_bytes == 0
        app.query_one(TabbedContent).active = "server"
        await pilot.pause()
        assert "line 0099" in visible_texts(console) and console.following


async def test_a_failing_send_is_reported_and_typing_goes_on() -> None:
    calls: list[bytes] = []

    def send(data: bytes) -> None:
        calls.append(data)
        if len(calls) == 1:
            raise BrokenPipeError("QEMU has exited")

    console = SerialConsole("server", send=send)
    app = ConsoleApp(console)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i", "a")
        await until(lambda: any("QEMU has exited" in notice for notice in app.notices))
        await pilot.press("b")
        await until(lambda: calls == [b"a", b"b"])
        assert console.input_mode


async def test_mouse_selection_stays_on_its_text_while_output_goes_on() -> None:
    console = SerialConsole("server", scrollback=50)
    app = ConsoleApp(console)
    async with app.run_test(size=SIZE) as pilot:
        console.feed(numbered(0, 100))
        await settle(pilot, console)
        view = view_of(console)
        row = visible_texts(console).index("line 0090")
        await pilot.mouse_down(view, offset=(5, row))
        await pilot.hover(view, offset=(8, row + 2))
        await pilot.mouse_up(view, offset=(8, row + 2))
        await pilot.pause()
        expected = "0090\nline 0091\nline 0092"
        assert app.screen.get_selected_text() == expected
        assert not console.following, "selecting freezes the view"
        console.feed(numbered(100, 120))  # trims 20 lines off the history's top
        await settle(pilot, console)
        assert app.screen.get_selected_text() == expected
        assert "line 0091" in visible_texts(console)
