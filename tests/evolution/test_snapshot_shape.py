"""A snapshot taken with an older state shape is never mis-read: the aggregate replays its
events instead (the snapshot records its state class's shape, and load compares it)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, JsonValue

from aether import ActorSnapshot, AggregateRoot, EventPayload, EventRegistry, Repository
from aether.snapshot_shape import SNAPSHOT_SHAPE, state_shape
from aether.store import InMemoryEventStore


class Lent(EventPayload):
    event_type: ClassVar[str] = "Lent"
    to: str


class StateV1(BaseModel):
    borrower: str = ""
    loans: int = 0


class StateV2(BaseModel):
    """borrower renamed to holder: a v1 snapshot would validate here as holder="" (the
    default), silently losing the borrower, if load did not check the shape."""

    holder: str = ""
    loans: int = 0


class BookV1(AggregateRoot[StateV1]):
    @classmethod
    def initial_state(cls) -> StateV1:
        return StateV1()

    def apply(self, event: EventPayload) -> None:
        assert isinstance(event, Lent)
        self.state = StateV1(borrower=event.to, loans=self.state.loans + 1)


class BookV2(AggregateRoot[StateV2]):
    @classmethod
    def initial_state(cls) -> StateV2:
        return StateV2()

    def apply(self, event: EventPayload) -> None:
        assert isinstance(event, Lent)
        self.state = StateV2(holder=event.to, loans=self.state.loans + 1)


REGISTRY = EventRegistry([Lent])


def forged(snapshot: ActorSnapshot, version: int, state: dict[str, JsonValue]) -> ActorSnapshot:
    return ActorSnapshot(actor_id=snapshot.actor_id, version=version, state=state,
                         timestamp=snapshot.timestamp)


async def lend_three_times(store: InMemoryEventStore) -> None:
    repository = Repository(store, BookV1, REGISTRY, snapshot_every=2)
    for who in ("ada", "bob", "cy"):
        book = await repository.load("book-1")
        book.record(Lent(to=who))
        await repository.save(book)


async def test_a_snapshot_of_another_state_shape_is_replaced_by_replaying_events() -> None:
    store = InMemoryEventStore()
    await lend_three_times(store)
    snapshot = await store.get_latest_snapshot("book-1")
    assert snapshot is not None and snapshot.version == 2
    assert snapshot.state[SNAPSHOT_SHAPE] == state_shape(StateV1) != state_shape(StateV2)

    loaded = await Repository(store, BookV2, REGISTRY, snapshot_store=store).load("book-1")
    assert loaded.state == StateV2(holder="cy", loans=3) and loaded.version == 3


async def test_a_snapshot_of_the_same_shape_is_used() -> None:
    store = InMemoryEventStore()
    await lend_three_times(store)
    # Forge the snapshot (same shape, other content) to prove where the state came from.
    snapshot = await store.get_latest_snapshot("book-1")
    assert snapshot is not None
    await store.save_snapshot(forged(snapshot, 2, {**snapshot.state, "borrower": "forged"}))
    loaded = await Repository(store, BookV1, REGISTRY, snapshot_store=store).load("book-1")
    assert loaded.state == StateV1(borrower="cy", loans=3)  # the tail event came after
    assert loaded.version == 3
    await store.save_snapshot(forged(snapshot, 3, {**snapshot.state, "borrower": "forged"}))
    loaded = await Repository(store, BookV1, REGISTRY, snapshot_store=store).load("book-1")
    assert loaded.state == StateV1(borrower="forged", loans=2)


async def test_a_snapshot_without_a_recorded_shape_is_not_trusted() -> None:
    store = InMemoryEventStore()
    await lend_three_times(store)
    snapshot = await store.get_latest_snapshot("book-1")
    assert snapshot is not None
    state = {k: v for k, v in snapshot.state.items() if k != SNAPSHOT_SHAPE}
    await store.save_snapshot(forged(snapshot, 3, {**state, "borrower": "forged"}))
    loaded = await Repository(store, BookV1, REGISTRY, snapshot_store=store).load("book-1")
    assert loaded.state == StateV1(borrower="cy", loans=3)
