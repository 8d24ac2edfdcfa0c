"""Reads share one inbox per connection, and a read teaches the store where an actor ends."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from uuid import uuid4

import nats
import pytest
from nats.aio.client import Client

from aether import ActorSnapshot, VersionConflictError
from aether.store import JetStreamEventStore
from aether.testing import NatsServer, make_event


async def test_concurrent_reads_on_one_connection_each_get_their_own_actor(nc: Client) -> None:
    name = f"reads_{uuid4().hex[:8]}"
    stores = [await JetStreamEventStore.create(nc, f"{name}_{n}") for n in range(2)]
    try:
        for store_index, store in enumerate(stores):
            for actor in range(20):
                await store.save_events([make_event(f"a{actor}", v, n=store_index * 100 + actor)
                                         for v in range(1, actor % 4 + 2)])

        async def read(store_index: int, actor: int) -> None:
            events = await stores[store_index].get_events(f"a{actor}")
            assert [event.version for event in events] == list(range(1, actor % 4 + 2))
            assert {event.data["n"] for event in events} == {store_index * 100 + actor}

        await asyncio.gather(*(read(s, a) for s in range(2) for a in range(20) for _ in range(3)))
    finally:
        for store in stores:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await nc.jetstream().delete_stream(store.stream_name)
                await nc.jetstream().delete_stream(store.snapshot_stream_name)


async def test_a_write_from_elsewhere_after_a_read_is_still_a_conflict(
    nats_server: NatsServer,
) -> None:
    # The store remembers where the actor ended when it read it; another process writing
    # afterwards must still make this save a VersionConflictError, never a lost event.
    name = f"stale_{uuid4().hex[:8]}"
    ours, theirs = await nats.connect(nats_server.url), await nats.connect(nats_server.url)
    try:
        store = await JetStreamEventStore.create(ours, name)
        other = await JetStreamEventStore.create(theirs, name)
        await store.save_event(make_event("a", 1))
        assert [event.version for event in await store.get_events("a")] == [1]
        await other.save_event(make_event("a", 2))
        with pytest.raises(VersionConflictError) as conflict:
            await store.save_event(make_event("a", 2))
        assert conflict.value.current_version == 2
        assert [event.version for event in await other.get_events("a")] == [1, 2]
        await store.save_event(make_event("a", 3))  # once it knows, it writes on
        assert await other.get_latest_version("a") == 3
    finally:
        with contextlib.suppress(Exception):
            await ours.jetstream().delete_stream(name)
            await ours.jetstream().delete_stream(f"{name}_snapshots")
        await ours.close()
        await theirs.close()


async def test_a_load_from_a_snapshot_fetches_only_the_later_events(
    nats_server: NatsServer,
) -> None:
    # The snapshot remembers where its event sits in the stream, so a reader (another
    # process, nothing cached) asks the server only for what follows it.
    name = f"tail_{uuid4().hex[:8]}"
    writer_nc, reader_nc = await nats.connect(nats_server.url), await nats.connect(nats_server.url)
    try:
        writer = await JetStreamEventStore.create(writer_nc, name)
        for first in range(1, 301, 100):
            await writer.save_events([make_event("busy", v) for v in range(first, first + 100)])
        now = datetime.now(UTC)
        await writer.save_snapshot(ActorSnapshot(actor_id="busy", version=300, timestamp=now,
                                                 state={"total": 300}))
        await writer.save_events([make_event("busy", 301), make_event("busy", 302)])
        # A snapshot whose event is not (yet) the actor's latest records no position.
        await writer.save_snapshot(ActorSnapshot(actor_id="old", version=1, timestamp=now))
        await writer.save_events([make_event("old", 1), make_event("old", 2)])

        reader = await JetStreamEventStore.create(reader_nc, name)
        snapshot = await reader.get_latest_snapshot("busy")
        assert snapshot is not None and snapshot.version == 300
        before = reader_nc.stats["in_msgs"]
        tail = await reader.get_events("busy", snapshot.version + 1)
        assert [event.version for event in tail] == [301, 302]
        assert reader_nc.stats["in_msgs"] - before <= 3  # 2 events and the end of the batch
        assert len(await reader.get_events("busy")) == 302  # a whole read is still whole
        await reader.save_event(make_event("busy", 303))  # and the tail read taught the tip

        assert (await reader.get_latest_snapshot("old")) is not None
        assert [event.version for event in await reader.get_events("old", 2)] == [2]
    finally:
        with contextlib.suppress(Exception):
            await writer_nc.jetstream().delete_stream(name)
            await writer_nc.jetstream().delete_stream(f"{name}_snapshots")
        await writer_nc.close()
        await reader_nc.close()
