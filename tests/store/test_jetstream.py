from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from nats.aio.client import Client

from aether.store import JetStreamConfig, JetStreamEventStore
from aether.testing.conformance import StoreConformance


class TestJetStreamEventStore(StoreConformance):
    @pytest.fixture
    def store(self, jetstream_store: JetStreamEventStore) -> JetStreamEventStore:
        return jetstream_store

    @pytest.fixture(autouse=True)
    async def connection_survives(self, nc: Client) -> AsyncIterator[None]:
        # Every conformance test, the hostile ones included, must leave the shared
        # connection usable for every other actor on it.
        yield
        assert nc.is_connected, "the test's input broke the shared NATS connection"


class TestNamespacedJetStreamEventStore(TestJetStreamEventStore):
    @pytest.fixture
    async def store(self, nc: Client) -> AsyncIterator[JetStreamEventStore]:
        store = await JetStreamEventStore.create(
            nc, "events", JetStreamConfig(namespace=f"tenant {uuid4().hex[:8]}.eu*>")
        )
        yield store
        js = nc.jetstream()
        await js.delete_stream(store.stream_name)
        await js.delete_stream(store.snapshot_stream_name)
