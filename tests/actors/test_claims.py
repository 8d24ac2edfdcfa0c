"""Claiming and releasing a shard is atomic with respect to cancellation: a claim cancelled
at any await (the release request, the back-off, the subscribe itself) leaves no
subscription behind, on the host or on the server.

(nats-py's ``subscribe`` registers the subscription before its last await; the host runs it
shielded, so a cancelled claim's await point is the shield, and the claim takes the
subscription back before it lets the cancel through.)"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from uuid import uuid4

import nats
import pytest
from nats.aio.msg import Msg

from aether.cluster import ActorHost, ClusterManager, ClusterRouter
from aether.cluster.host import SERVED_BY
from aether.cluster.shard import TABLE_KEY
from aether.cluster.types import ShardChange
from aether.cluster.wire import shard_subject
from aether.errors import DomainError
from aether.store import InMemoryEventStore, JetStreamEventStore
from aether.testing import NatsServer
from aether.testing.counters import Increment, Refuse, commands, make_counter_router
from tests.actors.cluster import (
    SHARDS,
    TTL,
    LocalNode,
    cluster_name,
    nodes,
    spawn_node,
    wait_for,
)


def server_subjects(server: NatsServer) -> list[str]:
    url = f"http://127.0.0.1:{server.monitor_port}/subsz?subs=1&limit=100000"
    with urllib.request.urlopen(url, timeout=5) as response:
        listing = json.load(response).get("subscriptions_list") or []
    return [entry["subject"] for entry in listing]


async def test_a_claim_cancelled_at_any_await_leaves_no_subscription(
        nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url)
    cluster = cluster_name()
    manager = ClusterManager(nc, "solo", cluster=cluster, shard_count=SHARDS, lease_ttl=TTL)
    host = ActorHost(manager, make_counter_router(InMemoryEventStore()), commands)
    everything, shard = frozenset(range(SHARDS)), 5
    subject = shard_subject(cluster, shard)

    def change(owned: frozenset[int]) -> ShardChange:
        # What the shard manager reports when the table takes the shard away or gives it back.
        return ShardChange(manager.table_version, manager.epoch, frozenset(), frozenset(), owned)

    async def listeners(expected: int) -> int:
        """The server's count of subscriptions on the shard's subject, once it settles on
        ``expected`` or after a second (its monitoring can trail the protocol briefly)."""
        await nc.flush()  # the server has read every SUB and UNSUB we sent
        for _ in range(20):
            count = (await asyncio.to_thread(server_subjects, nats_server)).count(subject)
            if count == expected:
                break
            await asyncio.sleep(0.05)
        return count

    try:
        await host.start()
        await manager.start()
        await wait_for(lambda: all(host.serves(s) for s in everything))
        await host._on_shards(change(everything - {shard}))
        steps, finished = 0, 0
        # Cancel a claim after 0, 1, 2, ... loop turns, until it keeps finishing first.
        while finished < 5:
            await host._on_shards(change(everything))             # given back: a claim starts
            for _ in range(steps):
                await asyncio.sleep(0)
            finished += host.serves(shard)
            await host._on_shards(change(everything - {shard}))   # taken away: cancels it
            assert not host.serves(shard)
            assert await listeners(0) == 0, (
                f"a subscription outlived a claim cancelled after {steps} loop turns")
            steps += 1
        # The host still claims and serves the shard normally afterwards.
        await host._on_shards(change(everything))
        await wait_for(lambda: host.serves(shard))
        assert await listeners(1) == 1
        actor = next(f"c-{i}" for i in range(500) if manager.shard_of(f"c-{i}") == shard)
        assert (await ClusterRouter.for_host(host).send(actor, Increment()))[0].version == 1
    finally:
        await host.stop()
        await manager.stop()
    assert await listeners(0) == 0
    await nc.drain()


async def test_an_aggregate_loaded_after_its_shard_went_away_is_not_kept(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    """A command still loading when its shard goes (the drain gave up at once) must not
    leave its copy cached: a refusal decided on it later would never meet the store's
    concurrency check. Given back, the shard starts from the store."""
    async with nodes(nats_server.url, cluster_name(), ["solo"], jetstream_store) as [node]:
        host, manager = node.host, node.manager
        host.drain_timeout = 0.0  # give up on in-flight commands at once
        everything = frozenset(range(SHARDS))
        actor = "late-1"
        shard = manager.shard_of(actor)
        elsewhere = make_counter_router(jetstream_store)  # another writer on the same store
        await elsewhere.send(actor, Increment())

        def change(owned: frozenset[int]) -> ShardChange:
            return ShardChange(manager.table_version, manager.epoch, frozenset(), frozenset(),
                               owned)

        refusal = asyncio.create_task(host.execute(actor, Refuse(reason="no")))
        await asyncio.sleep(0)  # it is loading the aggregate from the store now
        await host._on_shards(change(everything - {shard}))
        with pytest.raises(DomainError, match="no"):
            await refusal
        assert actor not in host.cached_actors()
        await elsewhere.send(actor, Increment())  # the actor moves on meanwhile
        await host._on_shards(change(everything))
        await wait_for(lambda: host.serves(shard))
        events = await node.router.send(actor, Increment())
        assert events[0].version == 3
        assert host.counters.conflicts == 0  # decided on the store's state, not a stale copy


async def test_stopping_while_a_shard_change_drains_leaves_nothing_behind(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    """stop() and a shard change both waiting for the same in-flight command: each lets go
    of the shard once, and nothing is claimed after the host stopped."""
    cluster = cluster_name()
    async with nodes(nats_server.url, cluster, ["solo"], jetstream_store) as [node]:
        host, manager = node.host, node.manager
        everything = frozenset(range(SHARDS))
        actor = "drain-1"
        shard = manager.shard_of(actor)
        command = asyncio.create_task(host.execute(actor, Increment()))
        await asyncio.sleep(0)  # in flight: loading the aggregate
        change = ShardChange(manager.table_version, manager.epoch, frozenset(), frozenset(),
                             everything - {shard})
        results = await asyncio.gather(command, host._on_shards(change), host.stop(),
                                       return_exceptions=True)
        assert [r for r in results[1:] if r is not None] == []  # neither failed
        assert not any(host.serves(s) for s in everything)
        await wait_for(lambda: not host._listeners.claiming())
        await node.nc.flush()
        prefix = shard_subject(cluster, 0).rsplit(".", 1)[0] + "."
        assert [s for s in await asyncio.to_thread(server_subjects, nats_server)
                if s.startswith(prefix)] == []


async def shards_placed_on(node: LocalNode, other: str) -> frozenset[int]:
    """The shards ``node``'s table places on ``other``, once it holds a table of the two."""
    await wait_for(lambda: node.manager.table is not None
                   and set(node.manager.table.nodes) == {node.manager.node_id, other})
    assert node.manager.table is not None
    return node.manager.table.shards_of(other)


