"""Hostile input against JetStream: every refusal is an AetherError, made before anything is
written, and the shared connection (with every other actor on it) survives all of it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import nats
import nats.js.errors
import pytest
from hypothesis import HealthCheck, given, settings
from nats.aio.client import Client

from aether import (
    ActorSnapshot,
    AetherError,
    DuplicateEventIdError,
    Event,
    InvalidEventError,
    StoreConfigError,
    StoreUnavailableError,
)
from aether.limits import MAX_ACTOR_ID_BYTES, MAX_NAMESPACE_BYTES
from aether.store import JetStreamConfig, JetStreamEventStore
from aether.store.naming import MAX_STORE_NAME, MAX_STREAM_NAME
from aether.testing import NatsServer, make_event, strategies
from aether.testing.factories import unchecked


@pytest.fixture
async def own_nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    """A connection of the test's own, so the test can tell whether input broke it."""
    client = await nats.connect(nats_server.url, max_reconnect_attempts=0)
    yield client
    await client.close()


async def _delete_streams(nc: Client, *stores: JetStreamEventStore) -> None:
    js = nc.jetstream()
    for store in stores:
        for name in (store.stream_name, store.snapshot_stream_name):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(name)


async def _stream_exists(nc: Client, name: str) -> bool:
    try:
        await nc.jetstream().stream_info(name)
    except nats.js.errors.NotFoundError:
        return False
    return True


def _hostile_calls(store: JetStreamEventStore, nc: Client) -> list[Callable[[], Awaitable[Any]]]:
    first = make_event("victim", 1)

    def bypass(update: dict[str, Any]) -> Event:
        return unchecked(first, **update)  # no validation: the store must check for itself

    now = datetime.now(UTC)
    deep: Any = 1
    for _ in range(200):
        deep = [deep]
    return [
        lambda: store.save_event(bypass({"actor_id": "x" * 4000})),
        lambda: store.save_event(bypass({"actor_id": "🙂" * 340})),
        lambda: store.save_event(bypass({"actor_id": "\ud800"})),
        lambda: store.save_event(bypass({"id": "e\r\nNats-Msg-Id: forged"})),
        lambda: store.save_event(bypass({"id": "e" * 5000})),
        lambda: store.save_event(bypass({"event_type": "T" * 5000})),
        lambda: store.save_event(bypass({"data": {"x": float("nan")}})),
        lambda: store.save_event(bypass({"data": {"x": 10**4400}})),
        lambda: store.save_event(bypass({"data": {"deep": deep}})),
        lambda: store.save_event(make_event("victim", 1, blob="x" * nc.max_payload)),
        lambda: store.save_event(make_event("victim", 1, blob="x" * 10 * nc.max_payload)),
        lambda: store.save_events([make_event("victim", 1), bypass({"actor_id": "y"})]),
        lambda: store.save_snapshot(ActorSnapshot(actor_id="victim", version=1, timestamp=now,
                                                  state={"blob": "x" * nc.max_payload})),
        lambda: store.save_snapshot(unchecked(
            ActorSnapshot(actor_id="victim", version=1, timestamp=now), actor_id="z" * 5000)),
        lambda: store.save_event(bypass({"data": {"pair": (1, 2)}})),
        lambda: store.save_event(bypass({"data": {"k": {1: "one"}}})),
        lambda: store.get_events("x" * 4000),
        lambda: store.get_latest_version("🙂" * 340),
        lambda: store.get_latest_version(""),
        lambda: store.get_latest_snapshot("\udfff"),
        lambda: JetStreamEventStore.create(nc, "events", JetStreamConfig(namespace="n" * 240)),
        lambda: JetStreamEventStore.create(nc, "s" * (MAX_STORE_NAME + 1)),
        lambda: JetStreamEventStore.create(nc, "a.b"),
    ]


