"""What the variables and stack panes show: the paused script's frames, a frame's variables as
an expandable tree, the values that changed since the last pause, and the machine call a
running script is blocked in.

UI-free. Reading values never runs a property or a `__getattr__` (a machine attribute may talk
to the guest): objects are opened through their `__dict__` and `__slots__` only, and summaries
are `reprlib`-bounded so a huge list costs a few dozen items, not all of them.
"""

from __future__ import annotations

import reprlib
import threading
import time
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import CodeType, FrameType

from nixtest_tui.debugger.evaluate import completions
from nixtest_tui.debugger.transform import HOOK
from nixtest_tui.driver.events import (
    CommandFinished,
    CommandStarted,
    Event,
    WaitFinished,
    WaitProgress,
    WaitStarted,
)

MODULE = "<module>"
MAX_CHILDREN = 100
SUMMARY_WIDTH = 80
_ATOMS = (str, bytes, bytearray, int, float, complex, bool, type(None))
_OPAQUE = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
           type, CodeType, FrameType)

Path = tuple[str, ...]


# -- the stack --------------------------------------------------------------------------------

@dataclass(frozen=True)
class StackEntry:
    """One script frame; index 0 is the innermost (where the script is paused)."""

    index: int
    line: int
    function: str
    source: str


def script_frames(frame: FrameType | None, codes: set[CodeType]) -> list[FrameType]:
    """The script's own frames from `frame` outwards: the driver's frames between them (a
    `subtest`, a `retry`) are not the user's and are left out."""
    found = []
    while frame is not None:
        if frame.f_code in codes:
            found.append(frame)
        frame = frame.f_back
    return found


def describe_stack(frames: list[FrameType], text: str) -> list[StackEntry]:
    lines = text.splitlines()
    entries = []
    for index, frame in enumerate(frames):
        line = frame.f_lineno
        source = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        entries.append(StackEntry(index, line, frame.f_code.co_name, source))
    return entries


class PausedFrames:
    """The runner's paused frames as the REPL and the panes see them: which one is selected,
    and the lock that evaluations hold. Reading a function frame's locals refreshes them from
    the frame, which in the middle of an evaluation would undo an assignment before
    evaluate_in writes it back; so the panes read under the same lock."""

    def __init__(self, codes: set[CodeType], text: str,
                 driver_symbols: Callable[[], dict[str, object]]) -> None:
        self.codes, self.text = codes, text
        self.selected = 0
        self.lock = threading.Lock()
        self._driver_symbols = driver_symbols
        self._injected: frozenset[str] | None = None

    def selected_frame(self, paused: FrameType | None) -> FrameType | None:
        frames = script_frames(paused, self.codes)
        return frames[min(self.selected, len(frames) - 1)] if frames else None

    def stack(self, paused: FrameType | None) -> list[StackEntry]:
        return describe_stack(script_frames(paused, self.codes), self.text)

    def select(self, paused: FrameType | None, index: int) -> str:
        count = len(script_frames(paused, self.codes))
        if not count:
            return "the script is not paused"
        if not 0 <= index < count:
            return f"the stack has {count} frame{'s' if count > 1 else ''}"
        self.selected = index
        return ""

    def completions(self, paused: FrameType | None, text: str) -> list[str]:
        """(UI thread) None while an evaluation holds the frame: the UI must not wait."""
        if not self.lock.acquire(blocking=False):
            return []
        try:
            frame = self.selected_frame(paused)
            return completions(frame, text) if frame is not None else []
        finally:
            self.lock.release()

    def scope(self, paused: FrameType | None, index: int | None, show_all: bool,
              timeout: float = 5.0) -> Scope | None:
        if not self.lock.acquire(timeout=timeout):
            return None
        try:
            frames = script_frames(paused, self.codes)
            chosen = self.selected if index is None else index
            if not 0 <= chosen < len(frames):
                return None
            return scope_of(frames[chosen], self.injected_names(), show_all)
        finally:
            self.lock.release()

    def injected_names(self) -> frozenset[str]:
        """What the driver puts into the script's globals (not the user's), and the hook."""
        if self._injected is None:
            self._injected = frozenset({*self._driver_symbols(), HOOK})
        return self._injected


