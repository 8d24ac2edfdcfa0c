"""One-process cluster nodes (manager + host + router) for the actor tests."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import nats
from nats.aio.client import Client

from aether.cluster import ActorHost, ClusterManager, ClusterRouter
from aether.event import EventStore, SnapshotStore
from aether.testing.counters import commands, make_counter_router

SHARDS = 16
TTL = 1.0
ROOT = Path(__file__).resolve().parents[2]


def cluster_name() -> str:
    return f"actors {uuid4().hex[:6]}"


def spawn_node(url: str, cluster: str, node_id: str, stream: str,
               shards: int = SHARDS) -> subprocess.Popen[bytes]:
    """A node in its own OS process (tests/actors/node.py) on the JetStream stream
    ``stream``, returned once it has started."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.actors.node", url, cluster, node_id, stream, str(shards)],
        cwd=ROOT, stdout=subprocess.PIPE)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"ready"
    return process


@dataclass
class LocalNode:
    nc: Client
    manager: ClusterManager
    host: ActorHost
    router: ClusterRouter


async def wait_for(condition: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def agreed(started: list[LocalNode]) -> bool:
    """Every node holds one table that places every shard on these nodes, and serves its own."""
    table = started[0].manager.table
    if table is None or any(n.manager.table != table for n in started):
        return False
    if set(table.nodes) != {n.manager.node_id for n in started} or -1 in table.owners:
        return False
    return all(n.host.serves(s) for n in started for s in table.shards_of(n.manager.node_id))


@contextlib.asynccontextmanager
async def nodes(url: str, cluster: str, ids: list[str], store: EventStore,
                snapshot_store: SnapshotStore | None = None,
                snapshot_every: int = 0, wait: bool = True,
                handover_timeout: float | None = None) -> AsyncIterator[list[LocalNode]]:
    started: list[LocalNode] = []
    try:
        for node_id in ids:
            nc = await nats.connect(url)
            manager = ClusterManager(nc, node_id, cluster=cluster, shard_count=SHARDS,
                                     lease_ttl=TTL)
            host = ActorHost(manager, make_counter_router(
                store, snapshot_store=snapshot_store, snapshot_every=snapshot_every), commands,
                handover_timeout=handover_timeout)
            await host.start()
            await manager.start()
            started.append(LocalNode(nc, manager, host, ClusterRouter.for_host(host)))
        if wait:
            await wait_for(lambda: agreed(started))
        yield started
    finally:
        for node in started:
            await node.host.stop()
            await node.manager.stop()
            if not node.nc.is_closed:
                await node.nc.drain()
