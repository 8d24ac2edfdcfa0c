"""InMemoryEventStore: the embedded default for tests, demos and single-process apps."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from aether.errors import VersionConflictError
from aether.event import ActorSnapshot, Event, check_batch


class InMemoryEventStore:
    """Event and snapshot store held in process memory.

    Each write checks and appends without awaiting in between, so it is atomic
    with respect to every other task on the event loop. Use one store per loop.
    """

    def __init__(self) -> None:
        self._events: dict[str, list[Event]] = {}
        self._versions: dict[str, list[int]] = {}
        self._snapshots: dict[str, ActorSnapshot] = {}

    async def save_event(self, event: Event) -> None:
        latest = self._latest(event.actor_id)
        if event.version <= latest:
            raise VersionConflictError(event.actor_id, latest, event.version)
        self._append(event)

    async def save_events(self, events: Sequence[Event]) -> None:
        actor_id = check_batch(events)
        latest = self._latest(actor_id)
        first = events[0].version
        if first <= latest:
            raise VersionConflictError(actor_id, latest, first)
        for event in events:
            self._append(event)

    async def get_events(self, actor_id: str, from_version: int = 0) -> list[Event]:
        events = self._events.get(actor_id)
        if not events:
            return []
        start = bisect_left(self._versions[actor_id], from_version)
        return events[start:]

    async def get_latest_version(self, actor_id: str) -> int:
        return self._latest(actor_id)

    async def save_snapshot(self, snapshot: ActorSnapshot) -> None:
        current = self._snapshots.get(snapshot.actor_id)
        # An older snapshot arriving late must not replace a newer one.
        if current is None or snapshot.version >= current.version:
            self._snapshots[snapshot.actor_id] = snapshot

    async def get_latest_snapshot(self, actor_id: str) -> ActorSnapshot | None:
        return self._snapshots.get(actor_id)

    def _latest(self, actor_id: str) -> int:
        versions = self._versions.get(actor_id)
        return versions[-1] if versions else 0

    def _append(self, event: Event) -> None:
        events = self._events.get(event.actor_id)
        if events is None:
            self._events[event.actor_id] = [event]
            self._versions[event.actor_id] = [event.version]
        else:
            events.append(event)
            self._versions[event.actor_id].append(event.version)
