"""Recording an external system's events (aether/external.py), the typed way generated
``external.py`` classes use, on the memory store and on JetStream; policies then react
through the feed."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aether import (
    AetherError,
    EventBus,
    EventStore,
    ExternalSystem,
    UndeclaredExternalEventError,
    settle,
)
from aether.store import InMemoryEventStore, JetStreamEventStore
from aether.testing.counters import (
    Incremented,
    IncrementOnTick,
    Ticked,
    make_counter_router,
    registry,
)


class Clock(ExternalSystem[Ticked]):
    """What aether-gen generates for `external_systems: [{name: Clock, emits: [Ticked]}]`."""

    prefix: ClassVar[str] = "clock"
    emits: ClassVar[tuple[str, ...]] = ("Ticked",)

    def __init__(self, store: EventStore, bus: EventBus | None = None) -> None:
        super().__init__(store, registry, bus=bus, namespace="lib")


async def test_recording_appends_in_order_publishes_and_policies_react_through_the_feed(
) -> None:
    store, bus = InMemoryEventStore(), EventBus()
    subscription = await bus.subscribe("lib")
    clock = Clock(store, bus)
    first = await clock.record(Ticked(counter="a"), key="2026-03-02",
                               metadata={"source": "cron"})
    again = await clock.record(Ticked(counter="a"), key="2026-03-02")
    other = await clock.record(Ticked(counter="b"), key="2026-03-03")
    assert (first.actor_id, first.version) == ("clock-2026-03-02", 1)
    assert (again.actor_id, again.version) == ("clock-2026-03-02", 2)
    assert (other.actor_id, other.version) == ("clock-2026-03-03", 1)
    assert first.metadata["source"] == "cron"
    assert await store.get_events("clock-2026-03-02") == [first, again]
    assert registry.decode(other) == Ticked(counter="b")
    published = [await asyncio.wait_for(subscription.get(), 5) for _ in range(3)]
    assert [event.id for event in published] == [first.id, again.id, other.id]

    await settle(store, registry, make_counter_router(store), [IncrementOnTick()])
    assert [len(await store.get_events(name)) for name in ("a", "b")] == [2, 1]
    await bus.close()


async def test_an_event_the_system_does_not_emit_or_an_empty_key_is_refused() -> None:
    store = InMemoryEventStore()
    clock = Clock(store)
    with pytest.raises(UndeclaredExternalEventError,
                       match="Clock emits Ticked, not 'Incremented'"):
        await clock.record(Incremented(by=1), key="1")  # type: ignore[arg-type]
    with pytest.raises(AetherError, match="non-empty text key"):
        await clock.record(Ticked(counter="a"), key="")
    assert await store.last_position() == 0


@given(key=st.text(max_size=40))
async def test_any_key_is_recorded_under_its_own_actor_id_or_refused(key: str) -> None:
    store = InMemoryEventStore()
    try:
        stored = await Clock(store).record(Ticked(counter="a"), key=key)
    except AetherError as refused:
        assert key == "" or "actor id" in str(refused), refused
        return
    assert stored.actor_id == f"clock-{key}"
    assert await store.get_events(f"clock-{key}") == [stored]


async def test_concurrent_records_of_one_key_on_jetstream_each_get_a_version(
    jetstream_store: JetStreamEventStore,
) -> None:
    clock = Clock(jetstream_store)
    key = "pay.9 *>"  # a hostile key stays one stream: subjects encode it
    stored = await asyncio.gather(*(clock.record(Ticked(counter=str(n)), key=key)
                                    for n in range(4)))
    assert sorted(event.version for event in stored) == [1, 2, 3, 4]
    events = await jetstream_store.get_events(f"clock-{key}")
    assert sorted(event.id for event in events) == sorted(event.id for event in stored)
    assert await jetstream_store.get_events("clock-pay") == []
    await settle(jetstream_store, registry, make_counter_router(jetstream_store),
                 [IncrementOnTick()])
    assert [len(await jetstream_store.get_events(str(n))) for n in range(4)] == [1, 1, 1, 1]