async def test_one_connection_survives_every_hostile_input(own_nc: Client) -> None:
    store = await JetStreamEventStore.create(own_nc, f"ev{uuid4().hex[:8]}")
    bystander = await JetStreamEventStore.create(own_nc, f"ev{uuid4().hex[:8]}")
    try:
        calls = _hostile_calls(store, own_nc)
        for index, call in enumerate(calls):
            with pytest.raises((InvalidEventError, StoreConfigError)):
                await call()
            assert own_nc.is_connected, f"hostile input #{index} broke the connection"
        assert await store.get_latest_version("victim") == 0  # nothing was written
        assert await store.get_latest_snapshot("victim") is None
        # The connection, the store and another actor's store all carry on.
        event = make_event("victim", 1)
        await store.save_event(event)
        await bystander.save_event(make_event("other", 1))
        assert await store.get_events("victim") == [event]
        assert await bystander.get_latest_version("other") == 1
    finally:
        await _delete_streams(own_nc, store, bystander)


@pytest.fixture
async def memory_backed_store(own_nc: Client) -> AsyncIterator[JetStreamEventStore]:
    store = await JetStreamEventStore.create(own_nc, f"ev{uuid4().hex[:8]}",
                                             JetStreamConfig(storage="memory"))
    yield store
    await _delete_streams(own_nc, store)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                HealthCheck.too_slow])
@given(fields=strategies.hostile_event_fields())
async def test_unvalidated_hostile_events_never_break_the_connection(
    own_nc: Client, memory_backed_store: JetStreamEventStore, fields: dict[str, Any]
) -> None:
    # The same hostile fields as the conformance suite, but smuggled past Event's own
    # validation: the store's door checks alone must keep the connection alive.
    store = memory_backed_store
    event = unchecked(make_event("a", 1), **{**fields, "id": uuid4().hex + fields["id"]})
    try:
        latest = await store.get_latest_version(event.actor_id)
        event = unchecked(event, version=latest + 1)
        await store.save_event(event)
    except AetherError:
        pass
    else:
        assert await store.get_events(event.actor_id, event.version) == [event]
    assert own_nc.is_connected


async def test_an_unvalidated_record_in_a_named_zone_is_kept_as_its_constructor_builds_it(
        memory_backed_store: JetStreamEventStore) -> None:
    # 02:00 on 3 April 1944 does not exist in Belgrade (clocks went forward): JSON keeps
    # only an offset, so the zone itself would read back unequal (hypothesis found it). The
    # constructor converts zones to offsets; a model_construct'ed record skipped it, so the
    # store builds it through the constructor and keeps that, as every store does.
    store = memory_backed_store
    gap = datetime(1944, 4, 3, 2, 0, tzinfo=ZoneInfo("Europe/Belgrade"))
    raw = unchecked(make_event("zoned", 1), timestamp=gap)
    await store.save_event(raw)
    built = Event(**raw.__dict__)
    assert built.timestamp.tzinfo is not gap.tzinfo
    assert await store.get_events("zoned") == [built]
    raw_snapshot = unchecked(
        ActorSnapshot(actor_id="zoned", version=1, state={}, timestamp=datetime.now(UTC)),
        timestamp=gap)
    await store.save_snapshot(raw_snapshot)
    assert await store.get_latest_snapshot("zoned") == ActorSnapshot(**raw_snapshot.__dict__)


