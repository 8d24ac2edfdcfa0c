"""Two runners of one name (a deploy overlap, a second copy started by mistake) save the same
checkpoints at once, each over its own connection: the checkpoint ends at the highest
position saved, whatever order the writes reach the server in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import nats
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.aio.client import Client

from aether import JetStreamCheckpointStore
from aether.store import JetStreamEventStore
from aether.testing.servers import NatsServer

SAVERS = 4


@pytest.fixture
async def buckets(
    nats_server: NatsServer, nc: Client, jetstream_store: JetStreamEventStore
) -> AsyncIterator[list[JetStreamCheckpointStore]]:
    """One bucket, opened by SAVERS stores on connections of their own (processes alike)."""
    connections = [await nats.connect(nats_server.url, connect_timeout=5)
                   for _ in range(SAVERS)]
    stores = [await JetStreamCheckpointStore.for_store(connection, jetstream_store)
              for connection in connections]
    yield stores
    for connection in connections:
        await connection.drain()
    await nc.jetstream().delete_key_value(stores[0].bucket)


async def save_all(buckets: list[JetStreamCheckpointStore], plans: list[list[int]],
                   handler: str) -> None:
    """Each bucket saves its plan's positions in order, all buckets at once."""
    async def saver(bucket: JetStreamCheckpointStore, positions: list[int]) -> None:
        for position in positions:
            await bucket.save("twins", handler, position)

    await asyncio.gather(*(saver(bucket, plan) for bucket, plan in zip(buckets, plans,
                                                                        strict=False)))


async def test_concurrent_savers_of_interleaved_positions_end_at_the_highest(
    buckets: list[JetStreamCheckpointStore],
) -> None:
    # Saver i saves i + 1, i + 1 + SAVERS, ...: every write races the others' neighbours.
    plans = [list(range(first, 81, SAVERS)) for first in range(1, SAVERS + 1)]
    for round_ in range(10):
        await save_all(buckets, plans, f"policy-{round_}")
        assert [await bucket.load("twins", f"policy-{round_}") for bucket in buckets] == [
            80] * SAVERS


@settings(max_examples=15)
@given(plans=st.lists(st.lists(st.integers(1, 1000), min_size=1, max_size=10),
                      min_size=2, max_size=SAVERS))
async def test_any_interleaved_saves_end_at_the_highest(
    buckets: list[JetStreamCheckpointStore], plans: list[list[int]],
) -> None:
    handler = uuid4().hex  # the bucket outlives the examples
    await save_all(buckets, plans, handler)
    assert await buckets[0].load("twins", handler) == max(max(plan) for plan in plans)


async def test_a_reset_lowers_a_checkpoint_another_connection_raised(
    buckets: list[JetStreamCheckpointStore],
) -> None:
    first, second = buckets[:2]
    await first.save("twins", "policy", 30)
    await second.save("twins", "policy", 20)
    assert await first.load("twins", "policy") == 30
    await second.reset("twins", "policy")
    assert await first.load("twins", "policy") == 0
    await first.save("twins", "policy", 7)
    assert await second.load("twins", "policy") == 7
