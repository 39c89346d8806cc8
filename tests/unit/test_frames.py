"""The variables and stack panes' engine on a real ScriptRunner (a Driver without machines):
the paused stack, a frame's variables without the driver's names, expansion without running
properties, change detection between pauses, and evaluation in an outer frame."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import machineless_driver, next_state

from nixtest_tui.debugger import ScriptRunner
from nixtest_tui.debugger.frames import (
    BlockedCalls,
    Scope,
    Variable,
    VariableView,
    public_attributes,
    summarize,
)
from nixtest_tui.debugger.transform import HOOK
from nixtest_tui.driver import Driver
from nixtest_tui.driver.events import (
    CommandFinished,
    CommandStarted,
    ScriptStateChanged,
    Subscription,
    WaitFinished,
    WaitProgress,
    WaitStarted,
)

SCRIPT = textwrap.dedent("""\
    import json

    class Probe:
        def __init__(self):
            self.name = "probe"
            self._secret = 1

        @property
        def guest(self):
            raise AssertionError("a property was run")

    def check(config, items):
        probe = Probe()
        count = len(items)
        count += 1
        return count

    settings = {"port": 80, "hosts": ["a", "b"]}
    outer_value = 1
    with subtest("inner call"):
        total = check(settings, [1, 2, 3])
    done = total
