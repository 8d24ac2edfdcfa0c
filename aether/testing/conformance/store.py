"""The store conformance suite: written once, subclassed by every backend's test module.

A subclass provides a ``store`` fixture (sync or async) returning a fresh, empty store that
implements both EventStore and SnapshotStore::

    from aether.testing.conformance import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest_asyncio.fixture
        async def store(self) -> MyStore:
            return await MyStore.open(...)
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aether.errors import DuplicateEventIdError, InvalidEventError, VersionConflictError
from aether.event import NO_EVENTS, ActorSnapshot, Event, Latest
from aether.jsondata import FrozenList
from aether.limits import MAX_ACTOR_ID_BYTES, MAX_BATCH_EVENTS
from aether.testing.conformance.store_rules import StoreRulesConformance
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

class StoreConformance(StoreRulesConformance):
    # Asyncio-marked by StoreLimitsConformance (pytest collects class marks along the bases).
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

    async def test_first_version_zero_is_refused(self, store: Any) -> None:
        # Event(...) refuses version 0; a model_construct'ed one is refused at the door.
        bad = unchecked(make_event("a", 1), version=0)
        with pytest.raises(InvalidEventError, match="greater than 0"):
            await store.save_event(bad)
        assert await store.get_events("a") == []

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

    # The store outlives hypothesis's examples: each example writes an actor of its own.
    @settings(suppress_health_check=[HealthCheck.differing_executors, HealthCheck.too_slow,
                                     HealthCheck.function_scoped_fixture])
    @given(versions=st.lists(st.integers(1, 40), min_size=1, max_size=12, unique=True),
           asked=st.lists(st.integers(-1, 42), min_size=1, max_size=6))
    async def test_from_version_reads_exactly_the_events_at_or_after_it(
        self, store: Any, versions: list[int], asked: list[int]
    ) -> None:
        actor_id = f"a-{uuid4().hex}"
        versions.sort()
        for version in versions:
            await store.save_event(make_event(actor_id, version))
        for from_version in asked:
            read = await store.get_events(actor_id, max(from_version, 0))
            assert [event.version for event in read] == [
                version for version in versions if version >= from_version]

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

    async def test_a_different_event_under_the_latest_id_is_no_retry(self, store: Any) -> None:
        # A retry is the very same event (or batch); the same id with other content would
        # otherwise be answered "already stored" and the new event silently lost.
        first = make_event("a", 1, amount=10)
        await store.save_event(first)
        updates: list[dict[str, Any]] = [{"data": {"amount": 999}}, {"data": {"amount": True}},
                                         {"event_type": "Other"}, {"metadata": {}}]
        for update in updates:
            other = first.model_copy(update=update)
            with pytest.raises(DuplicateEventIdError) as caught:
                await store.save_event(other)
            assert caught.value.event_id == first.id
        batch = [make_event("a", 2), make_event("a", 3)]
        await store.save_events(batch)
        # The last id is the latest's, the event before it is another: nothing is written.
        with pytest.raises(VersionConflictError):
            await store.save_events([make_event("a", 2), batch[1]])
        with pytest.raises(DuplicateEventIdError):
            await store.save_events([batch[0], batch[1].model_copy(update={"data": {"x": 1}})])
        assert await store.get_events("a") == [first, *batch]

    async def test_a_batch_is_at_most_the_atomic_limit(self, store: Any) -> None:
        too_many = [make_event("a", v) for v in range(1, MAX_BATCH_EVENTS + 2)]
        with pytest.raises(InvalidEventError, match=f"at most {MAX_BATCH_EVENTS}"):
            await store.save_events(too_many)
        assert await store.get_latest_version("a") == 0
        await store.save_events(too_many[:MAX_BATCH_EVENTS])
        assert await store.get_latest_version("a") == MAX_BATCH_EVENTS

    async def test_unvalidated_records_are_kept_as_their_constructor_builds_them(
        self, store: Any
    ) -> None:
        # model_construct skips validation: every store builds the record through its
        # constructor, so it refuses what the constructor refuses and keeps what JSON gives.
        for bad in ({"data": {"n": float("nan")}}, {"actor_id": ""},
                    {"timestamp": datetime(2026, 1, 1)}, {"data": {"t": (1, 2)}}):
            with pytest.raises(InvalidEventError):
                await store.save_event(unchecked(make_event("a", 1), **bad))
        assert await store.get_latest_version("a") == 0
        raw = unchecked(make_event("a", 1), data={"lines": [{"sku": "x"}]})
        await store.save_event(raw)
        (kept,) = await store.get_events("a")
        assert kept == Event(**raw.__dict__) and type(kept.data["lines"]) is FrozenList

    async def test_a_subclass_of_event_is_refused(self, store: Any) -> None:
        class Tagged(Event):
            tenant: str = ""

        with pytest.raises(InvalidEventError, match="Tagged"):
            await store.save_event(Tagged(**make_event("a", 1).__dict__, tenant="t"))
        assert await store.get_latest_version("a") == 0

    async def test_an_event_is_no_snapshot_and_a_snapshot_no_event(self, store: Any) -> None:
        event = make_event("a", 1)
        snapshot = ActorSnapshot(actor_id="a", version=1, state={}, timestamp=event.timestamp)
        with pytest.raises(InvalidEventError, match="ActorSnapshot"):
            await store.save_snapshot(event)
        for method, argument in ((store.save_event, snapshot),
                                 (store.save_events, [snapshot]),
                                 (store.save_events, [snapshot, snapshot])):
            with pytest.raises(InvalidEventError, match=r"expected an aether\.Event"):
                await method(argument)
        assert await store.get_latest_snapshot("a") is None
        assert await store.get_latest_version("a") == 0

    async def test_a_named_offset_and_fold_read_back_as_json_keeps_them(
        self, store: Any
    ) -> None:
        named = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=5, minutes=30), "IST"))
        for version, stamp in enumerate(
                (named, datetime(2026, 1, 1, tzinfo=timezone(timedelta(0), "GMT")),
                 datetime(2026, 1, 1, tzinfo=UTC, fold=1)), start=1):
            event = make_event("a", version).model_copy(update={"timestamp": stamp})
            assert event.timestamp == stamp and event.timestamp.fold == 0
            await store.save_event(event)
            (kept,) = await store.get_events("a", version)
            assert kept == event
            assert (kept.timestamp.tzname(), kept.timestamp.fold) == (
                event.timestamp.tzname(), 0)
        assert [e.timestamp.tzname() for e in await store.get_events("a")] == [
            "UTC+05:30", "UTC", "UTC"]

    async def test_reads_refuse_arguments_of_the_wrong_type(self, store: Any) -> None:
        await store.save_event(make_event("a", 1))
        for from_version in ("1", None, 1.0):
            with pytest.raises(InvalidEventError, match="from_version"):
                await store.get_events("a", from_version)
        for actor_id in (b"a", 1, None):
            with pytest.raises(InvalidEventError, match="actor id"):
                await store.get_latest_version(actor_id)
            with pytest.raises(InvalidEventError, match="actor id"):
                await store.get_events(actor_id)
        with pytest.raises(InvalidEventError, match="sequence"):
            await store.save_events(make_event("a", 2))

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
