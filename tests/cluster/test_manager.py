"""ClusterManager in one process against a real nats-server: membership, leadership,
shards, callbacks and the configuration errors users meet."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import nats
import pytest
from nats.aio.client import Client

from aether.cluster import (
    ClusterConfigError,
    ClusterManager,
    LeadershipChange,
    MembershipChange,
    ShardChange,
    ShardCountMismatchError,
    UnknownClusterError,
    read_status,
)
from aether.cluster.kv import ClusterBucket
from aether.cluster.routing import ClusterRouter
from aether.cluster.shard import TABLE_KEY
from aether.cluster.types import ShardTable
from aether.command import CommandRegistry
from aether.testing import NatsServer
from aether.testing.counters import Increment
from tests.cluster.fleet import eventually

TTL = 1.0
LIVENESS = 10 * TTL
SHARDS = 64


def _name() -> str:
    return f"shop {uuid4().hex[:6]}"


@contextlib.asynccontextmanager
async def running(url: str, cluster: str, ids: list[str],
                  **options: float) -> AsyncIterator[list[ClusterManager]]:
    connections: list[Client] = []
    managers: list[ClusterManager] = []
    try:
        for node_id in ids:
            nc = await nats.connect(url)
            connections.append(nc)
            manager = ClusterManager(nc, node_id, cluster=cluster, shard_count=SHARDS,
                                     lease_ttl=options.get("lease_ttl", TTL),
                                     member_timeout=options.get("member_timeout"))
            await manager.start()
            managers.append(manager)
        yield managers
    finally:
        for manager in managers:
            await manager.stop()
        for nc in connections:
            await nc.drain()


def _agreed(managers: list[ClusterManager]) -> bool:
    """Every manager holds the same table, on exactly these nodes, and its own shards."""
    table = managers[0].table
    if table is None or any(m.table != table for m in managers):
        return False
    if set(table.nodes) != {m.node_id for m in managers} or -1 in table.owners:
        return False
    return all(m.my_shards() == table.shards_of(m.node_id) for m in managers)


async def test_three_nodes_elect_one_leader_and_split_the_shards(nats_server: NatsServer) -> None:
    async with running(nats_server.url, _name(), ["a", "b", "c"]) as managers:
        await eventually(lambda: _agreed(managers), LIVENESS, "one table agreed by all")
        assert sum(m.is_leader() for m in managers) == 1
        leader = next(m for m in managers if m.is_leader())
        assert {m.leader_id for m in managers} == {leader.node_id}
        assert {m.epoch for m in managers} == {leader.epoch}
        assert [m.node_id for m in managers[0].members()] == ["a", "b", "c"]
        shards = [m.my_shards() for m in managers]
        assert sorted(s for mine in shards for s in mine) == list(range(SHARDS))
        assert {len(mine) for mine in shards} <= {21, 22}
        for actor_id in ("order-1", "order.2", "ünïcode *>"):
            owners = {m.owner_of(actor_id) for m in managers}
            assert len(owners) == 1
            owner = next(m for m in managers if m.node_id in owners)
            assert owner.shard_of(actor_id) in owner.my_shards()


async def test_callbacks_report_members_leadership_and_shards(nats_server: NatsServer) -> None:
    cluster = _name()
    async with running(nats_server.url, cluster, ["a"]) as (first,):
        members: list[MembershipChange] = []
        leadership: list[LeadershipChange] = []
        changes: list[ShardChange] = []

        async def on_shards(change: ShardChange) -> None:  # async callbacks are awaited
            changes.append(change)

        first.on_members(members.append)
        first.on_leadership(leadership.append)
        first.on_shards(on_shards)
        await eventually(lambda: len(first.my_shards()) == SHARDS, LIVENESS, "a owns all")
        async with running(nats_server.url, cluster, ["b"]) as (second,):
            await eventually(lambda: _agreed([first, second]), LIVENESS, "split in two")
            assert any(m.node_id == "b" for c in members for m in c.joined)
            lost = changes[-1]
            assert lost.lost and not lost.gained
            assert lost.version == first.table_version
            assert lost.owned == first.my_shards()
            assert all(first.owns(s) for s in lost.owned)
            assert not any(first.owns(s) for s in lost.lost)
        await eventually(lambda: any(m.node_id == "b" for c in members for m in c.left),
                         LIVENESS, "b reported as left")
        await eventually(lambda: len(first.my_shards()) == SHARDS, LIVENESS, "a owns all again")
        regained = changes[-1]
        assert regained.gained and regained.owned == frozenset(range(SHARDS))
        shard = next(iter(regained.gained))
        assert first.owns(shard, regained.tenure)
        assert not first.owns(shard, changes[0].tenure)  # lost to b in between
        # A table version in place of a tenure is refused, whatever the numbers: the table
        # that gave the shard back may carry the very number of the tenure that gave it.
        for wrong in (regained.version, regained.tenure.number):
            with pytest.raises(TypeError, match="takes a ShardChange's tenure"):
                first.owns(shard, wrong)  # type: ignore[arg-type]
    assert leadership[-1] == LeadershipChange("a", False, leadership[-1].epoch)
    assert changes[-1].owned == frozenset()  # stopping gives every shard up


async def test_a_graceful_leave_is_seen_before_the_member_timeout(
        nats_server: NatsServer) -> None:
    cluster = _name()
    # A timeout far longer than the bound below: only the explicit leave can explain it.
    async with running(nats_server.url, cluster, ["a", "b"], member_timeout=60.0) as managers:
        await eventually(lambda: _agreed(managers), LIVENESS, "two nodes agreed")
        leaving = next(m for m in managers if m.is_leader())
        staying = next(m for m in managers if m is not leaving)
        await leaving.stop()
        managers.remove(leaving)
        await eventually(lambda: [m.node_id for m in staying.members()] == [staying.node_id],
                         LIVENESS, "the leaver is gone")
        await eventually(staying.is_leader, LIVENESS, "the survivor leads")
        await eventually(lambda: len(staying.my_shards()) == SHARDS, LIVENESS, "and owns all")
        assert staying.epoch > leaving.epoch


async def test_a_restarted_node_comes_back_with_a_new_incarnation(
        nats_server: NatsServer) -> None:
    cluster = _name()
    async with running(nats_server.url, cluster, ["a", "b"]) as (a, _):
        await eventually(lambda: len(a.members()) == 2, LIVENESS, "both members")
        old = next(m for m in a.members() if m.node_id == "b")
        async with running(nats_server.url, cluster, ["b"]):
            pass
        async with running(nats_server.url, cluster, ["b"]) as (b,):
            def renewed() -> bool:
                now = {m.node_id: m for m in a.members()}
                return "b" in now and now["b"].incarnation > old.incarnation
            await eventually(renewed, LIVENESS, "b seen with a new incarnation")
            assert b.me.incarnation > old.incarnation


async def test_a_leader_that_cannot_renew_steps_down_by_itself(
        private_nats_server: NatsServer) -> None:
    server = private_nats_server
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    manager = ClusterManager(nc, "alone", cluster=_name(), shard_count=SHARDS, lease_ttl=TTL)
    lost = asyncio.Event()
    manager.on_leadership(lambda change: None if change.is_leader else lost.set())
    shards_gone = asyncio.Event()
    manager.on_shards(lambda change: shards_gone.set() if not change.owned else None)
    await manager.start()
    await eventually(lambda: manager.is_leader() and manager.my_shards(), LIVENESS, "leads")
    await asyncio.to_thread(server.stop)  # nobody can take over: it must resign alone
    await asyncio.wait_for(lost.wait(), LIVENESS)
    await asyncio.wait_for(shards_gone.wait(), LIVENESS)
    assert not manager.is_leader() and manager.my_shards() == frozenset()
    await manager.stop()
    with contextlib.suppress(OSError):  # closing while nats-py reconnects to a stopped server
        await nc.close()


async def test_heartbeats_keep_going_under_a_busy_cooperative_load(
        nats_server: NatsServer) -> None:
    async with running(nats_server.url, _name(), ["busy"], lease_ttl=3.0) as (manager,):
        await eventually(lambda: manager.is_leader() and manager.my_shards(), 20, "leads")
        changes: list[object] = []
        manager.on_leadership(changes.append)
        manager.on_members(changes.append)
        manager.on_shards(changes.append)

        async def work() -> None:
            until = time.monotonic() + 2 * 3.0  # two leases: heartbeats had to happen
            while time.monotonic() < until:
                deadline = time.perf_counter() + 0.005
                while time.perf_counter() < deadline:
                    pass  # CPU work, a few milliseconds at a time
                await asyncio.sleep(0)

        await asyncio.gather(*(work() for _ in range(4)))
        assert changes == []
        assert manager.is_leader() and len(manager.my_shards()) == SHARDS


async def test_a_stale_table_in_the_bucket_is_ignored_and_replaced(
        nats_server: NatsServer) -> None:
    cluster = _name()
    async with running(nats_server.url, cluster, ["a", "b"]) as managers:
        await eventually(lambda: _agreed(managers), LIVENESS, "agreed")
        table = managers[0].table
        assert table is not None
        bucket = ClusterBucket(managers[0].nc, cluster, 2.0)
        _, revision = await bucket.read(TABLE_KEY)
        stale = ShardTable.build(version=table.version + 100, epoch=table.epoch - 1,
                                 leader="ghost", owners=["ghost"] * SHARDS,
                                 founded=managers[0].shards.founded)
        await bucket.write(TABLE_KEY, stale.model_dump_json().encode(), expect=revision)

        async def replaced() -> bool:
            entry, _ = await bucket.read(TABLE_KEY)
            assert entry is not None
            stored = ShardTable.model_validate_json(entry.value)
            return stored.epoch >= table.epoch and stored.version > stale.version
        await eventually(replaced, LIVENESS, "the leader rewrites the table")
        assert all(m.owner_of("x") != "ghost" for m in managers)
        await eventually(lambda: _agreed(managers), LIVENESS, "agreed again")


async def test_joining_with_another_shard_count_is_refused(nats_server: NatsServer) -> None:
    cluster = _name()
    async with running(nats_server.url, cluster, ["a"]):
        nc = await nats.connect(nats_server.url)
        other = ClusterManager(nc, "b", cluster=cluster, shard_count=SHARDS * 2)
        with pytest.raises(ShardCountMismatchError, match=f"shard_count={SHARDS}"):
            await other.start()
        await nc.drain()


async def test_a_server_without_jetstream_is_a_clear_error(
        plain_nats_server: NatsServer) -> None:
    nc = await nats.connect(plain_nats_server.url)
    manager = ClusterManager(nc, "a", cluster="shop", lease_ttl=TTL)
    with pytest.raises(ClusterConfigError, match="JetStream"):
        await manager.start()
    await nc.drain()


async def test_clusters_whose_names_sanitize_alike_do_not_share_state(
        nats_server: NatsServer) -> None:
    suffix = uuid4().hex[:6]
    async with running(nats_server.url, f"eu.{suffix}", ["a"]):
        nc = await nats.connect(nats_server.url)
        with pytest.raises(ClusterConfigError, match="same bucket after sanitizing"):
            await ClusterManager(nc, "b", cluster=f"eu {suffix}").start()
        await nc.drain()


async def test_unknown_cluster_and_bad_settings_are_clear_errors(
        nats_server: NatsServer, nc: Client) -> None:
    with pytest.raises(UnknownClusterError, match="start a node of it first"):
        await read_status(nc, "never-started")
    with pytest.raises(ClusterConfigError, match="empty"):
        ClusterManager(nc, "a", cluster="")
    with pytest.raises(ClusterConfigError, match="node id"):
        ClusterManager(nc, "", cluster="shop")
    with pytest.raises(ClusterConfigError, match="shard_count"):
        ClusterManager(nc, "a", cluster="shop", shard_count=0)
    with pytest.raises(ClusterConfigError, match="heartbeat_interval"):
        ClusterManager(nc, "a", cluster="shop", lease_ttl=1.0, heartbeat_interval=0.9)


@pytest.mark.parametrize("name", ["a\ud800", "\udfff", "x" * 201, ""])
async def test_a_cluster_name_or_node_id_with_no_utf8_form_or_too_long_is_a_config_error(
        nc: Client, name: str) -> None:
    # Lone surrogates raised UnicodeEncodeError at every door (not an AetherError), and a
    # ClusterRouter took an empty name and timed out on each command.
    commands = CommandRegistry([Increment])
    for door in (lambda: ClusterManager(nc, "a", cluster=name),
                 lambda: ClusterRouter(nc, name, commands, shard_count=4)):
        with pytest.raises(ClusterConfigError, match="cluster name"):
            door()
    for connect in (lambda: read_status(nc, name),
                    lambda: ClusterRouter.connect(nc, name, commands)):
        with pytest.raises(ClusterConfigError, match="cluster name"):
            await connect()
    if name:
        with pytest.raises(ClusterConfigError, match="node id"):
            ClusterManager(nc, name * 2, cluster="shop")


@pytest.mark.parametrize("node_id", ["n1\r\nnode n2: elected leader", "a\tb", "a\x00b",
                                     "a\u2028b", None])
def test_a_node_id_that_would_forge_or_hide_log_lines_is_a_config_error(
        nc: Client, node_id: str) -> None:
    # Node ids are logged as they are on every node ("node <id>: ...").
    with pytest.raises(ClusterConfigError, match="node id"):
        ClusterManager(nc, node_id, cluster="shop")


async def test_junk_in_the_bucket_is_never_trusted(nats_server: NatsServer) -> None:
    cluster = _name()
    nc = await nats.connect(nats_server.url)
    bucket = ClusterBucket(nc, cluster, 2.0)
    await bucket.ensure(replicas=1)
    await bucket.write("members.mallory", b'{"node_id": "alice", "incarnation": 1}', expect=0)
    await bucket.write("members.junk", b"\xff not json", expect=0)
    await bucket.write("leader", b"[]", expect=0)  # an unreadable lease: taken over after TTL
    async with running(nats_server.url, cluster, ["a", "b"]) as managers:
        await eventually(lambda: _agreed(managers), LIVENESS, "agreed despite the junk")
        await eventually(lambda: sum(m.is_leader() for m in managers) == 1, LIVENESS, "a leader")
        assert [m.node_id for m in managers[0].members()] == ["a", "b"]
    await nc.drain()


async def test_nodes_with_different_lease_ttls_keep_one_table(nats_server: NatsServer) -> None:
    """A node with a ten times longer lease heartbeats every 2 s; by the 1 s member timeout
    of the other it died between heartbeats, and the table moved its shards back and forth
    every second. Each node gives each member the member's own timeout, if longer."""
    cluster = _name()
    connections = [await nats.connect(nats_server.url) for _ in range(2)]
    short = ClusterManager(connections[0], "short", cluster=cluster, shard_count=SHARDS,
                           lease_ttl=TTL)
    long = ClusterManager(connections[1], "long", cluster=cluster, shard_count=SHARDS,
                          lease_ttl=10 * TTL)
    try:
        await short.start()
        await long.start()
        await eventually(lambda: short.is_leader() and _agreed([short, long]), LIVENESS,
                         "agreed on both nodes, the short lease leading")
        table = short.table
        assert table is not None and table.nodes == ["long", "short"]
        await asyncio.sleep(4 * TTL)  # two of the long node's heartbeats apart, and more
        assert short.table == table and long.table == table
    finally:
        for manager in (long, short):
            await manager.stop()
        for nc in connections:
            await nc.drain()


