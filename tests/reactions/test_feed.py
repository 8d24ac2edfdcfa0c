"""The feed conformance suite on both backends."""

from __future__ import annotations

import pytest

from aether.feed import EventFeed
from aether.store import InMemoryEventStore, JetStreamEventStore
from aether.testing.conformance import FeedConformance


class TestInMemoryFeed(FeedConformance):
    @pytest.fixture
    def store(self, memory_store: InMemoryEventStore) -> InMemoryEventStore:
        return memory_store


class TestJetStreamFeed(FeedConformance):
    @pytest.fixture
    def store(self, jetstream_store: JetStreamEventStore) -> JetStreamEventStore:
        return jetstream_store


def test_both_stores_are_event_feeds(
    memory_store: InMemoryEventStore, jetstream_store: JetStreamEventStore
) -> None:
    assert isinstance(memory_store, EventFeed)
    assert isinstance(jetstream_store, EventFeed)
