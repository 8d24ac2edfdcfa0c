"""The release handshake, proven against an old owner that really lags behind the table.

A node's shard manager awaits its ``on_shards`` callbacks in order before it reads the
table again, so an application callback that takes its time (here: one that waits on an
event the test sets) keeps the node on the table it last read: it goes on serving shards
the leader has already given to someone else. The new owner must not serve those shards
until the old owner released them (or ``handover_timeout`` passed), and the store must show
it: along each actor's versions, ownership never overlaps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import nats

from aether.cluster import ClusterRouter
from aether.cluster.host import SERVED_AT, SERVED_BY, SERVED_IN
from aether.cluster.types import ShardChange
from aether.event import Event
from aether.store import JetStreamEventStore
from aether.testing import NatsServer
from aether.testing.counters import Increment, commands
from tests.actors.cluster import SHARDS, agreed, cluster_name, nodes, wait_for

HOLD = 1.5
"""How long the old owner stays on its old table once the new one is out (below the new
owner's handover_timeout, so the handshake alone must keep the new owner waiting)."""


def overlaps(events: Sequence[Event]) -> list[str]:
    """Where two nodes' tenures of one actor overlap, read from the store alone.

    Each event carries the node that wrote it and the shard table version it served under.
    Without overlap, the versions an actor's events were served at never go back (a new
    owner serves under a newer table than its predecessor), and one table version has one
    writer. Returns a description of each violation."""
    found: list[str] = []
    writers: dict[tuple[str, int], str] = {}
    latest = 0
    founding = ""
    for event in events:
        at, by = int(event.metadata[SERVED_AT]), event.metadata[SERVED_BY]
        if event.metadata[SERVED_IN] != founding:  # a bucket founded anew: versions restart
            founding, latest = event.metadata[SERVED_IN], 0
        if at < latest:
            found.append(f"v{event.version} by {by} at table {at} after table {latest}")
        if writers.setdefault((founding, at), by) != by:
            found.append(f"v{event.version}: table {at} served by {writers[founding, at]} "
                         f"and {by}")
        latest = max(latest, at)
    return found


async def test_the_new_owner_waits_for_an_old_owner_that_lags_behind_the_table(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    cluster = cluster_name()
    counters = [f"h-{i}" for i in range(48)]
    gate, holding = asyncio.Event(), asyncio.Event()
    gate.set()

    async def slow_callback(change: ShardChange) -> None:
        if not gate.is_set():
            holding.set()
            await gate.wait()

    async with nodes(nats_server.url, cluster, ["n1", "n2"], jetstream_store) as [n1, n2]:
        assert n1.manager.is_leader()  # it started alone; the lagging node must not lead
        n2.manager.on_shards(slow_callback)  # after the host's own: the host acts, then we hold
        client = await nats.connect(nats_server.url)
        router = ClusterRouter(client, cluster, commands, shard_count=SHARDS, timeout=30)
        sent = dict.fromkeys(counters, 0)
        stop = asyncio.Event()

        async def stream(counter: str) -> None:
            while not stop.is_set():
                await router.send(counter, Increment())
                sent[counter] += 1

        workers = [asyncio.create_task(stream(c)) for c in counters]
        try:
            gate.clear()
            async with nodes(nats_server.url, cluster, ["n3"], jetstream_store,
                             wait=False) as [n3]:
                # n2 hands shards to n3 normally, then its shard manager is held in our
                # callback: from here on it does not read the table.
                await wait_for(lambda: holding.is_set() and agreed([n1, n2, n3]))
                old_table = n2.manager.table
                assert old_table is not None
                async with nodes(nats_server.url, cluster, ["n4"], jetstream_store,
                                 wait=False, handover_timeout=10 * HOLD) as [n4]:
                    await wait_for(lambda: n4.manager.table is not None
                                   and "n4" in n4.manager.table.nodes)
                    new_table = n4.manager.table
                    assert new_table is not None
                    moved = old_table.shards_of("n2") & new_table.shards_of("n4")
                    assert moved, "the new table must move some of n2's shards to n4"
                    await asyncio.sleep(HOLD)
                    # n2 really lags: it still serves what the table gave n4.
                    assert n2.manager.table == old_table
                    assert all(n2.host.serves(s) for s in moved)
                    early = sorted(s for s in moved if n4.host.serves(s))  # checked last
                    gate.set()
                    await wait_for(lambda: agreed([n1, n2, n3, n4]))
                    await asyncio.sleep(0.3)
                    stop.set()
                    await asyncio.gather(*workers)
                    everyone = [n1, n2, n3, n4]
                    conflicts = [n.host.counters.conflicts for n in everyone]
        finally:
            gate.set()
            stop.set()
            await asyncio.gather(*workers, return_exceptions=True)
            await client.drain()

    handed_over = 0
    for counter in counters:
        events = await jetstream_store.get_events(counter)
        # Every command took effect exactly once: no conflict lost or doubled one.
        assert len(events) == sent[counter] > 0
        assert [e.version for e in events] == list(range(1, len(events) + 1))
        assert overlaps(events) == [], (counter, overlaps(events))
        writers = [e.metadata[SERVED_BY] for e in events]
        if n1.manager.shard_of(counter) in moved:
            handed_over += 1
            assert "n2" in writers and writers[-1] == "n4"  # served by n2, then only by n4
    assert handed_over > 0
    assert conflicts == [0, 0, 0, 0]  # no owner ever met another's write
    assert early == [], f"n4 served shards {early} before n2 released them"
