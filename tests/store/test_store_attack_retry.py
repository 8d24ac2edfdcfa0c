"""A retried save is answered by what the server holds, not by what the store remembers.

The conformance rule (test_retrying_the_latest_save_is_a_no_op): retrying the latest save is
a no-op, retrying one that is no longer the latest is a real conflict. A store that saved an
event and then met no other write to its actor remembers that event as the latest, while
another process may have written on top of it since.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from nats.aio.client import Client

from aether import VersionConflictError
from aether.store import JetStreamConfig, JetStreamEventStore
from aether.testing import make_event


@pytest.fixture
async def processes(two_connections: tuple[Client, Client]
                    ) -> AsyncIterator[tuple[Client, Client, str]]:
    """Two connections, as two processes have, and a store name of their own (its streams
    are deleted afterwards)."""
    ours, theirs = two_connections
    name = f"retry_{uuid4().hex[:8]}"
    yield ours, theirs, name
    for stream in (name, f"{name}_snapshots"):
        with contextlib.suppress(Exception):
            await ours.jetstream().delete_stream(stream)


@pytest.mark.parametrize("batch", [1, 3])
async def test_a_retry_no_longer_the_latest_is_a_conflict_for_a_store_that_saved_it(
    processes: tuple[Client, Client, str], batch: int
) -> None:
    ours, theirs, name = processes
    store = await JetStreamEventStore.create(ours, name)
    other = await JetStreamEventStore.create(theirs, name)  # as another process
    saved = [make_event("a", version) for version in range(1, batch + 1)]
    await store.save_events(saved)
    await store.save_events(saved)  # still the latest: a no-op
    await other.get_events("a")
    await other.save_event(make_event("a", batch + 1))
    with pytest.raises(VersionConflictError) as conflict:
        await store.save_events(saved)
    assert conflict.value.current_version == batch + 1
    assert len(await other.get_events("a")) == batch + 1
    await store.save_event(make_event("a", batch + 2))  # it writes on from there


@pytest.mark.parametrize("batch", [1, 3])
async def test_a_save_whose_ack_was_lost_has_landed_though_another_writer_followed_it(
    processes: tuple[Client, Client, str], batch: int
) -> None:
    """A save's attempt stores its events but its ack is lost (a server restart, here a
    stream that acks nothing), and another writer writes on top before the save looks
    again: the save landed, once. It raised VersionConflictError, and
    ExternalSystem.record, which then records the fact again at the next version, stored it
    twice (CI: 97 events for 96 records across a server restart)."""
    ours, theirs, name = processes
    store = await JetStreamEventStore.create(ours, name, JetStreamConfig(request_timeout=1.0))
    other = await JetStreamEventStore.create(theirs, name,
                                             JetStreamConfig(request_timeout=0.2))
    js = ours.jetstream()
    config = (await js.stream_info(store.stream_name)).config
    config.no_ack = True  # every write lands, and no ack of any comes back
    await js.update_stream(config)
    saved = [make_event("a", version) for version in range(1, batch + 1)]
    saving = asyncio.create_task(store.save_events(saved))
    for _ in range(500):
        if await other.get_latest_version("a") == batch:  # landed; its ack never will
            break
        await asyncio.sleep(0.01)
    after = make_event("a", batch + 1)
    await other.save_event(after)  # lands before the lost ack's timeout ends
    assert not saving.done()
    await saving  # raised VersionConflictError before
    stored = await other.get_events("a")
    assert [event.id for event in stored] == [event.id for event in [*saved, after]]
