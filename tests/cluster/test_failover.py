"""Nodes in separate OS processes: stopped, killed with SIGKILL, paused with SIGSTOP, and a
nats-server cluster losing a server. Safety is asserted (one valid leader at a time, one
owner per shard agreed by all); liveness with generous bounds (10 x the lease TTL)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import nats
import pytest
from nats.aio.client import Client

from aether.cluster import ClusterManager, ShardChange, read_status
from aether.cluster.kv import bucket_name
from aether.errors import AetherError
from aether.testing import NatsServer, start_cluster
from tests.cluster.fleet import (
    Fleet,
    assert_one_leader_at_a_time,
    converged,
    eventually,
)

pytestmark = pytest.mark.slow

TTL = 2.0
LIVENESS = 10 * TTL
STARTUP = 60.0  # interpreters starting on a loaded machine


@contextlib.asynccontextmanager
async def fleet_of(urls: str, tmp_path: Path, size: int,
                   replicas: int = 1) -> AsyncIterator[Fleet]:
    fleet = Fleet(urls, f"fail {uuid4().hex[:6]}", tmp_path, lease_ttl=TTL, replicas=replicas)
    try:
        for i in range(size):
            fleet.spawn(f"node-{i}")
        yield fleet
    finally:
        fleet.close()


async def _converge(nc: Client, fleet: Fleet, timeout: float) -> None:
    try:
        status = await eventually(lambda: converged(nc, fleet), timeout,
                                  f"shard table converged on {sorted(fleet.nodes)}")
    except AssertionError as error:
        try:
            status = await read_status(nc, fleet.cluster)
            seen = (f"table version {status.table and status.table.version} of nodes "
                    f"{status.table and sorted(status.table.nodes)}, leader {status.leader}")
        except AetherError as unavailable:
            seen = f"no status: {unavailable}"
        raise AssertionError(f"{error}; the cluster: {seen}; the nodes:\n{fleet.report()}"
                             ) from None
    counts = Counter(status.table.owner_list())
    assert set(counts) == set(fleet.nodes)
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    leader = await eventually(fleet.leader, LIVENESS, "exactly one node believes it leads")
    assert status.leader is not None and leader.node_id == status.leader.node_id


@pytest.mark.parametrize("size", [3, 5])
async def test_leader_stopped_then_killed_leaves_one_leader_and_one_owner_per_shard(
        nats_server: NatsServer, tmp_path: Path, size: int) -> None:
    nc = await nats.connect(nats_server.url)
    async with fleet_of(nats_server.url, tmp_path, size) as fleet:
        await _converge(nc, fleet, STARTUP)

        stopped = fleet.leader()
        assert stopped is not None
        await asyncio.to_thread(stopped.stop)  # graceful: resigns and leaves at once
        fleet.retire(stopped.node_id)
        await _converge(nc, fleet, LIVENESS)

        killed = fleet.leader()
        assert killed is not None
        await asyncio.to_thread(killed.kill)  # SIGKILL: no goodbye
        fleet.retire(killed.node_id)
        await _converge(nc, fleet, LIVENESS)

    spans = assert_one_leader_at_a_time(fleet.all_lines())
    leaders = [node for _, node, _, _ in spans]
    assert stopped.node_id in leaders and killed.node_id in leaders
    assert len(set(leaders)) >= 3
    await nc.drain()


async def test_paused_leader_loses_the_lease_and_never_acts_on_its_old_epoch(
        nats_server: NatsServer, tmp_path: Path) -> None:
    nc = await nats.connect(nats_server.url)
    async with fleet_of(nats_server.url, tmp_path, 3) as fleet:
        await _converge(nc, fleet, STARTUP)
        paused = fleet.leader()
        assert paused is not None
        old_epoch = paused.last_state()["epoch"]  # type: ignore[index]
        paused.pause()
        paused_at = time.time()  # stopped: a line written at its last moments is older
        others = Fleet(fleet.urls, fleet.cluster, tmp_path)
        others.nodes = {k: v for k, v in fleet.nodes.items() if v is not paused}
        successor = await eventually(others.leader, LIVENESS, "a new leader while paused")
        await eventually(lambda: converged(nc, others), LIVENESS,
                         "shards moved off the paused node")
        paused.resume()

        def rejoined() -> bool:
            state = paused.last_state()
            return state is not None and not state["leader"] and state["epoch"] > old_epoch
        await eventually(rejoined, LIVENESS, "the resumed node follows the new epoch")
        await _converge(nc, fleet, LIVENESS)
        assert fleet.leader() is successor

    lines = fleet.all_lines()
    assert_one_leader_at_a_time(lines)
    after_pause = [line for line in paused.lines()
                   if line["kind"] == "state" and line["t"] >= paused_at]
    assert after_pause and not any(
        line["leader"] and line["epoch"] == old_epoch for line in after_pause)
    # The table written while it was paused never carried the old epoch.
    status = await converged(nc, fleet)
    assert status is not None and status.table is not None and status.table.epoch > old_epoch
    await nc.drain()


@contextlib.asynccontextmanager
async def _three_servers(tmp_path: Path) -> AsyncIterator[tuple[list[NatsServer], Client,
                                                                 Client]]:
    """A 3-server NATS cluster, a watcher connected to any of them, and a connection to the
    first server only (the node's: tests keep it up)."""
    servers = await asyncio.to_thread(start_cluster, tmp_path / "nats", 3)
    urls = [s.url for s in servers]
    watcher = await nats.connect(servers=urls, max_reconnect_attempts=-1,
                                 reconnect_time_wait=0.2)
    try:
        nc = await nats.connect(servers=urls, dont_randomize=True)
        try:
            yield servers, watcher, nc
        finally:
            await nc.close()
    finally:
        with contextlib.suppress(Exception):
            await watcher.close()
        for server in servers:
            await asyncio.to_thread(server.stop)


async def test_losing_one_of_three_servers_does_not_stop_election_or_placement(
        tmp_path: Path) -> None:
    async with _three_servers(tmp_path) as (servers, nc, _):
        urls = ",".join(s.url for s in servers)
        async with fleet_of(urls, tmp_path, 3, replicas=3) as fleet:
            await _converge(nc, fleet, STARTUP)
            info = await nc.jetstream().stream_info(f"KV_{bucket_name(fleet.cluster)}")
            assert info.config.num_replicas == 3
            victim = next(s for s in servers if info.cluster and s.name == info.cluster.leader)
            await asyncio.to_thread(victim.stop)

            killed = fleet.leader()
            assert killed is not None
            await asyncio.to_thread(killed.kill)
            fleet.retire(killed.node_id)
            await _converge(nc, fleet, 3 * LIVENESS)
        assert_one_leader_at_a_time(fleet.all_lines())


async def test_a_leader_replaced_by_a_newer_process_with_its_id_resigns(
        nats_server: NatsServer, tmp_path: Path) -> None:
    # The older process, superseded as a member, kept renewing the lease by compare-and-
    # swap, so the newer one never took it over and no shard moved again: a node killed
    # afterwards kept its shards (commands to them timed out) for as long as the old lived.
    nc = await nats.connect(nats_server.url)
    async with fleet_of(nats_server.url, tmp_path, 2) as fleet:
        await _converge(nc, fleet, STARTUP)
        leader = fleet.leader()
        assert leader is not None
        old = fleet.retire(leader.node_id)  # still running: a replacement started too early
        fleet.spawn(leader.node_id)
        other = next(node for node in fleet.nodes.values() if node.node_id != leader.node_id)
        await asyncio.to_thread(other.kill)
        fleet.retire(other.node_id)
        await _converge(nc, fleet, LIVENESS + STARTUP)
        status = await read_status(nc, fleet.cluster)
        (member,) = status.members
        assert status.leader is not None
        assert status.leader.incarnation == member.incarnation  # the newer process leads
        assert old.alive()
        assert not (old.last_state() or {}).get("leader")
        assert_one_leader_at_a_time(fleet.all_lines())
    await nc.drain()


async def test_a_bucket_electing_a_new_leader_does_not_make_a_node_reconnect(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """While the cluster bucket's stream elects a leader (its leader's server died), the
    servers answer heartbeats "no responders": an answer, so the connection reads, and the
    node must not take it for a deaf connection and reconnect (which would drop every
    command in flight on it)."""
    cluster = f"deaf {uuid4().hex[:6]}"
    async with _three_servers(tmp_path) as (servers, watcher, nc):
        manager = ClusterManager(nc, "solo", cluster=cluster, shard_count=4, lease_ttl=TTL,
                                 replicas=3, start_timeout=STARTUP)
        await manager.start()
        # A lease this short lapses while the bucket elects: the node says so at start.
        assert "Use lease_ttl >= 15" in caplog.text
        victim = await _bucket_leader_away_from(watcher, cluster, servers)
        await asyncio.to_thread(victim.kill)
        await asyncio.sleep(LIVENESS / 2)  # the election, and heartbeats going on after it
        assert nc.stats["reconnects"] == 0
        assert manager.my_shards() == frozenset(range(4))
        await manager.stop()


async def test_with_the_default_lease_losing_the_server_leading_the_bucket_lapses_no_lease(
        tmp_path: Path) -> None:
    """Losing the server that leads a replicated bucket stops every write for 3 to 8 s
    (measured) while its replicas elect a new leader. The default lease of a replicated
    bucket outlasts that: no node lets go of its shards (at lease_ttl 5 every node did)."""
    cluster = f"elect {uuid4().hex[:6]}"
    async with _three_servers(tmp_path) as (servers, watcher, nc):
        manager = ClusterManager(nc, "solo", cluster=cluster, shard_count=4, replicas=3,
                                 start_timeout=STARTUP)
        changes: list[ShardChange] = []
        manager.on_shards(changes.append)
        await manager.start()
        everything = frozenset(range(4))
        await eventually(lambda: manager.my_shards() == everything, STARTUP, "shards owned")
        victim = await _bucket_leader_away_from(watcher, cluster, servers)
        owned = len(changes)
        lapses = manager.discovery.lapses
        await asyncio.to_thread(victim.kill)
        await eventually(lambda: _leader_of(watcher, cluster, victim.name), 60,
                         "the bucket led again")
        # Heartbeats acknowledged again, and a lease's worth of time after the election.
        await asyncio.sleep(manager.timing.member_timeout)
        assert manager.discovery.lapses == lapses
        assert changes[owned:] == [] and manager.my_shards() == everything
        await manager.stop()


async def _bucket_leader_away_from(watcher: Client, cluster: str,
                                   servers: list[NatsServer]) -> NatsServer:
    """The server that leads the cluster's bucket, moved off the first server (the node's
    own) first when it led it."""
    info = await watcher.jetstream().stream_info(f"KV_{bucket_name(cluster)}")
    leader = info.cluster.leader if info.cluster else None
    if leader == servers[0].name:
        await watcher.request(f"$JS.API.STREAM.LEADER.STEPDOWN.KV_{bucket_name(cluster)}",
                              b"", timeout=10)
        await eventually(lambda: _leader_of(watcher, cluster, servers[0].name), LIVENESS,
                         "the bucket led from another server")
        info = await watcher.jetstream().stream_info(f"KV_{bucket_name(cluster)}")
        leader = info.cluster.leader if info.cluster else None
    return next(s for s in servers if s.name == leader)


async def _leader_of(nc: Client, cluster: str, not_this: str) -> bool:
    try:
        info = await nc.jetstream().stream_info(f"KV_{bucket_name(cluster)}")
    except nats.errors.Error:  # no leader to answer yet
        return False
    return info.cluster is not None and info.cluster.leader not in (None, not_this)