async def test_a_listener_that_never_answers_does_not_hold_up_a_dead_owners_shards(
        nats_server: NatsServer) -> None:
    """A plain subscriber on ``aether.actors.>`` (an operator's ``nats sub '>'``) hears
    every release request and answers none, so NATS never says "no responders": the claim
    of a SIGKILLed node's shards must not wait out the handover timeout (here 10 minutes)
    for an owner that has left the cluster, nor the first node's claims, in a new cluster,
    for owners there never were."""
    cluster, stream = cluster_name(), f"claims_{uuid4().hex[:6]}"
    client = await nats.connect(nats_server.url)
    store = await JetStreamEventStore.create(client, stream)

    async def ignore(message: Msg) -> None:
        return None

    await client.subscribe("aether.actors.>", cb=ignore)  # hears everything, answers nothing
    await client.flush()
    async with nodes(nats_server.url, cluster, ["n1"], store, handover_timeout=600) as [n1]:
        victim = spawn_node(nats_server.url, cluster, "n2", stream)
        try:
            theirs = await shards_placed_on(n1, "n2")
            actor = next(f"c-{i}" for i in range(500) if n1.manager.shard_of(f"c-{i}") in theirs)
            served = await n1.router.send(actor, Increment())  # n2 took it: it answers
            assert served[0].metadata[SERVED_BY] == "n2"
        finally:
            victim.kill()
            victim.wait()
        await wait_for(lambda: all(n1.host.serves(shard) for shard in theirs), timeout=60)
        events = await n1.router.send(actor, Increment())
        assert (events[0].version, events[0].metadata[SERVED_BY]) == (2, "n1")
    await client.drain()


