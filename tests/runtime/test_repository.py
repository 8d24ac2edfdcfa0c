from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from aether import (
    NO_EVENTS,
    ActorSnapshot,
    DomainError,
    Event,
    EventBus,
    EventDecodeError,
    EventRegistry,
    Latest,
    Repository,
    UnknownEventTypeError,
    VersionConflictError,
)
from aether.snapshot_shape import SNAPSHOT_SHAPE, state_shape
from aether.store import InMemoryEventStore
from aether.testing import make_event
from tests.runtime.accounts import Account, AccountOpened, AccountState, MoneyDeposited, registry


def repository(store: InMemoryEventStore, **kwargs: object) -> Repository[Account]:
    return Repository(store, Account, registry(), **kwargs)  # type: ignore[arg-type]


async def test_replay_equals_live_state() -> None:
    store = InMemoryEventStore()
    repo = repository(store)
    live = await repo.load("acc-1")
    live.open("ada")
    for amount in ("10.50", "0.25", "100"):
        live.deposit(Decimal(amount))
    live.withdraw(Decimal("5"))
    saved = await repo.save(live)
    assert [e.version for e in saved] == [1, 2, 3, 4, 5]
    assert live.version == 5 and live.pending_events == ()

    replayed = await repo.load("acc-1")
    assert replayed.state == live.state
    assert replayed.state.balance == Decimal("105.75")
    assert replayed.version == 5


async def test_snapshot_plus_tail_equals_full_replay() -> None:
    store = InMemoryEventStore()
    repo = repository(store, snapshot_every=4)
    account = await repo.load("acc-1")
    account.open("ada")
    await repo.save(account)
    for step in range(1, 11):
        account.deposit(Decimal(step))
        await repo.save(account)
    snapshot = await store.get_latest_snapshot("acc-1")
    assert snapshot is not None and snapshot.version == 8

    from_snapshot = await repo.load("acc-1")
    full = await repository(store).load("acc-1")  # no snapshot store: replays all 11 events
    assert from_snapshot.state == full.state
    assert from_snapshot.version == full.version == 11
    assert full.state.balance == Decimal(55)


async def test_snapshot_is_really_used_for_loading() -> None:
    store = InMemoryEventStore()
    repo = repository(store, snapshot_every=1)
    account = await repo.load("acc-1")
    account.open("ada")
    account.deposit(Decimal(1))
    await repo.save(account)
    # A snapshot that disagrees with the events proves where the state came from.
    forged = ActorSnapshot.model_validate(
        {"actor_id": "acc-1", "version": 2, "timestamp": "2026-01-01T00:00:00Z",
         "state": {"owner": "from-snapshot", "balance": "7", "movements": 1,
                   SNAPSHOT_SHAPE: state_shape(AccountState)}}
    )
    await store.save_snapshot(forged)
    # The repository that saved has the account cached; a load it has not cached (another
    # process's, after a restart, after eviction) starts from the snapshot.
    assert (await repo.load("acc-1")).state.owner == "ada"
    loaded = await repository(store, snapshot_every=1).load("acc-1")
    assert loaded.state.owner == "from-snapshot"
    assert loaded.version == 2


async def test_concurrent_writers_surface_version_conflict() -> None:
    store = InMemoryEventStore()
    repo = repository(store)
    first = await repo.load("acc-1")
    second = await repo.load("acc-1")
    first.open("ada")
    second.open("bob")
    await repo.save(first)
    with pytest.raises(VersionConflictError) as caught:
        await repo.save(second)
    assert caught.value.current_version == 1
    assert caught.value.attempted_version == 1
    assert (await repo.load("acc-1")).state.owner == "ada"


async def test_domain_errors_record_nothing() -> None:
    repo = repository(InMemoryEventStore())
    account = await repo.load("acc-1")
    with pytest.raises(DomainError, match="insufficient funds"):
        account.withdraw(Decimal(1))
    assert account.pending_events == ()
    assert await repo.save(account) == []


async def test_saved_events_are_published_in_order() -> None:
    bus = EventBus()
    subscription = await bus.subscribe("bank")
    repo = repository(InMemoryEventStore(), bus=bus, namespace="bank")
    account = await repo.load("acc-1")
    account.open("ada")
    account.deposit(Decimal(3))
    saved = await repo.save(account, metadata={"correlation_id": "req-7"})
    received = [await subscription.get(timeout=1) for _ in saved]
    assert received == saved
    assert [e.event_type for e in received] == ["AccountOpened", "MoneyDeposited"]
    assert all(e.correlation_id == "req-7" for e in received)
    assert received[1].data == {"amount": "3"}


async def test_stored_events_decode_to_typed_payloads() -> None:
    reg = registry()
    event = reg.to_event(MoneyDeposited(amount=Decimal("1.10")), "acc-1", 1)
    assert event.metadata["schema_version"] == "1"
    again = Event.model_validate_json(event.model_dump_json())
    assert reg.decode(again) == MoneyDeposited(amount=Decimal("1.10"))


async def test_unknown_and_malformed_events_say_what_to_do() -> None:
    reg = EventRegistry([AccountOpened])
    with pytest.raises(UnknownEventTypeError, match="register it"):
        reg.decode(make_event("a", 1, "Mystery"))
    with pytest.raises(EventDecodeError, match="AccountOpened"):
        reg.decode(make_event("a", 1, "AccountOpened", wrong="field"))


def test_registry_refuses_two_classes_for_one_type() -> None:
    class Impostor(AccountOpened):
        pass

    reg = EventRegistry([AccountOpened])
    with pytest.raises(ValueError, match="already registered"):
        reg.register(Impostor)


async def test_failed_snapshot_does_not_undo_the_save(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenSnapshots:
        async def save_snapshot(self, snapshot: ActorSnapshot) -> None:
            raise OSError("disk full")

        async def get_latest_snapshot(self, actor_id: str) -> ActorSnapshot | None:
            return None

    store = InMemoryEventStore()
    repo = repository(store, snapshot_store=BrokenSnapshots(), snapshot_every=1)
    account = await repo.load("acc-1")
    account.open("ada")
    with caplog.at_level(logging.ERROR):
        await repo.save(account)
    assert await store.get_latest_version("acc-1") == 1
    assert "snapshot" in caplog.text


def test_snapshot_every_needs_a_snapshot_store() -> None:
    class EventsOnly:
        async def save_event(self, event: Event) -> None: ...
        async def save_events(self, events: object) -> None: ...
        async def get_events(self, actor_id: str, from_version: int = 0) -> list[Event]:
            return []
        async def get_latest_version(self, actor_id: str) -> int:
            return 0
        async def get_latest(self, actor_id: str) -> Latest:
            return NO_EVENTS

    with pytest.raises(ValueError, match="snapshot store"):
        Repository(EventsOnly(), Account, registry(), snapshot_every=5)
