"""InMemoryEventStore: the embedded default for tests, demos and single-process apps."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import TypeVar

from pydantic import JsonValue

from aether.errors import DuplicateEventIdError, VersionConflictError
from aether.event import ActorSnapshot, Event, check_batch, check_storable
from aether.limits import DEFAULT_MAX_PAYLOAD, check_actor_id, check_stored_size


class InMemoryEventStore:
    """Event and snapshot store held in process memory.

    Each write checks and appends without awaiting in between, so it is atomic
    with respect to every other task on the event loop. Use one store per loop.
    Saving again the event (or batch) that is already the actor's latest is a no-op,
    so a caller may retry a save it is unsure about, as with JetStream.

    It refuses what JetStream refuses, so code tested on it behaves the same in
    production: events over ``max_event_bytes`` as stored (default: the NATS server's
    default max_payload) and event ids already used by another event. History is
    immutable: the store keeps and hands out copies, so mutating an event's ``data``
    changes nothing stored.
    """

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_PAYLOAD) -> None:
        self._events: dict[str, list[Event]] = {}
        self._versions: dict[str, list[int]] = {}
        self._ids: dict[str, tuple[str, int]] = {}
        self._snapshots: dict[str, ActorSnapshot] = {}
        self._max_event_bytes = max_event_bytes

    async def save_event(self, event: Event) -> None:
        self._check(event)
        if self._admit(event.actor_id, [event]):
            self._append(event)

    async def save_events(self, events: Sequence[Event]) -> None:
        actor_id = check_batch(events)
        for event in events:
            self._check(event)
        if self._admit(actor_id, events):
            for event in events:
                self._append(event)

    def _check(self, record: Event | ActorSnapshot) -> None:
        check_storable(record)
        what = (f"event {record.id[:80]!r}" if isinstance(record, Event)
                else f"snapshot of actor {record.actor_id[:80]!r}")
        check_stored_size(what, len(record.model_dump_json()), self._max_event_bytes,
                          "store's max_event_bytes")

    def _admit(self, actor_id: str, batch: Sequence[Event]) -> bool:
        """True when the write may go ahead, False when it is a retry that already landed."""
        first, last = batch[0], batch[-1]
        events = self._events.get(actor_id)
        latest_version = events[-1].version if events else 0
        if first.version <= latest_version:
            if events and events[-1].id == last.id:
                return False
            raise VersionConflictError(actor_id, latest_version, first.version)
        for event in batch:
            owner = self._ids.get(event.id)
            if owner is not None:
                raise DuplicateEventIdError(
                    event.id, actor_id, event.version,
                    f" (version {owner[1]} of actor {owner[0][:80]!r})",
                )
        return True

    async def get_events(self, actor_id: str, from_version: int = 0) -> list[Event]:
        events = self._events.get(check_actor_id(actor_id))
        if not events:
            return []
        start = bisect_left(self._versions[actor_id], from_version)
        return [_copy(event) for event in events[start:]]

    async def get_latest_version(self, actor_id: str) -> int:
        versions = self._versions.get(check_actor_id(actor_id))
        return versions[-1] if versions else 0

    async def save_snapshot(self, snapshot: ActorSnapshot) -> None:
        self._check(snapshot)
        current = self._snapshots.get(snapshot.actor_id)
        # An older snapshot arriving late must not replace a newer one.
        if current is None or snapshot.version >= current.version:
            self._snapshots[snapshot.actor_id] = _copy(snapshot)

    async def get_latest_snapshot(self, actor_id: str) -> ActorSnapshot | None:
        snapshot = self._snapshots.get(check_actor_id(actor_id))
        return None if snapshot is None else _copy(snapshot)

    def _append(self, event: Event) -> None:
        self._ids[event.id] = (event.actor_id, event.version)
        events = self._events.get(event.actor_id)
        if events is None:
            self._events[event.actor_id] = [_copy(event)]
            self._versions[event.actor_id] = [event.version]
        else:
            events.append(_copy(event))
            self._versions[event.actor_id].append(event.version)


_Record = TypeVar("_Record", Event, ActorSnapshot)


def _copy(record: _Record) -> _Record:
    """A copy sharing no mutable part with ``record`` (its JSON containers are copied)."""
    if isinstance(record, Event):
        return record.model_copy(
            update={"data": _copy_json(record.data), "metadata": dict(record.metadata)}
        )
    return record.model_copy(update={"state": _copy_json(record.state)})


def _copy_json(data: dict[str, JsonValue]) -> dict[str, JsonValue]:
    # Depth is bounded by the limits (check_storable), so recursion is safe here.
    return {key: _copy_value(value) for key, value in data.items()}


def _copy_value(value: JsonValue) -> JsonValue:
    if isinstance(value, dict):
        return {key: _copy_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_value(item) for item in value]
    return value
