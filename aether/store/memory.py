"""InMemoryEventStore: the embedded default for tests, demos and single-process apps."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Sequence

from aether.errors import VersionConflictError
from aether.event import ActorSnapshot, Event, check_batch
from aether.feed import DEFAULT_BATCH, FeedItem, Follow, Signal, normal_types


class InMemoryEventStore:
    """Event and snapshot store held in process memory.

    Each write checks and appends without awaiting in between, so it is atomic
    with respect to every other task on the event loop. Use one store per loop.
    Saving again the event (or batch) that is already the actor's latest is a no-op,
    so a caller may retry a save it is unsure about, as with JetStream.
    """

    def __init__(self) -> None:
        self._events: dict[str, list[Event]] = {}
        self._versions: dict[str, list[int]] = {}
        self._snapshots: dict[str, ActorSnapshot] = {}
        # The feed: every event in append order; an event's position is its index + 1.
        self._log: list[Event] = []
        self._appended = Signal()

    async def save_event(self, event: Event) -> None:
        if self._admit(event.actor_id, event, event):
            self._append(event)
            self._appended.notify()

    async def save_events(self, events: Sequence[Event]) -> None:
        actor_id = check_batch(events)
        if self._admit(actor_id, events[0], events[-1]):
            for event in events:
                self._append(event)
            self._appended.notify()

    def _admit(self, actor_id: str, first: Event, last: Event) -> bool:
        """True when the write may go ahead, False when it is a retry that already landed."""
        events = self._events.get(actor_id)
        latest_version = events[-1].version if events else 0
        if first.version > latest_version:
            return True
        if events and events[-1].id == last.id:
            return False
        raise VersionConflictError(actor_id, latest_version, first.version)

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
        self._log.append(event)

    # ---- the feed (aether.feed.EventFeed) ------------------------------------------------

    async def read_all(
        self, after: int = 0, limit: int = DEFAULT_BATCH, *,
        event_types: Collection[str] | None = None,
    ) -> list[FeedItem]:
        return self._scan_log(after, limit, normal_types(event_types))[0]

    def follow(self, after: int = 0, *, event_types: Collection[str] | None = None) -> Follow:
        async def scan(after: int, limit: int, event_types: frozenset[str] | None,
                       ) -> tuple[list[FeedItem], int]:
            return self._scan_log(after, limit, event_types)

        return Follow(scan, self._appended, after, event_types)

    async def last_position(self) -> int:
        return len(self._log)

    def _scan_log(self, after: int, limit: int, types: frozenset[str] | None,
                  ) -> tuple[list[FeedItem], int]:
        if after < 0 or limit < 1:
            raise ValueError(f"read_all needs after >= 0 and limit >= 1, got {after}, {limit}")
        if types is None:
            chunk = self._log[after:after + limit]
            return list(enumerate(chunk, start=after + 1)), after + len(chunk)
        found: list[FeedItem] = []
        position = after
        for position in range(after + 1, len(self._log) + 1):
            event = self._log[position - 1]
            if event.event_type in types:
                found.append((position, event))
                if len(found) == limit:
                    break
        return found, max(position, after)
