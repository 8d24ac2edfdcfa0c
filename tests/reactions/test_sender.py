"""CommandRouter as a CommandSender, and the command-id mechanism behind exactly-once."""

from __future__ import annotations

import pytest

from aether import CommandRouter, CommandSender, Repository
from aether.aggregate import SNAPSHOT_COMMANDS
from aether.event import COMMAND_ID
from aether.store import InMemoryEventStore, JetStreamEventStore
from aether.testing.conformance import SenderConformance
from aether.testing.counters import Counter, Increment, make_counter_router, registry


class TestRouterOnMemory(SenderConformance):
    @pytest.fixture
    def store(self, memory_store: InMemoryEventStore) -> InMemoryEventStore:
        return memory_store

    @pytest.fixture
    def sender(self, store: InMemoryEventStore) -> CommandRouter:
        return make_counter_router(store)


class TestRouterOnJetStreamWithSnapshots(SenderConformance):
    """Snapshots after every save: remembered command ids must survive them."""

    @pytest.fixture
    def store(self, jetstream_store: JetStreamEventStore) -> JetStreamEventStore:
        return jetstream_store

    @pytest.fixture
    def sender(self, store: JetStreamEventStore) -> CommandRouter:
        return make_counter_router(store, snapshot_store=store, snapshot_every=1)


def test_router_satisfies_the_protocol() -> None:
    assert isinstance(CommandRouter(), CommandSender)


async def test_a_command_id_is_remembered_across_snapshots() -> None:
    store = InMemoryEventStore()
    router = make_counter_router(store, snapshot_store=store, snapshot_every=3)
    first = await router.send("c", Increment(), {COMMAND_ID: "early"})
    for _ in range(10):
        await router.send("c", Increment())
    snapshot = await store.get_latest_snapshot("c")
    assert snapshot is not None and snapshot.version == 9
    assert "early" in snapshot.state[SNAPSHOT_COMMANDS]  # type: ignore[operator]
    assert await router.send("c", Increment(), {COMMAND_ID: "early"}) == first
    loaded = await Repository(store, Counter, registry, snapshot_store=store).load("c")
    assert loaded.state.count == 11
    assert loaded.command_versions("early") == (1, 1)


async def test_only_the_last_remembered_commands_are_deduplicated() -> None:
    class ShortMemory(Counter):
        remembered_commands = 3

    store = InMemoryEventStore()
    router = CommandRouter()
    router.route(Increment, Repository(store, ShortMemory, registry), ShortMemory.handle)
    await router.send("c", Increment(), {COMMAND_ID: "old"})
    for _ in range(3):
        await router.send("c", Increment())
    # "old" fell out of the window: documented, it runs again.
    await router.send("c", Increment(), {COMMAND_ID: "old"})
    assert len(await store.get_events("c")) == 5
