"""The in-process EventBus: the shared conformance suite, plus what only a local bus does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aether import EventBroadcaster, EventBus
from aether.testing import make_event
from aether.testing.conformance import BroadcasterConformance


class TestEventBus(BroadcasterConformance):
    @pytest.fixture
    async def bus(self) -> AsyncIterator[EventBus]:
        bus = EventBus()
        yield bus
        await bus.close()

    @pytest.fixture
    def peer(self, bus: EventBus) -> EventBus:
        return bus  # one process is the whole broadcast domain


def test_event_bus_is_an_event_broadcaster() -> None:
    assert isinstance(EventBus(), EventBroadcaster)


async def test_delivery_is_synchronous_within_publish() -> None:
    bus = EventBus()
    sub = await bus.subscribe("ns")
    await bus.publish("ns", make_event("a", 1))
    assert sub.pending == 1  # settle() and the demos rely on this


async def test_closing_the_last_subscriber_forgets_the_namespace() -> None:
    bus = EventBus()
    first, second = await bus.subscribe("ns"), await bus.subscribe("ns")
    assert bus.subscriber_count("ns") == 2
    first.close()
    second.close()
    assert bus.subscriber_count("ns") == 0