# -- a frame's variables ----------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """The names of one frame, copied while the frame was safe to read (see the runner)."""

    function: str
    line: int
    values: dict[str, object]

    @property
    def is_module(self) -> bool:
        return self.function == MODULE


def scope_of(frame: FrameType, hidden: Iterable[str], show_all: bool = False) -> Scope:
    """A function frame: its locals. Module-level code: the user's own globals, without the
    names the driver injects, the dunders and the debugger's hook, unless `show_all`."""
    function = frame.f_code.co_name
    if function != MODULE:
        return Scope(function, frame.f_lineno, dict(frame.f_locals))
    names = dict(frame.f_globals)
    if not show_all:
        skip = set(hidden)
        names = {k: v for k, v in names.items()
                 if k not in skip and not (k.startswith("__") and k.endswith("__"))}
    return Scope(function, frame.f_lineno, names)


@dataclass(frozen=True)
class Variable:
    """A node of the variables tree; `path` names it from its frame down (change detection)."""

    name: str
    path: Path
    type_name: str
    summary: str
    expandable: bool
    changed: bool = False
    value: object = field(default=None, compare=False, repr=False)


def _bounded_repr() -> reprlib.Repr:
    bounded = reprlib.Repr()
    bounded.maxstring, bounded.maxother, bounded.maxlevel = 60, 60, 3
    bounded.maxlist = bounded.maxtuple = bounded.maxset = bounded.maxfrozenset = 8
    bounded.maxdict = 5
    return bounded


_REPR = _bounded_repr()


def summarize(value: object) -> str:
    """One line, at most SUMMARY_WIDTH characters, whatever the value's repr does."""
    try:
        text = _named(value) or _REPR.repr(value)
    except Exception as exc:  # a user's __repr__ may raise anything
        text = f"<repr failed: {type(exc).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_WIDTH else text[:SUMMARY_WIDTH - 1] + "…"


def _named(value: object) -> str:
    """Functions, classes and modules by what the script calls them, not by address."""
    if isinstance(value, types.FunctionType):
        code = value.__code__
        parameters = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
        return f"def {value.__qualname__}({', '.join(parameters)})"
    if isinstance(value, type):
        return f"class {value.__qualname__}"
    if isinstance(value, types.ModuleType):
        return f"module {value.__name__}"
    return ""


def public_attributes(value: object) -> dict[str, object]:
    """Instance attributes from `__dict__` and `__slots__`, read without `getattr` on the
    object: no property, no `__getattr__`, nothing that could reach a guest."""
    found: dict[str, object] = {}
    try:
        instance_dict = object.__getattribute__(value, "__dict__")
    except AttributeError:
        instance_dict = None
    if isinstance(instance_dict, dict):
        found.update((k, v) for k, v in instance_dict.items()
                     if isinstance(k, str) and not k.startswith("_"))
    for klass in type(value).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            descriptor = klass.__dict__.get(slot)
            if slot.startswith("_") or not isinstance(descriptor, types.MemberDescriptorType):
                continue
            try:
                found.setdefault(slot, descriptor.__get__(value, klass))
            except AttributeError:
                continue  # an unset slot
    return found


def is_expandable(value: object) -> bool:
    if isinstance(value, _ATOMS) or isinstance(value, _OPAQUE):
        return False
    if isinstance(value, dict | list | tuple | set | frozenset):
        return len(value) > 0
    return bool(public_attributes(value))


def child_items(value: object) -> list[tuple[str, object]]:
    """(name, value) pairs under an expandable value, at most MAX_CHILDREN of them."""
    items: list[tuple[str, object]]
    if isinstance(value, dict):
        items = [(f"[{summarize(k)}]", v) for k, v in list(dict.items(value))[:MAX_CHILDREN]]
    elif isinstance(value, list | tuple):
        items = [(f"[{i}]", v) for i, v in enumerate(value[:MAX_CHILDREN])]
    elif isinstance(value, set | frozenset):
        ordered = sorted(value, key=summarize)[:MAX_CHILDREN]
        items = [(f"{{{i}}}", v) for i, v in enumerate(ordered)]
    else:
        items = sorted(public_attributes(value).items())[:MAX_CHILDREN]
    return items


def _size(value: object) -> int:
    if isinstance(value, dict | list | tuple | set | frozenset):
        return len(value)
    return len(public_attributes(value))


