"""The server refusing to create the cluster's KV bucket: a placement problem is waited
out, any other refusal is reported as what it is, never as "no such cluster"."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest

from aether.cluster import ClusterManager
from aether.cluster.errors import ClusterConfigError, ClusterUnavailableError
from aether.testing import NatsServer, start_cluster
from tests.draining import start_draining


@pytest.mark.slow
async def test_a_node_waits_for_a_server_cluster_that_cannot_place_its_bucket_yet(
        tmp_path: Path) -> None:
    """R3 with one of three servers down: the server answers "no suitable peers for
    placement". That was read as "the bucket exists", then looked up and reported as
    UnknownClusterError at once, so every node of a cluster whose servers were still
    forming died on start (seen in tests/cluster/test_failover.py under load)."""
    servers = await asyncio.to_thread(start_cluster, tmp_path / "nats", 3)
    await asyncio.to_thread(servers[2].stop)
    nc = await nats.connect(servers[0].url, max_reconnect_attempts=-1)
    manager = ClusterManager(nc, "n1", cluster="placed later", shard_count=8, lease_ttl=1.0,
                             replicas=3, start_timeout=60)
    try:
        starting = asyncio.create_task(manager.start())
        await asyncio.sleep(1.0)  # its first attempts meet the refusal
        await asyncio.to_thread(servers[2].start)
        await asyncio.wait_for(starting, 60)  # raised UnknownClusterError on the old code
    finally:
        await manager.stop()
        await nc.drain()
        for server in servers:
            await asyncio.to_thread(server.stop)


async def test_a_bucket_the_server_will_not_create_is_a_config_error(
        nats_server: NatsServer) -> None:
    """One server asked for three replicas refuses with a server error, which leaked as a
    raw nats-py ServerError."""
    nc = await nats.connect(nats_server.url)
    manager = ClusterManager(nc, "n1", cluster="too many replicas", shard_count=8,
                             lease_ttl=1.0, replicas=3, start_timeout=5)
    try:
        with pytest.raises(ClusterConfigError, match="replicas > 1 not supported"):
            await manager.start()
    finally:
        await nc.drain()


@pytest.mark.parametrize("how", ["drained", "closed"])
async def test_a_node_on_a_connection_that_is_going_away_fails_to_start_at_once(
        nats_server: NatsServer, how: str) -> None:
    """A closed or draining connection will never answer: start raises instead of retrying
    it for start_timeout (30 s by default), as it does while a bucket elects its leader."""
    nc = await nats.connect(nats_server.url)
    manager = ClusterManager(nc, "n1", cluster=f"going {how}", shard_count=8, lease_ttl=1.0,
                             start_timeout=3600)
    if how == "closed":
        await nc.close()
    else:
        draining = await start_draining(nc)
    with pytest.raises(ClusterUnavailableError):
        await asyncio.wait_for(manager.start(), 60)  # retried until start_timeout before
    if how == "drained":
        await draining
