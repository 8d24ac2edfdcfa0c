"""The shard count a node accepts is bounded by the server's max_payload: the leader writes
the whole shard table as one message. At the bound, the largest table that many shards can
make is written and read back by a running node; one shard more is refused when the manager
is built, before the cluster's settings are written, so its name stays usable."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from uuid import uuid4

import nats
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client

from aether.cluster import ClusterManager, UnknownClusterError, read_status
from aether.cluster.errors import ClusterConfigError
from aether.cluster.kv import CasFailed, ClusterBucket
from aether.cluster.manager import MAX_NODE_ID
from aether.cluster.shard import TABLE_KEY
from aether.cluster.types import ShardTable
from aether.testing import NatsServer
from tests.actors.cluster import wait_for

SMALL_PAYLOAD = 64 * 1024


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A server with a 64 KiB max_payload: the bound is a few hundred shards there."""
    server = NatsServer(store_dir=tmp_path_factory.mktemp("small"), name="small-payload",
                        extra_config=f"max_payload: {SMALL_PAYLOAD}\n").start()
    yield server
    server.stop()


@pytest.fixture
async def small_nc(small_server: NatsServer) -> AsyncIterator[Client]:
    client = await nats.connect(small_server.url)
    yield client
    await client.drain()


def _name() -> str:
    return f"bound {uuid4().hex[:6]}"


def _accepts(nc: Client, shard_count: int) -> bool:
    try:
        ClusterManager(nc, "probe", cluster=_name(), shard_count=shard_count)
    except ClusterConfigError:
        return False
    return True


def _largest_accepted(nc: Client) -> int:
    """Found by building managers (no I/O), not by repeating the formula."""
    low, high = 1, nc.max_payload
    assert _accepts(nc, low) and not _accepts(nc, high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if _accepts(nc, middle) else (low, middle)
    return low


def _longest_id(i: int) -> str:
    """A distinct node id of MAX_NODE_ID bytes whose every character JSON escapes to two."""
    return "".join("\\" if bit == "0" else '"' for bit in format(i, f"0{MAX_NODE_ID}b"))


def _largest_table(shards: int, written: ShardTable) -> ShardTable:
    """The largest table ``shards`` shards can make (each on a node of its own, every id
    the longest in JSON, 64-bit version and epoch), on top of ``written``: the fields a
    leader sets that this test does not choose stay as the node wrote them."""
    built = ShardTable.build(version=2**64 - 1, epoch=2**64 - 1, leader=_longest_id(shards),
                             owners=[_longest_id(i) for i in range(shards)])
    largest = written.model_copy(update={field: getattr(built, field) for field in (
        "version", "epoch", "leader", "nodes", "owners")})
    assert max(largest.owners) == shards - 1
    return largest


async def _read_back_by_a_node(nc: Client, shards: int) -> int:
    """Start a node with ``shards`` shards, overwrite its table with the largest one and
    wait until the node adopts it; the table's size in bytes."""
    cluster = _name()
    manager = ClusterManager(nc, "n", cluster=cluster, shard_count=shards, lease_ttl=1.0)
    await manager.start()
    try:
        await wait_for(lambda: len(manager.my_shards()) == shards)
        assert manager.table is not None
        largest = _largest_table(shards, manager.table)
        value = largest.model_dump_json().encode()
        bucket = ClusterBucket(nc, cluster, 5.0)
        while True:  # the leader may write a table between our read and our write
            _, revision = await bucket.read(TABLE_KEY)
            try:
                await bucket.write(TABLE_KEY, value, expect=revision)
                break
            except CasFailed:
                continue
        await bucket.nudge(TABLE_KEY)
        await wait_for(lambda: manager.table == largest)
        assert (await read_status(nc, cluster)).table == largest
        return len(value)
    finally:
        await manager.stop()


@pytest.mark.parametrize("server", ["nats_server", "small_server"])
async def test_at_the_bound_the_largest_table_fits_and_one_shard_more_is_refused_unwritten(
        request: pytest.FixtureRequest, server: str) -> None:
    nc = await nats.connect(request.getfixturevalue(server).url)
    try:
        await _at_the_bound(nc)
    finally:
        await nc.drain()


async def _at_the_bound(nc: Client) -> None:
    bound = _largest_accepted(nc)
    size = await _read_back_by_a_node(nc, bound)
    assert size <= nc.max_payload

    cluster = _name()
    with pytest.raises(ClusterConfigError, match=rf"max_payload of {nc.max_payload}; use "
                                                 rf"shard_count <= {bound}\b") as refused:
        ClusterManager(nc, "a", cluster=cluster, shard_count=bound + 1)
    assert f"shard_count={bound + 1} is too large" in str(refused.value)
    with pytest.raises(UnknownClusterError):  # nothing written: not even the bucket
        await read_status(nc, cluster)
    manager = ClusterManager(nc, "a", cluster=cluster, shard_count=8, lease_ttl=1.0)
    await manager.start()  # the name stays usable, with a count that fits
    try:
        status = await read_status(nc, cluster)
        assert status.settings is not None and status.settings.shard_count == 8
    finally:
        await manager.stop()


def test_the_default_server_takes_the_default_count_and_a_few_thousand_more(nc: Client) -> None:
    # 1 MiB, nats-server's default max_payload: the number docs/cluster.md gives.
    assert nc.max_payload == 1024 * 1024
    assert _largest_accepted(nc) == 3968


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
@example(data=None)
async def test_every_accepted_count_gets_its_largest_table_through(
        small_nc: Client, data: st.DataObject | None) -> None:
    bound = _largest_accepted(small_nc)
    shards = bound if data is None else data.draw(st.integers(1, bound), label="shards")
    assert await _read_back_by_a_node(small_nc, shards) <= SMALL_PAYLOAD


@pytest.mark.parametrize("shards", [600_000, 10**12])
def test_a_huge_count_is_refused_at_once_with_the_count_to_use(nc: Client, shards: int) -> None:
    # 600,000 shards raised nats' MaxPayloadError from start(), after the settings were
    # written: the name was stuck with a count no node could serve.
    with pytest.raises(ClusterConfigError, match=r"use shard_count <= 3968, or raise "
                                                 r"max_payload"):
        ClusterManager(nc, "a", cluster=_name(), shard_count=shards)
