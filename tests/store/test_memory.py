from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aether import ActorSnapshot, InvalidEventError
from aether.limits import DEFAULT_MAX_PAYLOAD
from aether.store import InMemoryEventStore
from aether.testing import make_event
from aether.testing.conformance import StoreConformance


class TestInMemoryEventStore(StoreConformance):
    @pytest.fixture
    def store(self, memory_store: InMemoryEventStore) -> InMemoryEventStore:
        return memory_store


async def test_max_event_bytes_mirrors_a_nats_servers_max_payload() -> None:
    store = InMemoryEventStore(max_event_bytes=DEFAULT_MAX_PAYLOAD)
    big = make_event("big", 1, blob="x" * DEFAULT_MAX_PAYLOAD)
    with pytest.raises(InvalidEventError, match=r"over the store's max_event_bytes of 1,048,576"):
        await store.save_event(big)
    with pytest.raises(InvalidEventError, match="max_event_bytes"):
        await store.save_events([make_event("big", 1), big.model_copy(update={"version": 2})])
    snapshot = ActorSnapshot(actor_id="big", version=1, state={"blob": "x" * DEFAULT_MAX_PAYLOAD},
                             timestamp=datetime.now(UTC))
    with pytest.raises(InvalidEventError, match="max_event_bytes"):
        await store.save_snapshot(snapshot)
    assert await store.get_latest_version("big") == 0
    assert await store.get_latest_snapshot("big") is None
    unlimited = InMemoryEventStore()  # no limit by default
    await unlimited.save_event(big)
    assert await unlimited.get_events("big") == [big]
