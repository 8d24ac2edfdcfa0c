"""One actor node in its own OS process, for the kill -9 test.

``python -m tests.actors.node URL CLUSTER NODE_ID STREAM SHARDS`` runs a ClusterManager and
an ActorHost serving the counters of ``aether.testing.counters`` on the JetStream store
STREAM; it prints ``ready`` once started. SIGTERM stops it gracefully.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import nats

from aether.cluster import ActorHost, ClusterManager
from aether.store import JetStreamEventStore
from aether.testing.counters import commands, make_counter_router

TTL = 1.0


async def run(url: str, cluster: str, node_id: str, stream: str, shards: int) -> None:
    nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    store = await JetStreamEventStore.create(nc, stream)
    manager = ClusterManager(nc, node_id, cluster=cluster, shard_count=shards, lease_ttl=TTL)
    host = ActorHost(manager, make_counter_router(store, snapshot_store=store,
                                                   snapshot_every=5), commands)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await host.start()
    await manager.start()
    print("ready", flush=True)
    await stop.wait()
    await host.stop()
    await manager.stop()
    await nc.drain()


if __name__ == "__main__":
    a = sys.argv[1:]
    asyncio.run(run(a[0], a[1], a[2], a[3], int(a[4])))
