from __future__ import annotations

import pytest

from aether.store import InMemoryEventStore
from aether.testing.conformance import StoreConformance


class TestInMemoryEventStore(StoreConformance):
    @pytest.fixture
    def store(self, memory_store: InMemoryEventStore) -> InMemoryEventStore:
        return memory_store
