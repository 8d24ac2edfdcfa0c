from __future__ import annotations

import asyncio

import pytest

from aether import EventBus, OverflowPolicy, SubscriptionClosedError
from aether.testing import make_event


async def test_publish_reaches_only_that_namespace() -> None:
    bus = EventBus()
    tenant_a = bus.subscribe("tenant-a")
    tenant_b = bus.subscribe("tenant-b")
    event = make_event("a", 1)
    await bus.publish("tenant-a", event)
    assert await tenant_a.get(timeout=1) == event
    assert tenant_b.pending == 0
    with pytest.raises(TimeoutError):
        await tenant_b.get(timeout=0.05)


async def test_every_subscriber_of_a_namespace_gets_every_event_in_order() -> None:
    bus = EventBus()
    subs = [bus.subscribe("ns") for _ in range(3)]
    events = [make_event("a", v) for v in range(1, 6)]
    for event in events:
        await bus.publish("ns", event)
    for sub in subs:
        assert [await sub.get(timeout=1) for _ in events] == events


async def test_async_iteration_ends_when_closed() -> None:
    bus = EventBus()
    sub = bus.subscribe("ns")
    received = []

    async def reader() -> None:
        async for event in sub:
            received.append(event.version)

    task = asyncio.create_task(reader())
    await bus.publish("ns", make_event("a", 1))
    await bus.publish("ns", make_event("a", 2))
    await asyncio.sleep(0.01)
    sub.close()
    await asyncio.wait_for(task, 1)
    assert received == [1, 2]
    assert bus.subscriber_count("ns") == 0
    with pytest.raises(SubscriptionClosedError):
        await sub.get(timeout=0.1)


async def test_slow_subscriber_drops_oldest_without_blocking_others() -> None:
    bus = EventBus()
    slow = bus.subscribe("ns", max_pending=3)
    fast = bus.subscribe("ns", max_pending=100)
    for version in range(1, 11):
        await bus.publish("ns", make_event("a", version))  # never waits on `slow`
    assert slow.dropped == 7
    assert [(await slow.get(timeout=1)).version for _ in range(3)] == [8, 9, 10]
    assert [(await fast.get(timeout=1)).version for _ in range(10)] == list(range(1, 11))
    assert fast.dropped == 0


async def test_drop_newest_keeps_a_gap_free_prefix() -> None:
    bus = EventBus()
    sub = bus.subscribe("ns", max_pending=2, overflow=OverflowPolicy.DROP_NEWEST)
    for version in range(1, 6):
        await bus.publish("ns", make_event("a", version))
    assert sub.dropped == 3
    assert [(await sub.get(timeout=1)).version for _ in range(2)] == [1, 2]


async def test_closed_bus_refuses_and_ends_subscriptions() -> None:
    bus = EventBus()
    sub = bus.subscribe("ns")
    bus.close()
    assert sub.closed
    with pytest.raises(SubscriptionClosedError):
        await bus.publish("ns", make_event("a", 1))
    with pytest.raises(SubscriptionClosedError):
        bus.subscribe("ns")


def test_max_pending_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_pending"):
        EventBus().subscribe("ns", max_pending=0)