""")


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Driver]:
    with machineless_driver(tmp_path, SCRIPT) as running:
        yield running


@pytest.fixture
def paused(driver: Driver) -> Iterator[tuple[ScriptRunner, Subscription]]:
    """Paused at `probe = Probe()` inside check(), called from a subtest."""
    runner = ScriptRunner(driver)
    events = driver.bus.subscribe(ScriptStateChanged)
    runner.add_breakpoint(13)
    runner.start()
    assert next_state(events, "paused").line == 13
    yield runner, events
    runner.close(5)


def by_name(nodes: list[Variable]) -> dict[str, Variable]:
    return {node.name: node for node in nodes}


def scope(runner: ScriptRunner, index: int | None = None, show_all: bool = False) -> Scope:
    found = runner.scope(index, show_all)
    assert found is not None
    return found


def test_stack_lists_the_script_frames_innermost_first(
        paused: tuple[ScriptRunner, Subscription]) -> None:
    runner, _ = paused
    stack = runner.stack()
    assert [(e.index, e.function, e.line) for e in stack] == [(0, "check", 13),
                                                            (1, "<module>", 21)]
    assert stack[0].source == "probe = Probe()"
    assert stack[1].source == "total = check(settings, [1, 2, 3])"  # (no driver frame between)
    assert runner.paused_frame is not None and runner.paused_frame.f_code.co_name == "check"


def test_function_frame_shows_its_locals_and_module_frame_the_users_globals(
        paused: tuple[ScriptRunner, Subscription]) -> None:
    runner, _ = paused
    local = scope(runner)
    assert (local.function, local.is_module) == ("check", False)
    assert set(local.values) == {"config", "items"}  # probe is not assigned yet
    module = scope(runner, 1)
    assert set(module.values) == {"json", "Probe", "check", "settings", "outer_value"}
    everything = scope(runner, 1, show_all=True).values
    assert {"subtest", "start_all", "driver", "t", HOOK, "__builtins__"} <= set(everything)


def test_expanding_a_dict_a_list_and_an_object_runs_no_property(
        paused: tuple[ScriptRunner, Subscription]) -> None:
    runner, events = paused
    runner.step_over()
    assert next_state(events, "paused").line == 14
    view = VariableView()
    nodes = by_name(view.top(scope(runner, 1)))
    settings = nodes["settings"]
    assert (settings.type_name, settings.expandable) == ("dict", True)
    assert settings.summary == "{'hosts': ['a', 'b'], 'port': 80}"
    entries = by_name(view.children(settings))
    assert entries["['port']"].summary == "80" and not entries["['port']"].expandable
    hosts = entries["['hosts']"]
    assert [n.summary for n in view.children(hosts)] == ["'a'", "'b'"]
    assert hosts.path == ("<module>", "settings", "['hosts']")
    local = by_name(view.top(scope(runner)))
    assert local["probe"].type_name == "Probe" and local["probe"].expandable
    assert [(n.name, n.summary) for n in view.children(local["probe"])] == [("name", "'probe'")]
    assert not nodes["json"].expandable and not nodes["check"].expandable
    assert [nodes[n].summary for n in ("json", "Probe", "check")] == [
        "module json", "class Probe", "def check(config, items)"]


def test_long_values_are_summarized_on_one_bounded_line() -> None:
    assert len(summarize(list(range(100_000)))) < 80
    assert "\n" not in summarize("a\nb") and summarize("a\nb") == "'a\\nb'"

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert summarize(Broken()).startswith("<Broken instance at ")  # (reprlib: no raise)

    class Slotted:
        __slots__ = ("kept", "unset", "_private")

        def __init__(self) -> None:
            self.kept = 3

    assert public_attributes(Slotted()) == {"kept": 3}
    view = VariableView()
    big = view.top(Scope("<module>", 1, {"big": list(range(250))}))[0]
    children = view.children(big)
    assert len(children) == 101 and children[-1].summary == "150 more"


def test_values_changed_since_the_last_pause_are_marked(
        paused: tuple[ScriptRunner, Subscription]) -> None:
    runner, events = paused
    view = VariableView()
    first = by_name(view.top(scope(runner)))
    assert not any(node.changed for node in first.values())
    runner.step_over()
    assert next_state(events, "paused").line == 14
    view.next_pause()
    second = by_name(view.top(scope(runner)))
    assert second["probe"].changed  # new since the last pause
    assert not second["config"].changed and not second["items"].changed
    runner.step_over()
    assert next_state(events, "paused").line == 15
    view.next_pause()
    third = by_name(view.top(scope(runner)))
    assert (third["count"].summary, third["count"].changed) == ("3", True)
    assert not third["probe"].changed
    runner.step_over()
    assert next_state(events, "paused").line == 16
    view.next_pause()
    fourth = by_name(view.top(scope(runner)))
    assert (fourth["count"].summary, fourth["count"].changed) == ("4", True)
    assert runner.evaluate("items = []").ok  # a REPL statement during the same pause
    fifth = by_name(view.top(scope(runner)))
    assert fifth["items"].changed and not fifth["config"].changed
    assert by_name(view.top(scope(runner)))["items"].changed  # (until the next pause)


def test_evaluation_in_a_selected_outer_frame_writes_back(
        paused: tuple[ScriptRunner, Subscription]) -> None:
    runner, events = paused
    assert runner.evaluate("items").output == "[1, 2, 3]"
    assert runner.select_frame(1) == ""
    assert runner.evaluate("outer_value").output == "1"
    assert "NameError" in runner.evaluate("items").error  # not the inner frame's name
    assert runner.evaluate("outer_value = 42").ok
    assert "outer_value" in runner.completions("outer_")
    assert runner.select_frame(2) == "the stack has 2 frames"
    assert runner.select_frame(0) == ""
    assert runner.evaluate("items.append(4)").ok and runner.evaluate("count = 0").ok
    runner.step_over()
    assert next_state(events, "paused").line == 14
    assert runner.paused_frame is not None and runner.paused_frame.f_code.co_name == "check"
    assert runner.evaluate("count").output == "0"  # (the next pause starts innermost again)
    runner.step_over()
    assert next_state(events, "paused").line == 15
    assert runner.evaluate("count").output == "4"
    runner.continue_()
    assert next_state(events, "finished", "failed").state == "finished"
    assert runner.select_frame(0) == "the script is not paused"
    assert runner.scope() is None and runner.stack() == []


def test_reading_variables_never_undoes_an_assignment_of_a_running_evaluation(
        paused: tuple[ScriptRunner, Subscription]) -> None:
    """The variables pane reads a frame while a REPL statement may be half done in it (one
    that assigned, then waits on a guest): the read must wait, or it would refresh the locals
    from the frame and the assignment would be lost when the statement ends."""
    runner, _ = paused
    frame = runner.paused_frame
    assert frame is not None
    started, gate = threading.Event(), threading.Event()
    frame.f_globals.update(started=started, gate=gate)
    answers: list[str] = []
    statement = "items = 'changed'; started.set(); gate.wait(30)"
    evaluation = threading.Thread(target=lambda: answers.append(
        runner.evaluate(statement).error))
    evaluation.start()
    assert started.wait(30)
    assert runner.scope(timeout=0) is None  # the evaluation holds the frame
    gate.set()
    evaluation.join(30)
    assert answers == [""]
    assert runner.evaluate("items").output == "'changed'"
    assert scope(runner).values["items"] == "changed"


def test_a_local_assigned_in_an_outer_function_frame_is_written_back(driver: Driver) -> None:
    text = textwrap.dedent("""\
        def inner():
            return 1

        def outer():
            kept = "before"
            inner()
            return kept

        result = outer()
        done = result
    """)
    runner = ScriptRunner(driver, text)
    events = driver.bus.subscribe(ScriptStateChanged)
    runner.add_breakpoint(2)
    runner.add_breakpoint(10)
    runner.start()
    assert next_state(events, "paused").line == 2
    assert [e.function for e in runner.stack()] == ["inner", "outer", "<module>"]
    assert runner.select_frame(1) == ""
    assert runner.evaluate('kept = "after"').ok
    assert scope(runner).values["kept"] == "after"
    runner.continue_()
    assert next_state(events, "paused").line == 10
    assert runner.evaluate("result").output == "'after'"  # outer() returned the new value
    runner.close(5)


def test_blocked_calls_follow_the_machine_events() -> None:
    calls = BlockedCalls()
    assert calls.handle(WaitStarted(machine="server", what="unit", target="echo.service",
                                    timeout=900.0, time=10.0))
    assert calls.handle(CommandStarted(machine="server", command="systemctl is-active echo",
                                       timeout=None, time=11.0))
    assert [c.call for c in calls.calls()] == [
        "server.wait_for_unit('echo.service')", "server.execute('systemctl is-active echo')"]
    assert calls.calls()[0].elapsed(now=13.5) == 3.5
    calls.handle(CommandFinished(machine="server", command="systemctl is-active echo",
                                 status=3, duration=0.1, output_size=0))
    calls.handle(WaitProgress(machine="server", what="unit", target="echo.service",
                              elapsed=2.0, last_result="'inactive'"))
    assert [(c.call, c.last_result) for c in calls.calls()] == [
        ("server.wait_for_unit('echo.service')", "'inactive'")]
    calls.handle(WaitFinished(machine="server", what="unit", target="echo.service",
                              elapsed=3.0, success=True))
    assert calls.calls() == []
    assert not calls.handle(ScriptStateChanged(state="running"))
