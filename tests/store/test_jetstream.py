from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from nats.aio.client import Client

from aether.store import JetStreamConfig, JetStreamEventStore
from tests.store.conformance import StoreConformance


class TestJetStreamEventStore(StoreConformance):
    @pytest.fixture
    async def store(self, nc: Client) -> AsyncIterator[JetStreamEventStore]:
        store = await JetStreamEventStore.create(
            nc, f"events_{uuid4().hex[:10]}", JetStreamConfig(storage="memory")
        )
        yield store
        js = nc.jetstream()
        await js.delete_stream(store.stream_name)
        await js.delete_stream(store.snapshot_stream_name)


class TestNamespacedJetStreamEventStore(StoreConformance):
    @pytest.fixture
    async def store(self, nc: Client) -> AsyncIterator[JetStreamEventStore]:
        store = await JetStreamEventStore.create(
            nc, "events", JetStreamConfig(namespace=f"tenant {uuid4().hex[:8]}.eu*>")
        )
        yield store
        js = nc.jetstream()
        await js.delete_stream(store.stream_name)
        await js.delete_stream(store.snapshot_stream_name)
