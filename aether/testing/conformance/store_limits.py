"""Rule 2 for every store: whatever it accepts it reads back exactly (same data, same
types); everything else is refused before anything is written, with an AetherError.

Part of ``StoreConformance`` (which inherits it); see store.py for how a backend uses it.
The property tests draw hostile events from ``aether.testing.strategies`` and take their
example count from the active hypothesis profile.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aether.errors import DuplicateEventIdError, InvalidEventError
from aether.event import ActorSnapshot, Event
from aether.limits import MAX_ACTOR_ID_BYTES
from aether.testing import strategies
from aether.testing.factories import make_event


def typed(value: Any) -> Any:
    """``value`` with every JSON scalar tagged by its type (and floats by their bits), so
    ``typed(a) == typed(b)`` means the same data of the same types: ``1``, ``1.0`` and
    ``True`` differ, and so do ``0.0`` and ``-0.0``."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    if isinstance(value, float):
        return ("float", value.hex())
    return (type(value).__name__, value)


def assert_reads_back_exactly(stored: Event | ActorSnapshot, saved: Event | ActorSnapshot) -> None:
    assert stored == saved
    assert typed(stored.model_dump()) == typed(saved.model_dump())
    assert stored.timestamp.utcoffset() == saved.timestamp.utcoffset()


# The store fixture is per test and its backend may be slow and shared: no deadline, no
# fixture warning. The suite runs in every subclass, so the same method meets several
# executors (harmless: tests keep no state on self). Example counts come from the profile.
property_test = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.differing_executors],
)


