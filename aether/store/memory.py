"""InMemoryEventStore: the embedded default for tests, demos and single-process apps."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Sequence
from operator import attrgetter

from aether.errors import DuplicateEventIdError, VersionConflictError
from aether.event import (
    NO_EVENTS,
    ActorSnapshot,
    Event,
    Latest,
    check_batch,
    check_retry,
    encode_record,
    storable,
)
from aether.feed import DEFAULT_BATCH, FeedItem, Follow, Signal, check_read, normal_types
from aether.limits import check_actor_id, check_stored_size, from_version_error

# Latest(version, id) without its Python-level __new__: every load of a cached aggregate asks.
_latest = tuple.__new__


class InMemoryEventStore:
    """Event and snapshot store held in process memory.

    Each write checks and appends without awaiting in between, so it is atomic
    with respect to every other task on the event loop. Use one store per loop.
    Saving again the event (or batch) that is already the actor's latest is a no-op,
    so a caller may retry a save it is unsure about, as with JetStream.

    Like JetStream it refuses a different event under an event id already stored
    (DuplicateEventIdError). Events are deeply immutable (their data is frozen), so the
    store keeps and hands out the events themselves and history cannot be rewritten.
    ``max_event_bytes`` (default: no limit) refuses events and snapshots larger than that
    as stored, to mirror a NATS server's max_payload (``aether.limits.DEFAULT_MAX_PAYLOAD``
    is its default); it costs a JSON encoding per save.
    """

    def __init__(self, max_event_bytes: int | None = None) -> None:
        self._events: dict[str, list[Event]] = {}
        self._ids: dict[str, Event] = {}
        self._snapshots: dict[str, ActorSnapshot] = {}
        self._max_event_bytes = max_event_bytes
        # The feed: every event in append order; an event's position is its index + 1.
        self._log: list[Event] = []
        self._appended = Signal()

    async def save_event(self, event: Event) -> None:
        # What JetStream keeps is what it reads back from JSON: so is what this store keeps
        # (storable, written out for the common case: an Event its constructor checked).
        try:
            if type(event) is not Event or not event._aether_checked:
                event = storable(event, Event)
        except AttributeError:  # model_construct'ed or unpickled
            event = storable(event, Event)
        if self._max_event_bytes is not None:
            _check_size(event, self._max_event_bytes)
        events = self._events.get(event.actor_id)
        if events and event.version > events[-1].version and event.id not in self._ids:
            # The common case, decided inline: a new event after the actor's latest.
            self._ids[event.id] = event
            events.append(event)
            self._log.append(event)
        elif self._admit(event.actor_id, (event,)) and self._id_is_new(event):
            self._append(event)
        else:
            return  # a retry that already landed
        self._appended.notify()

    async def save_events(self, events: Sequence[Event]) -> None:
        if type(events) is list and len(events) == 1:  # a command's usual save
            # All check_batch would check of one event, save_event checks. This class's own
            # path, not an override's: a subclass that adds to both save_event and
            # save_events must not see one save twice.
            await InMemoryEventStore.save_event(self, events[0])
            return
        events = check_batch(events)
        if self._max_event_bytes is not None:
            for event in events:
                _check_size(event, self._max_event_bytes)
        if self._admit(events[0].actor_id, events) and all(map(self._id_is_new, events)):
            for event in events:
                self._append(event)
            self._appended.notify()

    def _admit(self, actor_id: str, batch: Sequence[Event]) -> bool:
        """True when the write may go ahead, False when it is a retry that already landed."""
        events = self._events.get(actor_id)
        latest_version = events[-1].version if events else 0
        first = batch[0].version
        if first > latest_version:
            return True
        if events and events[-1].id == batch[-1].id:
            check_retry(batch, events[_start(events, first):], latest_version)
            return False
        raise VersionConflictError(actor_id, latest_version, first)

    def _id_is_new(self, event: Event) -> bool:
        owner = self._ids.get(event.id)
        if owner is None:
            return True
        raise DuplicateEventIdError(
            event.id, event.actor_id, event.version,
            f" (version {owner.version} of actor {owner.actor_id[:80]!r})",
        )

    async def get_events(self, actor_id: str, from_version: int = 0) -> list[Event]:
        if type(from_version) is not int:
            raise from_version_error(from_version)
        events = self._events.get(actor_id)
        if not events:
            check_actor_id(actor_id)  # refused like every store refuses it
            return []
        return events[_start(events, from_version):]

    async def get_latest_version(self, actor_id: str) -> int:
        events = self._events.get(actor_id)
        if not events:
            check_actor_id(actor_id)
            return 0
        return events[-1].version

    async def get_latest(self, actor_id: str) -> Latest:
        events = self._events.get(actor_id)
        if not events:
            check_actor_id(actor_id)
            return NO_EVENTS
        last = events[-1]
        return _latest(Latest, (last.version, last.id))

    async def save_snapshot(self, snapshot: ActorSnapshot) -> None:
        snapshot = storable(snapshot, ActorSnapshot)
        if self._max_event_bytes is not None:
            _check_size(snapshot, self._max_event_bytes)
        current = self._snapshots.get(snapshot.actor_id)
        # An older snapshot arriving late must not replace a newer one.
        if current is None or snapshot.version >= current.version:
            self._snapshots[snapshot.actor_id] = snapshot

    async def get_latest_snapshot(self, actor_id: str) -> ActorSnapshot | None:
        snapshot = self._snapshots.get(actor_id)
        if snapshot is None:
            check_actor_id(actor_id)
        return snapshot

    def _append(self, event: Event) -> None:
        self._ids[event.id] = event
        events = self._events.get(event.actor_id)
        if events is None:
            self._events[event.actor_id] = [event]
        else:
            events.append(event)
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
        check_read(after, limit)
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


_version = attrgetter("version")
"""An event's version: the key the actor's events are sorted by (bisect)."""


def _start(events: list[Event], from_version: int) -> int:
    """The index of the first of an actor's ``events`` at ``from_version`` or later."""
    # Versions usually run on without a gap, so the index is the version's distance from
    # the first one: two reads where a search makes six keyed probes (50 events).
    index = from_version - events[0].version
    if index <= 0:
        return 0
    if index < len(events) and events[index].version == from_version:
        return index  # versions rise strictly, so no earlier event is at from_version
    return bisect_left(events, from_version, key=_version)


def _check_size(record: Event | ActorSnapshot, limit: int) -> None:
    what = (f"event {record.id[:80]!r}" if isinstance(record, Event)
            else f"snapshot of actor {record.actor_id[:80]!r}")
    check_stored_size(what, len(encode_record(record)), limit, "store's max_event_bytes")
