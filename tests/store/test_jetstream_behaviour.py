"""JetStream-only behaviour: isolation, header safety, lost acks, stream config, failures."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import uuid4

import nats
import pytest
from nats.aio.client import Client

from aether import (
    AetherError,
    InvalidEventError,
    StoreClosedError,
    StoreConfigError,
    StoreUnavailableError,
)
from aether.store import ForeignStreamError, JetStreamConfig, JetStreamEventStore
from aether.testing import NatsServer, make_event
from aether.testing.factories import unchecked
from tests.draining import start_draining


@pytest.fixture
async def cleanup(nc: Client) -> AsyncIterator[list[JetStreamEventStore]]:
    stores: list[JetStreamEventStore] = []
    yield stores
    js = nc.jetstream()
    for store in stores:
        for name in (store.stream_name, store.snapshot_stream_name):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(name)


async def open_store(
    nc: Client, stores: list[JetStreamEventStore], name: str, **config: object
) -> JetStreamEventStore:
    store = await JetStreamEventStore.create(nc, name, JetStreamConfig(**config))
    stores.append(store)
    return store


async def test_namespaces_never_see_each_others_events(
    nc: Client, cleanup: list[JetStreamEventStore]
) -> None:
    name = f"ev{uuid4().hex[:8]}"
    bare = await open_store(nc, cleanup, name)
    spaces = {ns: await open_store(nc, cleanup, name, namespace=ns)
              for ns in ("tenant-a", "tenant-b", "a.b", "*")}
    assert bare.namespace == ""
    assert bare.stream_name == name
    assert spaces["a.b"].stream_name == f"a_b_{name}"
    assert spaces["*"].stream_name == f"__{name}"
    hostile_ids = ["order-1", "a.b", "*", ">", "x.>", "$JS.API.STREAM.DELETE"]
    for ns, store in spaces.items():
        for actor_id in hostile_ids:
            await store.save_event(make_event(actor_id, 1, owner=ns))
    for ns, store in spaces.items():
        for actor_id in hostile_ids:
            events = await store.get_events(actor_id)
            assert [e.data["owner"] for e in events] == [ns]
    for actor_id in hostile_ids:
        assert await bare.get_events(actor_id) == []
        assert await bare.get_latest_version(actor_id) == 0
    info = await nc.jetstream().stream_info(spaces["tenant-a"].stream_name)
    assert info.state.messages == len(hostile_ids)


async def test_namespaces_that_sanitize_alike_cannot_share_a_stream(
    nc: Client, cleanup: list[JetStreamEventStore]
) -> None:
    name = f"ev{uuid4().hex[:8]}"
    await open_store(nc, cleanup, name, namespace="a.b")
    with pytest.raises(ForeignStreamError, match=r"already belongs to namespace 'a\.b'"):
        await JetStreamEventStore.create(nc, name, JetStreamConfig(namespace="a b"))
    assert issubclass(ForeignStreamError, StoreConfigError)  # caught as a config error too
    with pytest.raises(StoreConfigError, match="already belongs"):
        await JetStreamEventStore.create(nc, f"a_b_{name}")


async def test_create_with_namespace_matches_config(
    nc: Client, cleanup: list[JetStreamEventStore]
) -> None:
    name = f"ev{uuid4().hex[:8]}"
    store = await JetStreamEventStore.create_with_namespace(nc, name, "tenant-abc")
    cleanup.append(store)
    assert (store.namespace, store.stream_name) == ("tenant-abc", f"tenant-abc_{name}")
    await store.save_event(make_event("a", 1))
    again = await JetStreamEventStore.create_with_namespace(nc, name, "tenant-abc")
    assert await again.get_latest_version("a") == 1


async def test_event_ids_with_line_breaks_never_reach_the_wire(
    nc: Client, cleanup: list[JetStreamEventStore]
) -> None:
    store = await open_store(nc, cleanup, f"ev{uuid4().hex[:8]}")
    event = unchecked(make_event("a", 1), id="x\r\nAether-Version: 99")
    with pytest.raises(InvalidEventError, match="control character"):
        await store.save_event(event)
    assert await store.get_latest_version("a") == 0


async def test_publish_whose_ack_was_lost_is_stored_once(
    nc: Client, cleanup: list[JetStreamEventStore]
) -> None:
    name = f"ev{uuid4().hex[:8]}"
    writer = await open_store(nc, cleanup, name)
    event = make_event("order-1", 1)
    # The first attempt reaches the server but its ack never comes back to us.
    await nc.publish(writer.event_subject("order-1"), event.model_dump_json().encode(),
                     headers={"Nats-Msg-Id": event.id, "Aether-Version": "1",
                              "Nats-Expected-Last-Subject-Sequence": "0"})
    await nc.flush()
    retrying = await JetStreamEventStore.create(nc, name)  # no memory of the first attempt
    await retrying.save_event(event)
    assert await retrying.get_events("order-1") == [event]
    batch = [make_event("order-1", v) for v in (2, 3, 4)]
    await retrying.save_events(batch)
    await JetStreamEventStore.create(nc, name)  # idempotent open
    await (await JetStreamEventStore.create(nc, name)).save_events(batch)
    assert [e.id for e in await retrying.get_events("order-1")] == [event.id] + [
        e.id for e in batch
    ]


async def test_a_second_process_view_sees_conflicts_despite_a_stale_cache(
    nc: Client, cleanup: list[JetStreamEventStore]
) -> None:
    name = f"ev{uuid4().hex[:8]}"
    first = await open_store(nc, cleanup, name)
    second = await JetStreamEventStore.create(nc, name)
    await first.save_event(make_event("a", 1))
    await second.save_event(make_event("a", 2))  # first's cache still says version 1
    with pytest.raises(Exception, match="latest stored version is 2"):
        await first.save_event(make_event("a", 2))
    await first.save_event(make_event("a", 7))  # gaps are fine once the tip is known
    assert [e.version for e in await second.get_events("a")] == [1, 2, 7]


async def test_defaults_keep_history_forever_and_refuse_deletes(
    nc: Client, cleanup: list[JetStreamEventStore]
) -> None:
    store = await open_store(nc, cleanup, f"ev{uuid4().hex[:8]}")
    info = await nc.jetstream().stream_info(store.stream_name)
    assert not info.config.max_age
    assert info.config.max_bytes in (None, -1)
    assert info.config.deny_delete
    assert info.config.allow_atomic
    assert info.config.num_replicas == 1


async def test_changed_config_updates_or_refuses_explicitly(
    nc: Client, cleanup: list[JetStreamEventStore]
) -> None:
    name = f"ev{uuid4().hex[:8]}"
    await open_store(nc, cleanup, name)
    with pytest.raises(StoreConfigError, match="max_age"):
        await JetStreamEventStore.create(nc, name, JetStreamConfig(
            stream_retention=timedelta(days=30), update_existing=False))
    updated = await JetStreamEventStore.create(nc, name, JetStreamConfig(
        stream_retention=timedelta(days=30), max_bytes=10_000_000))
    info = await nc.jetstream().stream_info(updated.stream_name)
    assert info.config.max_age == pytest.approx(30 * 24 * 3600)
    assert info.config.max_bytes == 10_000_000
    with pytest.raises(StoreConfigError, match="storage"):
        await JetStreamEventStore.create(nc, name, JetStreamConfig(storage="memory"))


async def test_closed_connection_is_a_clear_error(nats_server: NatsServer) -> None:
    client = await nats.connect(nats_server.url)
    store = await JetStreamEventStore.create(client, f"ev{uuid4().hex[:8]}")
    await client.close()
    with pytest.raises(StoreUnavailableError, match="connection"):
        await store.save_event(make_event("a", 1))
    with pytest.raises(StoreUnavailableError):
        await store.get_events("a")


async def test_a_draining_connection_is_closed_for_good(nats_server: NatsServer) -> None:
    """Reads and saves on a connection its owner is draining: StoreClosedError at once (a
    runner stops on it rather than pausing to retry), and a save stores nothing. The
    store's reply subscriptions drain first, so before, a read waited out its timeout and a
    save was stored, then raised StoreUnavailableError advising a retry."""
    client = await nats.connect(nats_server.url)
    watcher = await nats.connect(nats_server.url)
    name = f"ev{uuid4().hex[:8]}"
    store = await JetStreamEventStore.create(client, name, JetStreamConfig(request_timeout=5))
    await store.save_event(make_event("a", 1))  # its reply subscriptions exist now
    assert len(await store.get_events("a")) == 1
    draining = await start_draining(client)
    with pytest.raises(StoreClosedError, match="draining"):
        await store.get_events("a")
    with pytest.raises(StoreClosedError, match="draining"):
        await store.save_event(make_event("a", 2))
    await draining
    other = await JetStreamEventStore.create(watcher, name)
    assert [e.version for e in await other.get_events("a")] == [1]
    await watcher.close()


async def test_server_without_jetstream_is_a_clear_error(plain_nats_server: NatsServer) -> None:
    client = await nats.connect(plain_nats_server.url)
    with pytest.raises(StoreUnavailableError, match="JetStream"):
        await JetStreamEventStore.create(client, "events", JetStreamConfig(request_timeout=1))
    await client.close()


async def test_stopped_server_raises_instead_of_hanging(private_nats_server: NatsServer) -> None:
    client = await nats.connect(private_nats_server.url, max_reconnect_attempts=-1,
                                reconnect_time_wait=0.5)
    store = await JetStreamEventStore.create(
        client, "events", JetStreamConfig(request_timeout=0.5, publish_attempts=2))
    await store.save_event(make_event("a", 1))
    private_nats_server.stop()
    with pytest.raises(StoreUnavailableError):
        await store.save_event(make_event("a", 2))
    with pytest.raises(StoreUnavailableError):
        await store.get_latest_version("a")
    # nats-py's close() trips over its own half-open reconnect socket here.
    with contextlib.suppress(OSError):
        await client.close()


async def test_reading_an_actor_longer_than_one_direct_get_batch(
    nc: Client, cleanup: list[JetStreamEventStore]
) -> None:
    store = await open_store(nc, cleanup, f"ev{uuid4().hex[:8]}", storage="memory")
    for start in range(1, 2501, 500):
        await store.save_events([make_event("long", v) for v in range(start, start + 500)])
        await store.save_event(make_event("other", start))  # interleaved with another actor
    events = await store.get_events("long")
    assert [e.version for e in events] == list(range(1, 2501))
    assert [e.version for e in await store.get_events("long", 2400)] == list(range(2400, 2501))


async def test_batches_over_the_atomic_limit_are_refused_before_sending(
    nc: Client, cleanup: list[JetStreamEventStore]
) -> None:
    store = await open_store(nc, cleanup, f"ev{uuid4().hex[:8]}", storage="memory")
    with pytest.raises(AetherError, match="at most 1000 events"):
        await store.save_events([make_event("a", v) for v in range(1, 1002)])
    assert await store.get_latest_version("a") == 0


async def test_a_stream_the_server_cannot_create_is_refused_as_an_aether_error(nc: Client) -> None:
    # One server cannot hold three replicas: the server's refusal reaches the caller as a
    # StoreConfigError carrying its reason, not as a raw nats-py error.
    with pytest.raises(StoreConfigError, match="refused to create stream") as caught:
        await JetStreamEventStore.create(
            nc, f"r3_{uuid4().hex[:8]}", JetStreamConfig(replica_count=3, storage="memory")
        )
    assert "replicas" in str(caught.value).lower()
