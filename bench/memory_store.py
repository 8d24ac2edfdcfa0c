"""InMemoryEventStore vs the eventsourcing library's POPO aggregate recorder.

Both sides get their records built before timing starts (ours: Event objects;
theirs: StoredEvent objects), so the table compares the stores themselves:
appending with a version check, and reading one actor's events. The last two rows say what
holding the events costs the rest of the application: the objects the cyclic garbage
collector walks for them, and the time they add to a full collection.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

from eventsourcing.persistence import StoredEvent
from eventsourcing.popo import POPOAggregateRecorder

from aether import Event
from aether.store import InMemoryEventStore
from bench.table import Row, compare_async, print_table

ACTORS = 1_000
EVENTS_PER_ACTOR = 50
READ_ACTORS = 200


def _ours_events() -> list[Event]:
    now = datetime.now(UTC)
    return [
        Event(id=str(uuid4()), event_type="Happened", actor_id=f"actor-{a}", version=v,
              data={"n": v}, timestamp=now)
        for v in range(1, EVENTS_PER_ACTOR + 1)
        for a in range(ACTORS)
    ]


def _their_events() -> list[StoredEvent]:
    ids = [uuid4() for _ in range(ACTORS)]
    return [
        StoredEvent(originator_id=ids[a], originator_version=v, topic="bench:Happened",
                    state=b'{"n": %d}' % v)
        for v in range(1, EVENTS_PER_ACTOR + 1)
        for a in range(ACTORS)
    ]


async def _measure() -> list[Row]:
    ours_events = _ours_events()
    their_events = _their_events()
    total = len(ours_events)

    stores: list[InMemoryEventStore] = []

    async def ours_save() -> None:
        store = InMemoryEventStore()
        for event in ours_events:
            await store.save_event(event)
        stores.append(store)

    recorders: list[POPOAggregateRecorder] = []

    def their_save() -> None:
        recorder = POPOAggregateRecorder()
        for stored in their_events:
            recorder.insert_events([stored])
        recorders.append(recorder)

    async def their_save_async() -> None:
        their_save()

    ours_save_rate, their_save_rate = await compare_async(total, ours_save, their_save_async)

    store, recorder = stores[-1], recorders[-1]
    actor_ids = [f"actor-{a}" for a in range(READ_ACTORS)]
    originator_ids = [their_events[a].originator_id for a in range(READ_ACTORS)]

    async def ours_read() -> None:
        for actor_id in actor_ids:
            await store.get_events(actor_id)

    def their_read() -> None:
        for originator_id in originator_ids:
            recorder.select_events(originator_id)

    async def ours_read_tail() -> None:
        for actor_id in actor_ids:
            await store.get_events(actor_id, EVENTS_PER_ACTOR - 4)

    def their_read_tail() -> None:
        for originator_id in originator_ids:
            recorder.select_events(originator_id, gt=EVENTS_PER_ACTOR - 5)

    async def their_read_async() -> None:
        their_read()

    async def their_read_tail_async() -> None:
        their_read_tail()

    return [
        Row("save_event (one event per call)", ours_save_rate, their_save_rate),
        Row(f"get_events ({EVENTS_PER_ACTOR} events per actor)",
            *await compare_async(READ_ACTORS, ours_read, their_read_async)),
        Row("get_events from_version (last 5 events)",
            *await compare_async(READ_ACTORS, ours_read_tail, their_read_tail_async)),
    ]


async def _held(build: Callable[[], object]) -> tuple[int, float]:
    """The objects the cyclic GC tracks, and the milliseconds a full collection takes (the
    best of five), more with what ``build`` returns held than without it."""

    def census() -> tuple[int, float]:
        gc.collect()
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            gc.collect()
            best = min(best, time.perf_counter() - start)
        return len(gc.get_objects()), best * 1000

    objects, pause = census()
    held = build()
    if asyncio.iscoroutine(held):
        held = await held
    more_objects, more_pause = census()
    del held
    return more_objects - objects, more_pause - pause


async def _gc_rows() -> list[Row]:
    async def ours() -> InMemoryEventStore:
        store = InMemoryEventStore()
        for event in _ours_events():
            await store.save_event(event)
        return store

    def theirs() -> POPOAggregateRecorder:
        recorder = POPOAggregateRecorder()
        for stored in _their_events():
            recorder.insert_events([stored])
        return recorder

    ours_objects, ours_pause = await _held(ours)
    their_objects, their_pause = await _held(theirs)
    total = ACTORS * EVENTS_PER_ACTOR
    return [
        Row("objects the GC walks, per 1,000 events held", ours_objects * 1000 / total,
            their_objects * 1000 / total, "obj"),
        Row(f"full collection, {total:,} events held (added)", ours_pause, their_pause, "ms"),
    ]


def main(argv: list[str] | None = None) -> None:
    rows = asyncio.run(_measure())
    rows += asyncio.run(_gc_rows())
    print_table(
        f"In-memory event store: {ACTORS:,} actors x {EVENTS_PER_ACTOR} events",
        "eventsourcing POPOAggregateRecorder (insert_events / select_events), same run",
        rows,
    )
