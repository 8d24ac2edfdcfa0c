"""InMemoryEventStore's inline save path (a new event after the actor's latest, decided in
save_event itself) against the rules every save follows (``_admit`` and ``_id_is_new``, as
StoreConformance's model writes them out): retries of what landed (only the very same
events), duplicate ids, conflicts, one event or a batch, through save_event and save_events,
and through a subclass that adds to both."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from aether import Event
from aether.store import InMemoryEventStore
from aether.testing.conformance.store_rules import StoreModel, save_as_the_model_does


class Noting(InMemoryEventStore):
    """A subclass that adds to both saves: each save must reach it once."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def save_event(self, event: Event) -> None:
        self.calls.append("save_event")
        await super().save_event(event)

    async def save_events(self, events: Sequence[Event]) -> None:
        self.calls.append("save_events")
        await super().save_events(events)


_STAMP = datetime(2026, 1, 1, tzinfo=UTC)
# A save: which actor, versions from an offset of the latest, ids from a small pool (so
# they repeat), and whether it goes through save_event (one event) or save_events.
_save = st.tuples(st.sampled_from(["a", "b"]), st.integers(-2, 2), st.integers(1, 3),
                  st.lists(st.integers(0, 5), min_size=3, max_size=3), st.booleans())


@settings(max_examples=300, deadline=None)
@given(saves=st.lists(_save, min_size=1, max_size=25), subclass=st.booleans())
async def test_every_save_path_follows_the_same_rules(
        saves: list[tuple[str, int, int, list[int], bool]], subclass: bool) -> None:
    store = Noting() if subclass else InMemoryEventStore()
    model = StoreModel()
    for actor_id, offset, size, id_picks, single in saves:
        latest = await store.get_latest_version(actor_id)
        first = max(1, latest + offset)
        batch = [Event(id=f"e{id_picks[index]}", event_type="T", actor_id=actor_id,
                       version=first + index, timestamp=_STAMP)
                 for index in range(1 if single else size)]
        await save_as_the_model_does(store, model, batch, single=single)
        for actor in ("a", "b"):
            assert await store.get_events(actor) == model.events.get(actor, [])
        if isinstance(store, Noting):
            assert store.calls == ["save_event" if single else "save_events"]
            store.calls.clear()
    log = [event for _, event in await store.read_all(limit=1000)]
    assert sorted(log, key=lambda e: e.id) == sorted(
        (e for history in model.events.values() for e in history), key=lambda e: e.id)
