"""Reading and listing the cluster's keys (ClusterBucket.read, a direct get; .scan, one
batched direct get) against a stand-in for the bucket's replicas on a real nats-server: an
error status is the cluster's transient error, never an empty answer, since a node's
discovery takes the members a listing lacks for gone (it keeps what it knew when a listing
fails)."""

from __future__ import annotations

import asyncio

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from aether.cluster.errors import ClusterUnavailableError
from aether.cluster.kv import ClusterBucket
from aether.store import jsapi
from aether.testing import NatsServer


async def _answering(replica: Client, bucket: ClusterBucket, headers: dict[str, str]) -> None:
    async def answer(message: Msg) -> None:
        await replica.publish(message.reply, b"", headers=headers)

    await replica.subscribe(f"{jsapi.API}.DIRECT.GET.{bucket.stream}", cb=answer)
    await replica.subscribe(f"{jsapi.API}.DIRECT.GET.{bucket.stream}.>", cb=answer)
    await replica.flush()


@pytest.mark.parametrize("headers", [
    {"Status": "503"},
    {"Status": "408", "Description": "Request Timeout"},
    {"Status": "413", "Description": "Too Many Subjects"},
])
async def test_an_error_status_is_an_error_not_an_empty_answer(
        two_connections: tuple[Client, Client], headers: dict[str, str]) -> None:
    reader, replica = two_connections
    bucket = ClusterBucket(reader, "listed", timeout=1.0)
    await _answering(replica, bucket, headers)
    with pytest.raises(ClusterUnavailableError, match="the node retries"):
        await bucket.scan("members")  # returned [] before
    with pytest.raises(ClusterUnavailableError, match="the node retries"):
        await bucket.read("leader")  # a StoreUnavailableError before, for a 408 or a 413


async def test_nothing_found_is_an_empty_listing(two_connections: tuple[Client, Client]) -> None:
    reader, replica = two_connections
    bucket = ClusterBucket(reader, "listed", timeout=1.0)
    await _answering(replica, bucket, {"Status": "404", "Description": "Message Not Found"})
    assert await bucket.scan("members") == []
    assert await bucket.read("leader") == (None, 0)


async def test_a_listing_outlives_more_than_1024_departed_members(
        nats_server: NatsServer) -> None:
    """Every node that leaves deletes its key. The markers stayed for good, and past 1,024
    keys the server refuses a listing (413), so discovery failed for ever once 1,024 node
    ids had come and gone (a helper's trial: 1,030). Markers now expire."""
    nc = await nats.connect(nats_server.url)
    try:
        bucket = ClusterBucket(nc, "many left", timeout=5.0, deleted_ttl=1.0)
        await bucket.ensure(1)
        for index in range(1_030):
            revision = await bucket.write(f"members.n{index}", b"{}", expect=0)
            await bucket.delete(f"members.n{index}", expect=revision)
        for _ in range(100):  # the markers expire about a second after they were written
            try:
                assert await bucket.scan("members") == []
                break
            except ClusterUnavailableError:  # too many markers left yet
                await asyncio.sleep(0.1)
        else:
            pytest.fail("the listing still fails")
        assert await bucket.read("members.n0") == (None, 0)  # a new member writes expect=0
    finally:
        await nc.close()