async def test_a_paused_owner_takes_no_commands_from_the_node_that_took_its_shards(
        nats_server: NatsServer) -> None:
    """A node frozen (SIGSTOP: a VM pause, a stalled process) keeps its connection and its
    subscriptions on the server until the server gives up on it, minutes later. Once its
    shards have a new owner, every command for them must reach that owner: none may vanish
    into the frozen node and time out."""
    cluster, stream = cluster_name(), f"claims_{uuid4().hex[:6]}"
    client = await nats.connect(nats_server.url)
    store = await JetStreamEventStore.create(client, stream)
    async with nodes(nats_server.url, cluster, ["n1"], store) as [n1]:
        frozen = spawn_node(nats_server.url, cluster, "n2", stream)
        try:
            theirs = await shards_placed_on(n1, "n2")
            actors = [f"c-{i}" for i in range(2000) if n1.manager.shard_of(f"c-{i}") in theirs]
            actors = actors[:24]
            for actor in actors:
                served = await n1.router.send(actor, Increment())
                assert served[0].metadata[SERVED_BY] == "n2"
            frozen.send_signal(signal.SIGSTOP)
            await wait_for(lambda: all(n1.host.serves(shard) for shard in theirs), timeout=60)
            # One attempt each, however long the frozen node stays frozen: a command that
            # reached it would time out.
            router = ClusterRouter(client, cluster, commands, shard_count=SHARDS,
                                   timeout=5.0, attempt_timeout=5.0)
            for actor in actors:
                events = await router.send(actor, Increment())
                assert (events[0].version, events[0].metadata[SERVED_BY]) == (2, "n1")
        finally:
            frozen.send_signal(signal.SIGCONT)
            frozen.terminate()
            frozen.wait()
    for actor in actors:  # the frozen node, woken, wrote nothing more
        assert [e.metadata[SERVED_BY] for e in await store.get_events(actor)] == ["n2", "n1"]
    await client.drain()


