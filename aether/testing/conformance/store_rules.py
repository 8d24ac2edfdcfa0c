"""The save rules every store follows, as a model, and the property test that holds each
store to it: random sequences of saves, retries of earlier saves, and retries whose content
differs from what landed, through ``save_event`` and ``save_events``.

Part of ``StoreConformance`` (which inherits it); see store.py for how a backend uses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from aether.errors import DuplicateEventIdError, InvalidEventError, VersionConflictError
from aether.event import Event
from aether.testing.conformance.store_limits import (
    StoreLimitsConformance,
    property_test,
    typed,
)


def stored_form(event: Event) -> str:
    """What a retry is compared by: the event as stored (JSON), so ``1`` is not ``True`` nor
    ``1.0``, and the same instant in another offset is another event."""
    return event.model_dump_json()


class StoreModel:
    """The documented rules (docs/runtime.md), one save at a time:

    - a save whose first version is after the actor's latest is written whole, unless an
      event id in it is taken (by any actor): DuplicateEventIdError, nothing written;
    - otherwise, when its last id is the actor's latest event's, it is a retry of a save
      that landed if those are the very same events, compared as stored: nothing happens;
      if an id names a different stored event, DuplicateEventIdError;
    - anything else is a VersionConflictError, nothing written.
    """

    def __init__(self) -> None:
        self.events: dict[str, list[Event]] = {}
        self.ids: set[str] = set()

    def save(self, batch: Sequence[Event]) -> None:
        history = self.events.setdefault(batch[0].actor_id, [])
        latest = history[-1].version if history else 0
        if batch[0].version <= latest:
            if history[-1].id == batch[-1].id:
                tail = [event for event in history if event.version >= batch[0].version]
                if [stored_form(e) for e in tail] == [stored_form(e) for e in batch]:
                    return  # a retry of what landed: these very events
                kept = {event.id: stored_form(event) for event in tail}
                for event in batch:  # an id of a different stored event
                    if kept.get(event.id, stored_form(event)) != stored_form(event):
                        raise DuplicateEventIdError(event.id, event.actor_id, event.version, "")
            raise VersionConflictError(batch[0].actor_id, latest, batch[0].version)
        for event in batch:
            if event.id in self.ids:
                raise DuplicateEventIdError(event.id, event.actor_id, event.version, "")
        history.extend(batch)
        self.ids.update(event.id for event in batch)


async def save_as_the_model_does(store: Any, model: StoreModel, batch: list[Event], *,
                                  single: bool) -> None:
    """Save ``batch`` (through save_event when ``single``) in ``store`` and ``model``: both
    must take it or refuse it alike."""
    try:
        await (store.save_event(batch[0]) if single else store.save_events(batch))
        got = "ok"
    except (VersionConflictError, DuplicateEventIdError, InvalidEventError) as error:
        got = type(error).__name__
    if got == "InvalidEventError":  # a batch repeating an id: refused before the rules
        assert len({event.id for event in batch}) < len(batch), batch
        return
    try:
        model.save(batch)
        expected = "ok"
    except (VersionConflictError, DuplicateEventIdError) as error:
        expected = type(error).__name__
    assert got == expected, batch


_STAMP = datetime(2026, 1, 1, tzinfo=UTC)
# Small pools, so that ids repeat and retries differ in one thing at a time: data that
# Python finds equal but JSON does not, the same instant in another offset, another type.
_DATA: list[dict[str, Any]] = [{}, {"n": 1}, {"n": True}, {"n": 1.0}]
_STAMPS = [_STAMP, _STAMP.astimezone(timezone(timedelta(hours=2)))]
_TYPES = ["T", "U"]

# A new save: which actor, versions from an offset of the actor's latest, how many events,
# each event's id, data, timestamp and type from the pools, and whether it goes through
# save_event (one event) or save_events.
_new_save = st.tuples(
    st.just("new"), st.sampled_from(["a", "b"]), st.integers(-2, 2), st.integers(1, 3),
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 1),
                       st.integers(0, 1)), min_size=3, max_size=3),
    st.booleans(),
)
# A retry: an earlier save sent again (index into those sent), either as it was or with one
# event's data, timestamp or type changed (which event, what to change).
_retry = st.tuples(st.just("again"), st.integers(0, 30), st.integers(0, 2),
                   st.sampled_from([None, "data", "timestamp", "event_type"]))
_saves = st.lists(st.one_of(_new_save, _retry), min_size=1, max_size=15)


def _changed(event: Event, change: str) -> Event:
    if change == "data":  # the next in the pool, told apart by type (1, True, 1.0)
        now = [typed(data) for data in _DATA].index(typed(dict(event.data)))
        update: dict[str, Any] = {"data": _DATA[(now + 1) % len(_DATA)]}
    elif change == "timestamp":  # the same instant in the other offset
        update = {"timestamp": _STAMPS[0] if event.timestamp.utcoffset() else _STAMPS[1]}
    else:
        update = {"event_type": "U" if event.event_type == "T" else "T"}
    return Event(**{**event.__dict__, **update})


class StoreRulesConformance(StoreLimitsConformance):
    """The model test; StoreConformance inherits it, so every backend runs it."""

    @property_test
    @given(saves=_saves)
    async def test_any_sequence_of_saves_and_retries_follows_the_rules(
        self, store: Any, saves: list[tuple[Any, ...]]
    ) -> None:
        # The store lives across examples: each example's actors and ids are its own.
        run = uuid4().hex[:12]
        actors = {name: f"{run}-{name}" for name in ("a", "b")}
        model = StoreModel()
        sent: list[list[Event]] = []
        for save in saves:
            if save[0] == "new":
                _, name, offset, size, picks, single = save
                actor_id = actors[name]
                first = max(1, await store.get_latest_version(actor_id) + offset)
                batch = [Event(id=f"{run}-e{id_pick}", event_type=_TYPES[type_pick],
                               actor_id=actor_id, version=first + index,
                               data=_DATA[data_pick], timestamp=_STAMPS[stamp_pick])
                         for index, (id_pick, data_pick, stamp_pick, type_pick)
                         in enumerate(picks[:1 if single else size])]
            elif sent:
                _, which, position, change = save
                batch = list(sent[which % len(sent)])
                if change is not None:
                    position %= len(batch)
                    batch[position] = _changed(batch[position], change)
                single = len(batch) == 1
            else:
                continue
            sent.append(batch)
            await save_as_the_model_does(store, model, batch, single=single)
            for actor_id in actors.values():
                kept = await store.get_events(actor_id)
                assert [stored_form(e) for e in kept] == [
                    stored_form(e) for e in model.events.get(actor_id, [])]
                history = model.events.get(actor_id)
                assert await store.get_latest(actor_id) == (
                    (history[-1].version, history[-1].id) if history else (0, None))
