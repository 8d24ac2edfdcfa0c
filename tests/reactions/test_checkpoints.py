"""The checkpoint store conformance suite on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client

from aether import InMemoryCheckpointStore, JetStreamCheckpointStore
from aether.store import JetStreamConfig, JetStreamEventStore
from aether.testing.conformance import CheckpointConformance


class TestInMemoryCheckpoints(CheckpointConformance):
    @pytest.fixture
    def checkpoints(self) -> InMemoryCheckpointStore:
        return InMemoryCheckpointStore()


class TestJetStreamCheckpoints(CheckpointConformance):
    @pytest.fixture
    async def checkpoints(
        self, nc: Client, jetstream_store: JetStreamEventStore
    ) -> AsyncIterator[JetStreamCheckpointStore]:
        checkpoints = await JetStreamCheckpointStore.for_store(nc, jetstream_store)
        yield checkpoints
        await nc.jetstream().delete_key_value(checkpoints.bucket)


async def test_the_bucket_is_namespaced_like_the_store(nc: Client) -> None:
    stores = [await JetStreamEventStore.create(nc, "ledger", JetStreamConfig(
        namespace=namespace, storage="memory")) for namespace in ("tenant a", "tenant b")]
    buckets = [await JetStreamCheckpointStore.for_store(nc, store) for store in stores]
    assert [bucket.bucket for bucket in buckets] == ["tenant_a_ledger_checkpoints",
                                                     "tenant_b_ledger_checkpoints"]
    await buckets[0].save("runner", "policy", 42)
    assert await buckets[1].load("runner", "policy") == 0
    assert await buckets[0].load("runner", "policy") == 42
    js = nc.jetstream()
    for store, bucket in zip(stores, buckets, strict=True):
        await js.delete_key_value(bucket.bucket)
        await js.delete_stream(store.stream_name)
        await js.delete_stream(store.snapshot_stream_name)