async def test_records_over_max_payload_are_refused_naming_both_sizes(nc: Client) -> None:
    store = await JetStreamEventStore.create(nc, f"ev{uuid4().hex[:8]}")
    try:
        sizes = rf"takes [\d,]+ bytes .* max_payload of {nc.max_payload:,} bytes"
        big = make_event("big", 1, blob="x" * nc.max_payload)
        with pytest.raises(InvalidEventError, match=sizes):
            await store.save_event(big)
        with pytest.raises(InvalidEventError, match="max_payload"):
            await store.save_events([make_event("big", 1), big.model_copy(update={"version": 2})])
        snapshot = ActorSnapshot(actor_id="big", version=1, state={"blob": "x" * nc.max_payload},
                                 timestamp=datetime.now(UTC))
        with pytest.raises(InvalidEventError, match="max_payload"):
            await store.save_snapshot(snapshot)
        assert await store.get_latest_version("big") == 0
        assert await store.get_latest_snapshot("big") is None
        large = make_event("big", 1, blob="y" * (nc.max_payload // 2))  # well within
        await store.save_event(large)
        assert await store.get_events("big") == [large]
    finally:
        await _delete_streams(nc, store)


async def test_the_longest_names_fit_every_nats_limit(own_nc: Client) -> None:
    namespace = "n" * MAX_NAMESPACE_BYTES
    name = "s" * MAX_STORE_NAME
    store = await JetStreamEventStore.create(own_nc, name, JetStreamConfig(namespace=namespace))
    try:
        assert len(store.snapshot_stream_name) == MAX_STREAM_NAME
        actor_id = "🙂" * (MAX_ACTOR_ID_BYTES // 4)  # 512 bytes, each one escaped as ~XX
        event = make_event(actor_id, 1, marker="longest")
        await store.save_event(event)
        assert await store.get_events(actor_id) == [event]
        snapshot = ActorSnapshot(actor_id=actor_id, version=1, state={"k": 1},
                                 timestamp=datetime.now(UTC))
        await store.save_snapshot(snapshot)
        assert await store.get_latest_snapshot(actor_id) == snapshot
        assert own_nc.is_connected
    finally:
        await _delete_streams(own_nc, store)


async def test_an_oversized_namespace_leaves_no_orphan_stream(nc: Client) -> None:
    name = f"ev{uuid4().hex[:8]}"
    namespace = "n" * 240
    with pytest.raises(StoreConfigError, match=f"over the limit of {MAX_NAMESPACE_BYTES} bytes"):
        await JetStreamEventStore.create(nc, name, JetStreamConfig(namespace=namespace))
    assert not await _stream_exists(nc, f"{namespace}_{name}")


async def test_namespaces_that_sanitize_alike_racing_to_create_one_wins(nc: Client) -> None:
    for _ in range(5):
        name = f"ev{uuid4().hex[:8]}"
        results = await asyncio.gather(
            JetStreamEventStore.create(nc, name, JetStreamConfig(namespace="a.b")),
            JetStreamEventStore.create(nc, name, JetStreamConfig(namespace="a b")),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, JetStreamEventStore)]
        losers = [r for r in results if not isinstance(r, JetStreamEventStore)]
        assert len(winners) == 1, results
        assert len(losers) == 1 and isinstance(losers[0], StoreConfigError), results
        assert "already belongs to namespace" in str(losers[0])
        await _delete_streams(nc, *winners)


async def test_a_reused_id_is_refused_even_from_a_process_that_never_saw_it(
    nc: Client,
) -> None:
    name = f"ev{uuid4().hex[:8]}"
    writer = await JetStreamEventStore.create(nc, name)
    other = await JetStreamEventStore.create(nc, name)  # no cache shared with writer
    try:
        first = make_event("a", 1)
        await writer.save_event(first)
        with pytest.raises(DuplicateEventIdError, match=r"version 1 of actor 'a'"):
            await other.save_event(make_event("b", 1).model_copy(update={"id": first.id}))
        assert await other.get_latest_version("b") == 0
    finally:
        await _delete_streams(nc, writer)


async def test_history_written_before_a_limit_existed_stays_readable(nc: Client) -> None:
    store = await JetStreamEventStore.create(nc, f"ev{uuid4().hex[:8]}")
    try:
        old = make_event("a", 1).model_dump(mode="json") | {"data": {"big": 2**70}}
        await nc.jetstream().publish(store.event_subject("a"), json.dumps(old).encode(),
                                     headers={"Nats-Msg-Id": old["id"], "Aether-Version": "1"})
        (event,) = await store.get_events("a")
        assert event.data == {"big": 2**70}
        await store.save_event(make_event("a", 2))  # and the actor carries on
        assert await store.get_latest_version("a") == 2
    finally:
        await _delete_streams(nc, store)


async def test_a_save_with_the_server_gone_fails_on_its_publish(
    private_nats_server: NatsServer,
) -> None:
    client = await nats.connect(private_nats_server.url, max_reconnect_attempts=-1,
                                reconnect_time_wait=0.5)
    store = await JetStreamEventStore.create(client, "events", JetStreamConfig(request_timeout=1))
    await store.save_event(make_event("a", 1))  # the actor's position is now cached
    private_nats_server.stop()
    # The publish times out; with the connection down, looking for a lost ack would only
    # wait out a second timeout, so the error is the publish's own.
    with pytest.raises(StoreUnavailableError, match="publishing to stream 'events'"):
        await store.save_event(make_event("a", 2))
    with contextlib.suppress(OSError):
        await client.close()