async def test_a_node_whose_lease_lapsed_lets_go_of_its_shards_and_decides_from_the_store(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    """A node stalled past its membership lease (a SIGSTOP, a long GC pause, a frozen VM)
    may have had its shards served elsewhere meanwhile, even when every table it reads
    afterwards gives them back to it. Once its lease is renewed it serves none of them until
    it has let go of them all (and of every aggregate it kept) and taken them back with the
    release handshake, so it decides again from the store, not from a copy another owner's
    writes have overtaken (a refusal decided on such a copy never meets the store's check)."""
    async with nodes(nats_server.url, cluster_name(), ["solo"], jetstream_store) as [node]:
        manager, host = node.manager, node.host
        changes: list[ShardChange] = []
        manager.on_shards(changes.append)
        actor = "lapse-1"
        await node.router.send(actor, Increment())  # kept in memory at version 1
        shard = manager.shard_of(actor)
        before = manager.shards._since[shard]  # the tenure it was gained in (before changes)
        version = manager.table_version
        assert manager.owns(shard, before)
        # The node's loops, driven by hand from here in the order that lost the race in a
        # SIGSTOP trial: after the stall the heartbeat renews the lease before the shard
        # loop has run at all.
        loops = [manager.discovery._task, manager.shards._task]
        for loop in loops:
            assert loop is not None
            loop.cancel()
        await asyncio.wait([loop for loop in loops if loop is not None])
        time.sleep(1.5 * TTL)  # noqa: ASYNC251 (the stall itself): the lease runs out
        await make_counter_router(jetstream_store).send(actor, Increment())  # served elsewhere
        await manager.discovery._heartbeat()  # renewed
        manager.discovery._task = asyncio.create_task(manager.discovery._run())  # and kept
        assert manager.discovery.alive()
        assert manager.my_shards() == frozenset()
        assert not any(host.serves(s) for s in range(SHARDS))
        await manager.shards._step()  # lets go of everything
        assert changes and changes[-1].owned == frozenset()
        manager.shards._task = asyncio.create_task(manager.shards._run())  # takes it back
        await wait_for(lambda: all(host.serves(s) for s in range(SHARDS)))
        assert changes[-1].owned == frozenset(range(SHARDS))
        # Back under the same table, in a new tenure: the one before the break has ended.
        assert (changes[-1].version, manager.table_version) == (version, version)
        assert manager.owns(shard, changes[-1].tenure) and not manager.owns(shard, before)
        events = await node.router.send(actor, Increment())
        assert events[0].version == 3
        assert host.counters.conflicts == 0  # not decided on the copy of version 1


async def test_a_stall_before_a_heartbeat_reaches_the_server_counts_as_a_lapse(
        nats_server: NatsServer) -> None:
    """A heartbeat reads the clock, then its write goes out. A stall in between sends the
    write after the node's key expired on the server (the others dropped it meanwhile): that
    is a lapse as much as a stall before the clock was read. (A request timeout longer than
    the stall lets that write be answered rather than time out.)"""
    nc = await nats.connect(nats_server.url)
    manager = ClusterManager(nc, "solo", cluster=cluster_name(), shard_count=SHARDS,
                             lease_ttl=TTL, request_timeout=10 * TTL)
    await manager.start()
    try:
        await wait_for(lambda: manager.my_shards() == frozenset(range(SHARDS)))
        discovery = manager.discovery
        assert discovery._task is not None
        discovery._task.cancel()  # heartbeats by hand from here
        await asyncio.wait([discovery._task])
        await discovery._heartbeat()  # the lease now runs 0.9 x TTL, the key TTL
        await asyncio.sleep(0.5 * TTL)
        lapses = discovery.lapses
        beat = asyncio.create_task(discovery._heartbeat())
        await asyncio.sleep(0)  # it has read the clock (the lease it will get runs from
        # here: 1.4 x TTL after the last), its write is queued
        time.sleep(0.7 * TTL)  # noqa: ASYNC251 (the stall): the last lease ran out, the key
        await beat  # expired or about to; the write lands, and the new lease holds
        assert discovery.alive() and discovery.lapses == lapses + 1
        assert manager.my_shards() == frozenset()
        discovery._task = asyncio.create_task(discovery._run())
        await wait_for(lambda: manager.my_shards() == frozenset(range(SHARDS)))
    finally:
        await manager.stop()
        await nc.drain()


async def test_a_node_that_missed_a_table_lets_go_of_its_shards_and_takes_them_back(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    """Tables are written one version at a time, so a node that reads version n + 2 after n
    missed one that may have moved its shards away and back: it lets go of them all and
    takes them back, as after a lapse of its lease."""
    async with nodes(nats_server.url, cluster_name(), ["solo"], jetstream_store) as [node]:
        changes: list[ShardChange] = []
        node.manager.on_shards(changes.append)
        actor = "skip-1"
        await node.router.send(actor, Increment())
        table = node.manager.table
        assert table is not None
        _, revision = await node.manager.bucket.read(TABLE_KEY)
        skipped = table.model_copy(update={"version": table.version + 2})
        await make_counter_router(jetstream_store).send(actor, Increment())  # meanwhile
        await node.manager.bucket.write(TABLE_KEY, skipped.model_dump_json().encode(),
                                        expect=revision)
        await wait_for(lambda: frozenset() in [c.owned for c in changes]
                       and all(node.host.serves(s) for s in range(SHARDS)))
        assert changes[-1].owned == frozenset(range(SHARDS))
        assert changes[-1].version == table.version + 2
        # Who held its shards before that table is unknown now: a claim would ask until
        # the handover timeout, not stop at the first unanswered request.
        assert not any(node.manager.shards.holder_gone(s) for s in range(SHARDS))
        events = await node.router.send(actor, Increment())
        assert (events[0].version, node.host.counters.conflicts) == (3, 0)
