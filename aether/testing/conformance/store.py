"""The store conformance suite: written once, subclassed by every backend's test module.

A subclass provides a ``store`` fixture (sync or async) returning a fresh, empty store that
implements both EventStore and SnapshotStore::

    from aether.testing.conformance import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        async def store(self) -> MyStore:
            return await MyStore.open(...)
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from aether.errors import InvalidEventError, VersionConflictError
from aether.event import NO_EVENTS, ActorSnapshot, Latest
from aether.limits import MAX_ACTOR_ID_BYTES
from aether.testing.conformance.store_limits import StoreLimitsConformance
from aether.testing.factories import make_event, unchecked

ODD_ACTOR_IDS = [
    "order-123",
    "a.b",
    "a_b",
    "a b",
    "a\tb",
    "*",
    ">",
    "a.*",
    "a.>",
    "$JS.API",
    "commande-été-ß-注文",
    "🙂",
    "..",
    "%2E",
    "~",
    "x" * 300,
    "🙂" * (MAX_ACTOR_ID_BYTES // 4),  # the longest id: 512 bytes, each escaped in a subject
]

class StoreConformance(StoreLimitsConformance):
    # ---- version rules -------------------------------------------------------------

    async def test_unknown_actor_has_version_zero_and_no_events(self, store: Any) -> None:
        assert await store.get_latest_version("nobody") == 0
        assert await store.get_events("nobody") == []

    async def test_latest_names_the_last_event(self, store: Any) -> None:
        assert await store.get_latest("nobody") == NO_EVENTS == (0, None)
        first, second = make_event("a", 1), make_event("a", 4)
        await store.save_event(first)
        assert await store.get_latest("a") == Latest(1, first.id)
        await store.save_events([second, make_event("a", 6)])
        last = (await store.get_events("a"))[-1]
        assert await store.get_latest("a") == Latest(6, last.id)
        assert await store.get_latest("b") == NO_EVENTS

    async def test_saved_event_reads_back_equal(self, store: Any) -> None:
        event = make_event("order-1", 1, "OrderPlaced", total=100.5, lines=[{"sku": "x"}])
        await store.save_event(event)
        assert await store.get_events("order-1") == [event]
        assert await store.get_latest_version("order-1") == 1

    async def test_first_version_zero_conflicts(self, store: Any) -> None:
        bad = unchecked(make_event("a", 1), version=0)
        with pytest.raises(VersionConflictError) as caught:
            await store.save_event(bad)
        assert (caught.value.current_version, caught.value.attempted_version) == (0, 0)

    async def test_conflicting_append_reports_current_version(self, store: Any) -> None:
        await store.save_event(make_event("order-1", 1))
        await store.save_event(make_event("order-1", 2))
        with pytest.raises(VersionConflictError) as caught:
            await store.save_event(make_event("order-1", 2))
        error = caught.value
        assert error.actor_id == "order-1"
        assert error.current_version == 2
        assert error.attempted_version == 2
        assert "order-1" in str(error) and "2" in str(error)

    async def test_lower_version_conflicts_and_changes_nothing(self, store: Any) -> None:
        await store.save_event(make_event("a", 5))
        with pytest.raises(VersionConflictError) as caught:
            await store.save_event(make_event("a", 3))
        assert caught.value.current_version == 5
        assert [e.version for e in await store.get_events("a")] == [5]

    async def test_gaps_are_allowed(self, store: Any) -> None:
        for version in (1, 5, 6, 42):
            await store.save_event(make_event("a", version))
        assert [e.version for e in await store.get_events("a")] == [1, 5, 6, 42]
        assert await store.get_latest_version("a") == 42

    async def test_from_version_is_inclusive_and_ascending(self, store: Any) -> None:
        for version in range(1, 11):
            await store.save_event(make_event("a", version))
        assert [e.version for e in await store.get_events("a", 4)] == list(range(4, 11))
        assert [e.version for e in await store.get_events("a", 0)] == list(range(1, 11))
        assert [e.version for e in await store.get_events("a", 10)] == [10]
        assert await store.get_events("a", 11) == []

    async def test_from_version_between_gaps(self, store: Any) -> None:
        for version in (2, 4, 8):
            await store.save_event(make_event("a", version))
        assert [e.version for e in await store.get_events("a", 3)] == [4, 8]

    async def test_actors_are_independent(self, store: Any) -> None:
        await store.save_event(make_event("a", 1))
        await store.save_event(make_event("b", 1))
        await store.save_event(make_event("a", 2))
        assert [e.actor_id for e in await store.get_events("a")] == ["a", "a"]
        assert await store.get_latest_version("b") == 1

    async def test_event_fields_survive_storage(self, store: Any) -> None:
        stamp = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
        event = make_event("a", 1, "Odd", text="quote \" back\\slash \n ünï", n=None, f=0.1)
        event = event.model_copy(update={"timestamp": stamp, "metadata": {"k": "v", "c": "é"}})
        await store.save_event(event)
        (stored,) = await store.get_events("a")
        assert stored == event
        assert stored.timestamp == stamp
        assert stored.timestamp.utcoffset() == timedelta(hours=2)

    async def test_retrying_the_latest_save_is_a_no_op(self, store: Any) -> None:
        event = make_event("a", 1)
        await store.save_event(event)
        await store.save_event(event)  # e.g. the first ack was lost
        batch = [make_event("a", v) for v in (2, 3)]
        await store.save_events(batch)
        await store.save_events(batch)
        assert [e.id for e in await store.get_events("a")] == [event.id] + [e.id for e in batch]
        with pytest.raises(VersionConflictError):
            await store.save_event(event)  # no longer the latest: a real conflict

    # ---- save_events ---------------------------------------------------------------

    async def test_save_events_appends_all(self, store: Any) -> None:
        await store.save_events([make_event("a", v) for v in (1, 2, 3)])
        assert [e.version for e in await store.get_events("a")] == [1, 2, 3]
        assert await store.get_latest_version("a") == 3

    async def test_save_events_conflict_writes_nothing(self, store: Any) -> None:
        await store.save_event(make_event("a", 2))
        with pytest.raises(VersionConflictError) as caught:
            await store.save_events([make_event("a", v) for v in (2, 3, 4)])
        assert caught.value.current_version == 2
        assert caught.value.attempted_version == 2
        assert [e.version for e in await store.get_events("a")] == [2]

    @pytest.mark.parametrize(
        ("actors", "versions"),
        [(["a", "b"], [1, 2]), (["a", "a"], [2, 1]), (["a", "a"], [1, 1])],
        ids=["two-actors", "descending", "repeated"],
    )
    async def test_save_events_rejects_malformed_batches(
        self, store: Any, actors: list[str], versions: list[int]
    ) -> None:
        batch = [make_event(a, v) for a, v in zip(actors, versions, strict=True)]
        with pytest.raises(InvalidEventError):
            await store.save_events(batch)
        assert await store.get_events("a") == []
        assert await store.get_events("b") == []

    async def test_save_events_rejects_empty_batch(self, store: Any) -> None:
        with pytest.raises(InvalidEventError):
            await store.save_events([])

    # ---- snapshots -----------------------------------------------------------------

    async def test_snapshot_absent_is_none(self, store: Any) -> None:
        assert await store.get_latest_snapshot("a") is None

    async def test_latest_snapshot_wins(self, store: Any) -> None:
        now = datetime.now(UTC)
        first = ActorSnapshot(actor_id="a", version=3, state={"total": 3}, timestamp=now)
        second = ActorSnapshot(actor_id="a", version=7, state={"total": 7}, timestamp=now)
        await store.save_snapshot(first)
        await store.save_snapshot(second)
        assert await store.get_latest_snapshot("a") == second
        assert await store.get_latest_snapshot("b") is None

    # ---- identities ----------------------------------------------------------------

    async def test_odd_actor_ids_stay_apart(self, store: Any) -> None:
        for index, actor_id in enumerate(ODD_ACTOR_IDS, start=1):
            await store.save_event(make_event(actor_id, index, marker=actor_id))
        for index, actor_id in enumerate(ODD_ACTOR_IDS, start=1):
            events = await store.get_events(actor_id)
            assert [(e.actor_id, e.version, e.data["marker"]) for e in events] == [
                (actor_id, index, actor_id)
            ]
            assert await store.get_latest_version(actor_id) == index
            snapshot = ActorSnapshot(
                actor_id=actor_id, version=index, state={"id": actor_id},
                timestamp=datetime.now(UTC),
            )
            await store.save_snapshot(snapshot)
        for actor_id in ODD_ACTOR_IDS:
            snapshot = await store.get_latest_snapshot(actor_id)
            assert snapshot is not None and snapshot.state == {"id": actor_id}

    # ---- concurrency ---------------------------------------------------------------

    async def test_racing_tasks_write_each_version_once(self, store: Any) -> None:
        winners: dict[int, int] = {}
        conflicts = 0

        async def contender(task: int, version: int) -> None:
            nonlocal conflicts
            try:
                await store.save_event(make_event("hot", version, task=task))
            except VersionConflictError as error:
                assert error.current_version >= version
                conflicts += 1
            else:
                assert version not in winners
                winners[version] = task

        for version in range(1, 6):
            await asyncio.gather(*(contender(task, version) for task in range(100)))
        assert sorted(winners) == [1, 2, 3, 4, 5]
        assert conflicts == 5 * 99
        events = await store.get_events("hot")
        assert [e.version for e in events] == [1, 2, 3, 4, 5]
        assert [e.data["task"] for e in events] == [winners[v] for v in range(1, 6)]

    async def test_racing_batches_are_all_or_nothing(self, store: Any) -> None:
        async def contender(task: int) -> bool:
            batch = [make_event("hot", v, task=task) for v in (1, 2, 3)]
            try:
                await store.save_events(batch)
            except VersionConflictError:
                return False
            return True

        results = await asyncio.gather(*(contender(task) for task in range(100)))
        assert results.count(True) == 1
        events = await store.get_events("hot")
        assert [e.version for e in events] == [1, 2, 3]
        assert len({e.data["task"] for e in events}) == 1