async def test_settings_something_else_wrote_are_refused_saying_what_to_do(
        nats_server: NatsServer) -> None:
    cluster = _name()
    nc = await nats.connect(nats_server.url)
    try:
        bucket = ClusterBucket(nc, cluster, 2.0)
        await bucket.ensure(replicas=1)
        await bucket.write("settings", b"\x00not json\nforged line", expect=0)
        manager = ClusterManager(nc, "a", cluster=cluster, shard_count=SHARDS)
        with pytest.raises(ClusterConfigError) as refused:
            await manager.start()
        message = str(refused.value)
        assert "are not Aether's" in message and "nats stream rm" in message
        assert "\n" not in message  # the forged line stays escaped
    finally:
        await nc.drain()


async def test_a_value_over_max_payload_is_a_config_error_naming_the_limit(
        tmp_path: Path) -> None:
    # The shard table of a cluster founded before a server was restarted with a smaller
    # max_payload: the leader's write was a raw MaxPayloadError, logged as a bug each round.
    server = await asyncio.to_thread(
        NatsServer(tmp_path, extra_config="max_payload: 4096\n").start)
    nc = await nats.connect(server.url)
    try:
        bucket = ClusterBucket(nc, _name(), 2.0)
        await bucket.ensure(replicas=1)
        with pytest.raises(ClusterConfigError, match=r"over the server's max_payload \(4096\)"):
            await bucket.write(TABLE_KEY, b"x" * 5000, expect=0)
    finally:
        await nc.close()
        await asyncio.to_thread(server.stop)
