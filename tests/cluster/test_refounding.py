"""A cluster whose KV bucket is deleted under its running nodes (an operator's `nats stream
rm`, a server restarted without its store) founds itself again: the nodes create the bucket
anew, elect a leader and place every shard, although epochs and table versions start again
from 1 in the new bucket, below those the nodes held."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import nats

from aether.cluster import ClusterManager, ShardChange, read_status
from aether.cluster.kv import bucket_name
from aether.cluster.leader import KEY as LEADER_KEY
from aether.cluster.shard import SETTINGS_KEY, TABLE_KEY
from aether.cluster.types import ShardTable
from aether.testing import NatsServer
from tests.cluster.fleet import eventually
from tests.cluster.test_manager import SHARDS, running

TTL = 1.0
LIVENESS = 15 * TTL


def _settled(managers: list[ClusterManager]) -> bool:
    """One leader, one table every node holds, every shard owned by the node it names."""
    table = managers[0].table
    if table is None or any(m.table != table for m in managers) or sum(
            m.is_leader() for m in managers) != 1:
        return False
    return all(m.my_shards() == table.shards_of(m.node_id) for m in managers) and sorted(
        s for m in managers for s in m.my_shards()) == list(range(SHARDS))


async def test_a_deleted_bucket_is_created_again_and_the_cluster_founds_itself_anew(
        nats_server: NatsServer) -> None:
    cluster = f"refound {uuid4().hex[:6]}"
    stream = f"KV_{bucket_name(cluster)}"
    async with running(nats_server.url, cluster, ["a", "b"]) as managers:
        await eventually(lambda: _settled(managers), LIVENESS, "placed on a and b")
        # Revisions (and so the leader's epoch, a revision) grow high before the delete:
        # the new bucket's then start below what the nodes hold.
        js = managers[0].nc.jetstream()
        for _ in range(300):
            await js.publish(f"$KV.{bucket_name(cluster)}.filler", b"x")
        leader = next(m for m in managers if m.is_leader())
        await leader.election._resign("moved by the test")  # the next lease is high
        await eventually(lambda: _settled(managers) and managers[0].epoch > 300, LIVENESS,
                         "a leader elected at a high epoch")
        old = managers[0].table
        assert old is not None
        old_epoch, old_founded = old.epoch, managers[0].shards.founded

        await js.delete_stream(stream)

        def refounded() -> bool:
            return _settled(managers) and all(
                m.shards.founded != old_founded for m in managers)

        await eventually(refounded, LIVENESS, "the cluster founded again and placed")
        new = managers[0].table
        assert new is not None
        assert new.founded == managers[0].shards.founded != old_founded
        assert new.epoch < old_epoch and new.version <= old.version  # below what they held
        watcher = await nats.connect(nats_server.url)
        try:
            async def shown() -> bool:
                # Once both have heartbeated into the new bucket, the status shows the table
                # the nodes hold. (Not always `new`: a node not yet heartbeating there can
                # be left out of a table for a moment, and taken back by the next.)
                status = await read_status(watcher, cluster)
                return {m.node_id for m in status.members} == {"a", "b"} and \
                    status.table == managers[0].table and _settled(managers)

            await eventually(shown, LIVENESS, "both nodes in the status, and the table held")
            status = await read_status(watcher, cluster)
            assert status.table is not None and status.table.founded == new.founded
        finally:
            await watcher.close()


async def test_a_table_of_an_older_founding_is_never_adopted(nats_server: NatsServer) -> None:
    """A leader of the old founding that writes its table into the new bucket (it had not
    noticed yet) must not move anyone: its epoch may well be higher than the new one's."""
    cluster = f"stale {uuid4().hex[:6]}"
    async with running(nats_server.url, cluster, ["a"]) as [manager]:
        await eventually(lambda: _settled([manager]), LIVENESS, "placed on a")
        changes: list[ShardChange] = []
        manager.on_shards(changes.append)
        table = manager.table
        assert table is not None
        bucket = manager.bucket
        _, revision = await bucket.read(TABLE_KEY)
        stale = ShardTable.build(version=table.version + 1, epoch=table.epoch + 1000,
                                 leader="ghost", owners=["ghost"] * SHARDS,
                                 founded="an older founding")
        await bucket.write(TABLE_KEY, stale.model_dump_json().encode(), expect=revision)
        manager.shards.wake()
        # The leader writes its own table over it; nobody adopts the stale one.
        await eventually(lambda: _stored_by(manager, "a"), LIVENESS, "the stale table replaced")
        assert manager.table is not None and manager.table.nodes == ["a"]
        assert manager.table.founded == manager.shards.founded
        assert changes == [] and manager.my_shards() == frozenset(range(SHARDS))


async def _stored_by(manager: ClusterManager, leader: str) -> bool:
    entry, _ = await manager.bucket.read(TABLE_KEY)
    return entry is not None and ShardTable.model_validate_json(entry.value).leader == leader


async def test_a_node_started_after_the_settings_key_alone_was_deleted_joins_the_founding(
        nats_server: NatsServer) -> None:
    """Only the settings key deleted (`nats kv del <bucket> settings`): the bucket and its
    table are still there, so a node starting now writes the settings again with the
    table's founding, rather than a new one that would part it from the running nodes
    (the shards the table gave it were served by nobody)."""
    cluster = f"settings {uuid4().hex[:6]}"
    async with running(nats_server.url, cluster, ["a", "b"]) as managers:
        await eventually(lambda: _settled(managers), LIVENESS, "placed on a and b")
        founded = managers[0].shards.founded
        _, revision = await managers[0].bucket.read(SETTINGS_KEY)
        await managers[0].bucket.delete(SETTINGS_KEY, expect=revision)
        async with running(nats_server.url, cluster, ["c"]) as [late]:
            everyone = [*managers, late]
            await eventually(lambda: _settled(everyone) and late.my_shards(), LIVENESS,
                             "placed on a, b and c")
            assert {m.shards.founded for m in everyone} == {founded}


async def test_the_first_leader_of_a_new_founding_keeps_its_lease(
        nats_server: NatsServer) -> None:
    """The first campaign in the new bucket may win before that node's shard loop has seen
    the new founding; seeing it then must not give the fresh lease up (without deleting its
    key, nobody would lead for a whole lease_ttl). Driven by hand in that order."""
    cluster = f"keep {uuid4().hex[:6]}"
    async with running(nats_server.url, cluster, ["a"]) as [manager]:
        await eventually(lambda: _settled([manager]), LIVENESS, "placed on a")
        loop = manager.shards._task
        assert loop is not None
        loop.cancel()  # the shard loop, run by hand from here
        await asyncio.wait([loop])
        await manager.nc.jetstream().delete_stream(f"KV_{bucket_name(cluster)}")
        await manager.bucket.ensure(1)
        # The election loses the old bucket's lease (its renewal finds the key gone) and
        # wins the new bucket's.
        async def won_anew() -> bool:
            entry, _ = await manager.bucket.read(LEADER_KEY)
            return (entry is not None and manager.is_leader()
                    and manager.election._revision == entry.revision)

        await eventually(won_anew, LIVENESS, "the lease of the new bucket won")
        revision = manager.election._revision
        await manager.shards._step()  # sees the new founding now
        assert manager.shards.founded != "" and manager.is_leader()
        assert manager.election._revision >= revision
        manager.shards._task = asyncio.create_task(manager.shards._run())
        await eventually(lambda: _settled([manager]), LIVENESS, "placed again")