class StoreLimitsConformance:
    """Rule 2 tests; StoreConformance inherits them, so every backend runs them."""

    # Every test is a coroutine: marked here (StoreConformance inherits the mark) so subclasses
    # run in pytest-asyncio's default strict mode too, with no configuration from the user.
    pytestmark = pytest.mark.asyncio

    # ---- rule 2: whatever a store accepts it reads back exactly, the rest is refused -----

    @property_test
    @given(fields=strategies.hostile_event_fields())
    async def test_any_event_is_refused_or_reads_back_exactly(
        self, store: Any, fields: dict[str, Any]
    ) -> None:
        fields = {**fields, "id": uuid4().hex + fields["id"], "version": 1}
        try:
            event = Event(**fields)
        except InvalidEventError:
            return  # refused before any store saw it
        latest = await store.get_latest_version(event.actor_id)
        event = event.model_copy(update={"version": latest + 1})
        await store.save_event(event)
        (stored,) = await store.get_events(event.actor_id, latest + 1)
        assert_reads_back_exactly(stored, event)
        assert await store.get_latest_version(event.actor_id) == latest + 1
        assert await store.get_latest(event.actor_id) == (latest + 1, event.id)

    @property_test
    @given(actor_id=strategies.actor_ids, payloads=st.lists(strategies.json_data, min_size=1,
                                                            max_size=3))
    async def test_any_batch_of_json_data_reads_back_exactly(
        self, store: Any, actor_id: str, payloads: list[dict[str, Any]]
    ) -> None:
        try:
            latest = await store.get_latest_version(actor_id)
        except InvalidEventError:
            return  # an id no store accepts (too long, lone surrogate)
        batch = [Event(**{**make_event(actor_id, latest + offset).model_dump(), "data": data})
                 for offset, data in enumerate(payloads, start=1)]
        await store.save_events(batch)
        stored = await store.get_events(actor_id, latest + 1)
        assert len(stored) == len(batch)
        for read, saved in zip(stored, batch, strict=True):
            assert_reads_back_exactly(read, saved)
        assert await store.get_latest(actor_id) == (batch[-1].version, batch[-1].id)

    @property_test
    @given(actor_id=strategies.actor_ids, state=strategies.hostile_data,
           timestamp=strategies.hostile_timestamps)
    async def test_any_snapshot_is_refused_or_reads_back_exactly(
        self, store: Any, actor_id: str, state: dict[str, Any], timestamp: datetime
    ) -> None:
        try:
            snapshot = ActorSnapshot(actor_id=actor_id, version=1, state=state,
                                     timestamp=timestamp)
        except InvalidEventError:
            return
        current = await store.get_latest_snapshot(actor_id)
        snapshot = snapshot.model_copy(update={"version": (current.version if current else 0) + 1})
        await store.save_snapshot(snapshot)
        stored = await store.get_latest_snapshot(actor_id)
        assert stored is not None
        assert_reads_back_exactly(stored, snapshot)

    @pytest.mark.parametrize("actor_id", ["", "x" * (MAX_ACTOR_ID_BYTES + 1), "a\ud800"])
    async def test_reading_an_id_no_store_accepts_is_refused(
        self, store: Any, actor_id: str
    ) -> None:
        with pytest.raises(InvalidEventError, match="actor id"):
            await store.get_latest_version(actor_id)
        with pytest.raises(InvalidEventError, match="actor id"):
            await store.get_latest(actor_id)
        with pytest.raises(InvalidEventError, match="actor id"):
            await store.get_events(actor_id)
        with pytest.raises(InvalidEventError, match="actor id"):
            await store.get_latest_snapshot(actor_id)

    # ---- event ids -----------------------------------------------------------------

    async def test_a_reused_event_id_is_refused_and_leaves_no_hole(self, store: Any) -> None:
        first = make_event("a", 1)
        await store.save_event(first)
        reuse = make_event("a", 2).model_copy(update={"id": first.id})
        with pytest.raises(DuplicateEventIdError) as caught:
            await store.save_event(reuse)
        assert (caught.value.event_id, caught.value.version) == (first.id, 2)
        assert first.id in str(caught.value)
        assert await store.get_latest_version("a") == 1
        second = make_event("a", 2)
        await store.save_event(second)
        assert [e.id for e in await store.get_events("a")] == [first.id, second.id]

    async def test_a_reused_event_id_is_refused_in_batches_and_across_actors(
        self, store: Any
    ) -> None:
        first = make_event("a", 1)
        await store.save_event(first)
        batch = [make_event("a", 2), make_event("a", 3).model_copy(update={"id": first.id})]
        with pytest.raises(DuplicateEventIdError):
            await store.save_events(batch)
        other_actor = make_event("b", 1).model_copy(update={"id": first.id})
        with pytest.raises(DuplicateEventIdError):
            await store.save_event(other_actor)
        assert await store.get_latest_version("a") == 1
        assert await store.get_latest_version("b") == 0

    async def test_a_batch_repeating_an_event_id_is_refused_before_writing(
        self, store: Any
    ) -> None:
        first = make_event("a", 1)
        with pytest.raises(InvalidEventError, match="twice in one batch"):
            await store.save_events([first, make_event("a", 2).model_copy(
                update={"id": first.id})])
        assert await store.get_latest_version("a") == 0

    # ---- immutability --------------------------------------------------------------

    async def test_stored_history_cannot_be_changed_through_events(self, store: Any) -> None:
        event = make_event("a", 1, lines=[{"qty": 1}], tags=["x"])
        await store.save_event(event)
        (read,) = await store.get_events("a")
        snapshot = ActorSnapshot(actor_id="a", version=1, state={"items": [1]},
                                 timestamp=datetime.now(UTC))
        await store.save_snapshot(snapshot)
        loaded = await store.get_latest_snapshot("a")
        assert loaded is not None
        lines, tags, items = event.data["lines"], read.data["tags"], loaded.state["items"]
        assert isinstance(lines, list) and isinstance(tags, list) and isinstance(items, list)
        line = lines[0]
        assert isinstance(line, dict)
        attempts: list[Callable[[], object]] = [
            lambda: line.update(qty=99),
            lambda: event.metadata.update(correlation_id="forged"),
            lambda: tags.append("y"),
            lambda: read.data.pop("tags"),
            lambda: items.append(2),
            lambda: loaded.state.clear(),
        ]
        for attempt in attempts:
            with pytest.raises(TypeError, match="immutable"):
                attempt()
        assert (await store.get_events("a")) == [event]
        assert (await store.get_events("a"))[0].data == {"lines": [{"qty": 1}], "tags": ["x"]}
        assert await store.get_latest_snapshot("a") == snapshot
