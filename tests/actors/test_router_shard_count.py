"""A ClusterRouter hashing with a shard count other than its cluster's refuses every command
before sending it (RouterShardCountError, a permanent error: a reaction runner must not
wait on it as on an outage), reads the cluster's settings once rather than per command,
and notices when the cluster is founded again with another count; a router from
``connect`` follows the cluster to the new count instead."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import nats
import nats.errors
import pytest

from aether import ClusterRouter, CommandTimeoutError, InvalidCommandError
from aether.cluster import ActorHost, ClusterManager, ShardCountMismatchError
from aether.cluster.errors import ClusterConfigError, RouterShardCountError
from aether.cluster.kv import ClusterBucket
from aether.cluster.shard import SETTINGS_KEY, shard_for
from aether.errors import TransientError
from aether.event import EventStore
from aether.store import JetStreamEventStore, jsapi
from aether.testing import NatsServer
from aether.testing.counters import Increment, commands, make_counter_router
from tests.actors.cluster import SHARDS, TTL, cluster_name, nodes, wait_for

ACTORS = [f"k-{i}" for i in range(12)]


@contextlib.asynccontextmanager
async def node_of(url: str, cluster: str, node_id: str, store: EventStore,
                  shards: int) -> AsyncIterator[ActorHost]:
    """One node (manager and host) of ``shards`` shards, serving all of them."""
    nc = await nats.connect(url)
    manager = ClusterManager(nc, node_id, cluster=cluster, shard_count=shards, lease_ttl=TTL)
    host = ActorHost(manager, make_counter_router(store), commands)
    await host.start()
    await manager.start()
    try:
        await wait_for(lambda: all(host.serves(s) for s in range(shards)))
        yield host
    finally:
        await host.stop()
        await manager.stop()
        await nc.drain()


@pytest.mark.parametrize("count", [SHARDS * 2, SHARDS + 1, SHARDS // 2])
async def test_a_router_with_another_shard_count_refuses_every_command_before_sending(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore, count: int) -> None:
    # With 32 shards the reviewer's commands for shards 16 to 31 waited out the timeout
    # (a TransientError: a reaction runner paused on them for ever), the rest got
    # InvalidCommandError or were served, depending on the actor.
    cluster = cluster_name()
    async with nodes(nats_server.url, cluster, ["a", "b"], jetstream_store) as started:
        nc = await nats.connect(nats_server.url)
        try:
            router = ClusterRouter(nc, cluster, commands, shard_count=count, timeout=5)
            began = time.monotonic()
            for actor in ACTORS:
                with pytest.raises(RouterShardCountError, match=(
                        rf"shard_count={count}, but cluster '{cluster}' was founded with "
                        rf"shard_count={SHARDS}.*ClusterRouter.connect")) as refused:
                    await router.send(actor, Increment())
                error = refused.value
                assert (error.cluster, error.cluster_count, error.node_count) == (
                    cluster, SHARDS, count)
                assert isinstance(error, ShardCountMismatchError | InvalidCommandError)
                assert not isinstance(error, TransientError)
            assert time.monotonic() - began < 4  # no command waited for an answer
            assert all(node.host.counters.served == node.host.counters.bad_requests == 0
                       for node in started)  # nothing reached a node
            assert [await jetstream_store.get_events(a) for a in ACTORS] == [[]] * len(ACTORS)
        finally:
            await nc.drain()


async def test_a_router_beside_a_host_must_share_its_shard_count(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    cluster = cluster_name()
    async with nodes(nats_server.url, cluster, ["a"], jetstream_store) as [node]:
        with pytest.raises(ClusterConfigError, match=r"ClusterRouter.for_host\(host\)"):
            ClusterRouter(node.nc, cluster, commands, shard_count=SHARDS * 2, host=node.host)


async def test_a_router_reads_the_settings_once_not_per_command(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    cluster = cluster_name()
    async with nodes(nats_server.url, cluster, ["a"], jetstream_store):
        spy, nc = await nats.connect(nats_server.url), await nats.connect(nats_server.url)
        bucket = ClusterBucket(spy, cluster, 5.0)
        # A plain subscriber gets a copy of every direct get of the key (and answers none).
        copies = await spy.subscribe(
            f"$JS.API.DIRECT.GET.{bucket.stream}.{bucket.subject(SETTINGS_KEY)}")
        await spy.flush()
        try:
            router = ClusterRouter(nc, cluster, commands, shard_count=SHARDS)
            await asyncio.gather(*(router.send(f"c-{i}", Increment()) for i in range(50)))
            for i in range(50):
                await router.send(f"c-{i}", Increment())
            # Every copy, counted as it is taken: a callback could still have copies queued
            # when flush returned, and a loaded run counted none.
            reads = 0
            with contextlib.suppress(nats.errors.TimeoutError):
                while True:
                    await copies.next_msg(timeout=1.0)
                    reads += 1
            # One read (asked again, in parallel, when its answer is slow: jsapi.asked_again),
            # not one per command.
            assert 1 <= reads <= jsapi.READ_ATTEMPTS
        finally:
            await nc.drain()
            await spy.drain()


async def test_a_router_made_before_its_cluster_is_checked_once_the_cluster_is_founded(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    cluster = cluster_name()
    nc = await nats.connect(nats_server.url)
    try:
        other = ClusterRouter(nc, cluster, commands, shard_count=SHARDS * 2, timeout=0.3)
        same = ClusterRouter(nc, cluster, commands, shard_count=SHARDS, timeout=0.3)
        # No cluster yet: an outage to wait out (a node may be starting), as before.
        for router in (other, same):
            with pytest.raises(CommandTimeoutError, match="no node serves the shard"):
                await router.send("k-1", Increment())
        async with nodes(nats_server.url, cluster, ["a"], jetstream_store):
            for actor in ACTORS:
                with pytest.raises(RouterShardCountError):
                    await other.send(actor, Increment())
            assert (await same.send("k-1", Increment()))[0].version == 1
    finally:
        await nc.drain()


async def test_a_cluster_founded_again_with_another_count_is_noticed_or_followed(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    cluster = cluster_name()
    url = nats_server.url
    nc = await nats.connect(url)
    fewer = SHARDS - 4  # not a divisor: some actors below it move too
    # Nobody listens on its old shard; its old shard is one the new owner serves, which
    # answers "invalid" (it hashes the actor elsewhere).
    beyond = next(f"r-{i}" for i in range(200) if shard_for(f"r-{i}", SHARDS) >= fewer)
    elsewhere = next(f"r-{i}" for i in range(200) if shard_for(f"r-{i}", SHARDS) < fewer
                     and shard_for(f"r-{i}", SHARDS) != shard_for(f"r-{i}", fewer))
    try:
        async with nodes(url, cluster, ["a"], jetstream_store):
            fixed = {actor: ClusterRouter(nc, cluster, commands, shard_count=SHARDS, timeout=5)
                     for actor in (beyond, elsewhere)}
            following = {actor: await ClusterRouter.connect(nc, cluster, commands, timeout=5)
                         for actor in (beyond, elsewhere)}
            for router in [*fixed.values(), *following.values()]:
                await router.send("k-0", Increment())  # checked: no more reads from here
        # An operator deletes the bucket (`nats stream rm`) and starts the cluster anew.
        await nc.jetstream().delete_stream(ClusterBucket(nc, cluster, 5.0).stream)
        async with node_of(url, cluster, "b", jetstream_store, fewer) as host:
            for actor, router in fixed.items():
                began = time.monotonic()
                with pytest.raises(RouterShardCountError) as refused:
                    await router.send(actor, Increment())
                assert (refused.value.cluster_count, refused.value.node_count) == (
                    fewer, SHARDS)
                assert time.monotonic() - began < 4  # not after the timeout
            assert host.counters.bad_requests == 1  # ``elsewhere`` reached it, and was refused
            for actor, router in following.items():
                events = await router.send(actor, Increment())
                assert router.shard_count == fewer
                assert [(e.actor_id, e.version) for e in events] == [(actor, 1)]
            assert host.counters.bad_requests == 2
    finally:
        await nc.drain()
