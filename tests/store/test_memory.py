from __future__ import annotations

import pytest

from aether.store import InMemoryEventStore
from tests.store.conformance import StoreConformance


class TestInMemoryEventStore(StoreConformance):
    @pytest.fixture
    def store(self) -> InMemoryEventStore:
        return InMemoryEventStore()
