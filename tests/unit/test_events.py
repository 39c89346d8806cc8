"""The event bus: per-subscriber queues, filters, history, bounded without blocking."""

from __future__ import annotations

import threading

from nixtest_tui.driver.events import EventBus, MachineStateChanged, SerialLine, VLanChanged


def state(machine: str, value: str) -> MachineStateChanged:
    return MachineStateChanged(machine=machine, state=value)


def test_every_subscriber_gets_every_matching_event() -> None:
    bus = EventBus()
    with bus.subscribe() as everything, bus.subscribe(VLanChanged) as vlans, \
            bus.subscribe(predicate=lambda e: getattr(e, "machine", "") == "a") as only_a:
        bus.publish(state("a", "starting"))
        bus.publish(state("b", "starting"))
        bus.publish(VLanChanged(nr=1, up=True))
        assert len(everything.get_nowait()) == 3
        assert [e.nr for e in vlans.get_nowait() if isinstance(e, VLanChanged)] == [1]
        assert [getattr(e, "machine", None) for e in only_a.get_nowait()] == ["a"]


def test_full_queue_drops_oldest_and_counts() -> None:
    bus = EventBus()
    with bus.subscribe(maxsize=2) as slow:
        for i in range(5):
            bus.publish(SerialLine(machine="m", line=str(i)))
        assert [e.line for e in slow.get_nowait() if isinstance(e, SerialLine)] == ["3", "4"]
        assert slow.dropped == 3


def test_late_subscriber_can_replay_history() -> None:
    bus = EventBus(history=2)
    for value in ("starting", "running", "connected"):
        bus.publish(state("m", value))
    with bus.subscribe(replay=True) as late:
        assert [getattr(e, "state", "") for e in late.get_nowait()] == ["running", "connected"]


def test_blocking_get_wakes_on_publish_and_on_close() -> None:
    bus = EventBus()
    subscription = bus.subscribe()
    threading.Timer(0.05, bus.publish, args=(state("m", "exited"),)).start()
    event = subscription.get(timeout=5)
    assert isinstance(event, MachineStateChanged) and event.state == "exited"
    assert subscription.get(timeout=0.01) is None
    threading.Timer(0.05, subscription.close).start()
    assert list(subscription) == []


