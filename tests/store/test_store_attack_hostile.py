"""Hostile names and values at the JetStream store's boundary.

Stream names are sanitized (lossy), so stores whose namespace and name come out alike must
be refused, never share a stream, and a refusal must leave nothing behind. Event ids travel
as the Nats-Msg-Id header and deduplicate, so ids that are only alike (the same text in
another Unicode form, at the length limit) must stay apart; metadata and event types travel
in the JSON only and come back exactly, whatever they hold.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import AsyncIterator
from uuid import uuid4

import nats
import nats.js.errors
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.aio.client import Client

from aether import AetherError, DuplicateEventIdError, StoreConfigError
from aether.limits import MAX_EVENT_ID_BYTES
from aether.store import JetStreamConfig, JetStreamEventStore
from aether.testing import NatsServer, make_event


@pytest.fixture
async def own_nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    yield client
    js = client.jetstream()
    for name in await _streams(client):
        if "atk" in name:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(name)
    await client.close()


async def _streams(nc: Client) -> set[str]:
    return {info.config.name or "" for info in await nc.jetstream().streams_info()}


# (store name, namespace) pairs whose streams come out alike; {u} makes them the test's own.
COLLIDING = [
    pytest.param(("atk{u}", "é"), ("atk{u}", "ü"), id="non-ASCII namespaces"),
    pytest.param(("atk{u}", "é"), ("atk{u}", "_"), id="non-ASCII and underscore"),
    pytest.param(("b_atk{u}", "a"), ("atk{u}", "a_b"), id="namespace and name split apart"),
    pytest.param(("atk{u}", "a_b"), ("a_b_atk{u}", ""), id="namespace and no namespace"),
    pytest.param(("atk{u}_snapshots", "n"), ("atk{u}", "n"), id="events onto snapshots"),
    pytest.param(("atk{u}", "n"), ("atk{u}_snapshots", "n"), id="snapshots onto events"),
]


@pytest.mark.parametrize(("first", "second"), COLLIDING)
async def test_stores_whose_streams_collide_are_refused_and_leave_nothing_behind(
    own_nc: Client, first: tuple[str, str], second: tuple[str, str]
) -> None:
    u = uuid4().hex[:8]
    name, namespace = first[0].format(u=u), first[1]
    owner = await JetStreamEventStore.create(own_nc, name, JetStreamConfig(namespace=namespace))
    event = make_event("a.b", 1, owner="first")
    await owner.save_event(event)
    streams = await _streams(own_nc)
    with pytest.raises(StoreConfigError, match="already belongs to"):
        await JetStreamEventStore.create(
            own_nc, second[0].format(u=u), JetStreamConfig(namespace=second[1]))
    assert await _streams(own_nc) == streams  # no stream half made for the refused store
    assert await owner.get_events("a.b") == [event]
    again = await JetStreamEventStore.create(own_nc, name, JetStreamConfig(namespace=namespace))
    assert await again.get_events("a.b") == [event]


async def test_ids_alike_but_not_equal_stay_apart_and_retries_are_no_ops(
    own_nc: Client,
) -> None:
    store = await JetStreamEventStore.create(own_nc, f"atk{uuid4().hex[:8]}")
    composed = "é" * (MAX_EVENT_ID_BYTES // 2)  # 256 bytes of UTF-8, at the limit
    decomposed = unicodedata.normalize("NFD", "é" * (MAX_EVENT_ID_BYTES // 3))
    ids = [composed, composed[:-1] + "e", decomposed, "x: y", "x:y", "x  y", "X  y"]
    events = [make_event(f"a{i}", 1).model_copy(update={"id": id_}) for i, id_ in enumerate(ids)]
    for event in events:
        await store.save_event(event)
    for event in events:
        retrying = await JetStreamEventStore.create(own_nc, store.stream_name)
        await retrying.save_event(event)  # its own write: stored once, no error
        assert await retrying.get_events(event.actor_id) == [event]
        with pytest.raises(DuplicateEventIdError):
            await retrying.save_event(make_event("other", 1).model_copy(update={"id": event.id}))
    assert await store.get_latest_version("other") == 0


async def test_event_types_alike_are_kept_apart_by_the_feed(own_nc: Client) -> None:
    store = await JetStreamEventStore.create(own_nc, f"atk{uuid4().hex[:8]}")
    types = ["a.b", "a_b", "a b", "a>b", "a*", "A.b", "é", unicodedata.normalize("NFD", "é"),
             "a.b." + "x" * 252]
    for index, event_type in enumerate(types):
        await store.save_event(make_event(f"t{index}", 1, event_type=event_type))
    for event_type in types:
        found = await store.read_all(event_types=[event_type])
        assert [event.event_type for _, event in found] == [event_type]


text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=15, deadline=None)
@given(metadata=st.dictionaries(text, text, max_size=8))
async def test_any_metadata_comes_back_exactly_or_is_refused(
    own_nc: Client, metadata: dict[str, str]
) -> None:
    nc = own_nc
    store = await JetStreamEventStore.create(nc, "atkmeta", JetStreamConfig(storage="memory"))
    actor = uuid4().hex
    try:
        event = make_event(actor, 1).model_copy(update={"metadata": metadata})
    except AetherError:
        return  # refused up front, before any store
    await store.save_event(event)
    fresh = await JetStreamEventStore.create(nc, "atkmeta", JetStreamConfig(storage="memory"))
    (stored,) = await fresh.get_events(actor)
    assert stored == event
    assert dict(stored.metadata) == metadata
    assert [item for _, item in await fresh.read_all(await _before(fresh), 10)] == [event]


async def _before(store: JetStreamEventStore) -> int:
    return await store.last_position() - 1