class VariableView:
    """Builds tree nodes and remembers each node's summary by path, so that a value that
    differs from what the previous pause showed is marked (as pudb does), and so is one that
    a REPL statement changed during this pause (the mark stays until the next pause)."""

    def __init__(self) -> None:
        self._previous: dict[Path, str] = {}
        self._current: dict[Path, str] = {}
        self._opened_before: set[Path] = set()
        self._opened: set[Path] = set()
        self._changed_now: set[Path] = set()

    def next_pause(self) -> None:
        """Values seen until now become the reference for the coming pause."""
        self._previous.update(self._current)
        self._opened_before |= self._opened
        self._current, self._opened, self._changed_now = {}, set(), set()

    def forget(self) -> None:
        """A new run: nothing compares with the last one."""
        self._previous, self._current = {}, {}
        self._opened_before, self._opened, self._changed_now = set(), set(), set()

    def top(self, scope: Scope) -> list[Variable]:
        root = (scope.function,)
        return self._nodes(root, sorted(scope.values.items()))

    def children(self, parent: Variable) -> list[Variable]:
        nodes = self._nodes(parent.path, child_items(parent.value))
        hidden = _size(parent.value) - len(nodes)
        if hidden > 0:
            nodes.append(Variable("…", (*parent.path, "…"), "", f"{hidden} more", False))
        return nodes

    def _nodes(self, parent: Path, items: list[tuple[str, object]]) -> list[Variable]:
        listed_already = parent in self._opened  # (this pause: a refresh after the REPL)
        self._opened.add(parent)
        return [self._node(parent, name, value, listed_already) for name, value in items]

    def _node(self, parent: Path, name: str, value: object, listed_already: bool) -> Variable:
        path = (*parent, name)
        summary = summarize(value)
        earlier = self._current.get(path)
        if earlier != summary and (earlier is not None or listed_already):
            self._changed_now.add(path)
        before = self._previous.get(path)
        changed = (before != summary) if before is not None else parent in self._opened_before
        self._current[path] = summary
        return Variable(name, path, type(value).__name__, summary, is_expandable(value),
                        changed or path in self._changed_now, value)


# -- what a running script is blocked in -------------------------------------------------------

@dataclass
class BlockedCall:
    """A machine call in progress, as the script wrote it (`server.wait_for_unit("x")`)."""

    key: tuple[str, str, str]
    call: str
    started: float
    timeout: float | None
    last_result: str = ""

    def elapsed(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.started


_WAIT_METHODS = {
    "unit": "wait_for_unit", "command": "wait_until_succeeds", "window": "wait_for_window",
    "text": "wait_for_text", "tty": "wait_until_tty_matches", "x11": "wait_for_x",
}


def wait_call(machine: str | None, what: str, target: str) -> str:
    method = _WAIT_METHODS.get(what, f"wait_for_{what}")
    owner = f"{machine}." if machine else ""
    return f"{owner}{method}({summarize(target)})"


class BlockedCalls:
    """Follows the command and wait events; outermost call first (a wait, then the command
    it is running)."""

    def __init__(self) -> None:
        self._calls: dict[tuple[str, str, str], BlockedCall] = {}

    def handle(self, event: Event) -> bool:
        """Whether `event` changed the calls."""
        if isinstance(event, WaitStarted | WaitProgress | WaitFinished):
            key = ("wait", event.machine or "", f"{event.what}\0{event.target}")
        elif isinstance(event, CommandStarted | CommandFinished):
            key = ("command", event.machine, event.command)
        else:
            return False
        if isinstance(event, WaitStarted):
            call = wait_call(event.machine, event.what, event.target)
            self._calls[key] = BlockedCall(key, call, event.time, event.timeout)
        elif isinstance(event, CommandStarted):
            call = f"{event.machine}.execute({summarize(event.command)})"
            self._calls[key] = BlockedCall(key, call, event.time, event.timeout)
        elif isinstance(event, WaitProgress):
            if key in self._calls:
                self._calls[key].last_result = event.last_result
        else:
            self._calls.pop(key, None)
        return True

    def calls(self) -> list[BlockedCall]:
        return sorted(self._calls.values(), key=lambda call: call.started)

    def clear(self) -> None:
        self._calls.clear()
