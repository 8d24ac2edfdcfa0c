"""AggregateRoot and Repository: the layer generated code builds on.

Aggregates are pure and synchronous (decide in handlers, evolve in ``apply``), so
their tests need no event loop; the Repository is the async edge to store and bus.
"""

from __future__ import annotations

import enum
import logging
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, JsonValue, ValidationError

from aether.aggregate_cache import AggregateCache, CachedAggregate, may_share
from aether.command import CommandIdReusedError
from aether.errors import AetherError, VersionConflictError
from aether.event import (
    COMMAND_ID,
    COMMAND_TYPE,
    ActorSnapshot,
    Event,
    EventStore,
    SnapshotStore,
)
from aether.eventbus import EventBroadcaster, publish_stored
from aether.quickstate import evolved
from aether.registry import EventPayload, EventRegistry
from aether.snapshot_shape import SNAPSHOT_SHAPE, state_shape

logger = logging.getLogger(__name__)
_new_entry = tuple.__new__

StateT = TypeVar("StateT", bound=BaseModel)


class InvalidAggregateError(AetherError, ValueError):
    """An aggregate cannot be built as asked (e.g. an empty id)."""


class UnhandledMessageError(AetherError, TypeError):
    """An aggregate was given a command it does not handle, or an event it cannot apply
    (typically an actor id shared by two aggregate types)."""


class MissingHandlerError(AetherError, TypeError):
    """A class implementing a generated base lacks some of its methods (typically after a
    command or event was added to the model)."""


def check_implemented(cls: type, base: type) -> None:
    """Raise MissingHandlerError, naming ``cls``'s file and the methods it lacks, when
    ``cls`` subclasses the generated ``base`` directly but leaves abstract methods.

    Generated bases call it from ``__init_subclass__``, so the error comes when the stub
    is imported, pointing at the stub, instead of wherever the class is instantiated. A
    class of ``__main__`` (a REPL, the README's tour pasted into ``python -m asyncio``)
    is left to fail when instantiated.
    """
    if base not in cls.__bases__:
        return  # an intermediate class of the user's own; its subclasses are checked
    if cls.__module__ == "__main__":
        # Typed at a prompt (python, python -m asyncio, a notebook) or in the script being
        # run: not a stub that an import reaches, and ``sys.modules["__main__"].__file__``
        # may name asyncio's REPL rather than the code. Instantiating it still fails.
        return
    where = getattr(sys.modules.get(cls.__module__), "__file__", None)
    if where is None:
        return  # a module built in memory: no stub file to name
    missing = sorted(name for name in dir(cls)
                     if getattr(getattr(cls, name, None), "__isabstractmethod__", False))
    if not missing:
        return
    raise MissingHandlerError(
        f"{where}: {cls.__name__} lacks {', '.join(missing)}: the model gained them since "
        f"this stub was written; add them (their signatures are in {base.__name__}, in "
        f"bases.py)"
    )


class InvalidRepositoryError(AetherError, ValueError):
    """A Repository was configured in a way that cannot work (e.g. snapshots, no store)."""


class InvalidStateError(AetherError, ValueError):
    """A state (or read-model row) change gives a value its field does not accept."""


class Unset(enum.Enum):
    """The type of ``UNSET``: a generated ``evolve`` parameter that was not given."""

    UNSET = "UNSET"


UNSET = Unset.UNSET


def evolve(state: StateT, /, **changes: object) -> StateT:
    """A copy of ``state`` with ``changes`` (those not UNSET), validated like a new state.

    Generated ``evolve`` methods call this: their keyword parameters give mypy the
    field types, and validating here refuses what slipped past it (an ``Any``, a cast).
    A change whose value is of its field's exact type (aether/quickstate.py) is taken as
    it is, as validation would; anything else goes through pydantic's validation.
    """
    quick = evolved(state, changes, UNSET)
    if quick is not None:
        return quick
    given = {name: value for name, value in changes.items() if value is not UNSET}
    try:
        return type(state).model_validate({**state.__dict__, **given})
    except ValidationError as exc:
        raise InvalidStateError(
            f"{type(state).__name__}.evolve({', '.join(given)}) was given a value "
            f"its field does not accept: {exc}"
        ) from None

SNAPSHOT_COMMANDS = "$aether_commands"
"""Key of the remembered command ids in a snapshot's state (no model field can take it:
it is not an identifier)."""
SNAPSHOT_LAST_ID = "$aether_last_id"
"""Key of the id of the event at the snapshot's version (see Repository._load)."""


class AggregateRoot(ABC, Generic[StateT]):
    """An actor whose state is the fold of its events.

    ``version`` is the version of the last stored event applied; events recorded
    since then wait in ``pending_events`` until a Repository saves them.

    It also remembers the ids of the last ``remembered_commands`` commands that produced
    its events (read from their metadata when loading, carried in snapshots), so a
    command sent again is answered with its earlier events instead of running twice.
    """

    remembered_commands: ClassVar[int] = 1000

    def __init__(self, aggregate_id: str) -> None:
        if not aggregate_id:
            raise InvalidAggregateError(
                f"{type(self).__name__} needs a non-empty id: give each instance an id such "
                f"as '{type(self).__name__.lower()}-1'"
            )
        self.id = aggregate_id
        self.version = 0
        self.state: StateT = self.initial_state()
        self._pending: list[EventPayload] = []
        # The state as of ``version``, before the pending events (see Repository.save).
        self._saved_state: StateT = self.state
        # Command id -> (first, last) version, oldest first; shared with a Repository's
        # cache (see _resume, _cached). Only stored events add to it (a save the store
        # accepted, a replay), so whoever shares it sees only commands that really produced
        # events: a command it names is found in the store (Repository.recorded).
        self._commands: dict[str, tuple[int, int]] = {}
        # The id of the stored event at ``version``, when known (see CachedAggregate).
        self._last_id: str | None = None

    @classmethod
    @abstractmethod
    def initial_state(cls) -> StateT:
        """The state before any event."""

    @abstractmethod
    def apply(self, event: EventPayload) -> None:
        """Evolve ``self.state`` by one event. Must not fail for a stored event."""

    def record(self, event: EventPayload) -> None:
        """Apply a new event and queue it for saving (call from command handlers)."""
        if not self._pending:
            self._saved_state = self.state
        self.apply(event)
        self._pending.append(event)

    @property
    def pending_events(self) -> tuple[EventPayload, ...]:
        return tuple(self._pending)

    def replay(self, event: EventPayload, version: int) -> None:
        """Apply an already stored event (used when loading)."""
        self.apply(event)
        self.version = version

    def mark_saved(self, version: int) -> None:
        """Forget pending events once they are stored as versions up to ``version``."""
        self._pending.clear()
        self.version = version

    def note_command(self, command_id: str, version: int) -> None:
        """Remember that the command ``command_id`` produced the event at ``version``."""
        # Kept in version order, oldest first, as the trimming below needs. The ids are
        # shared with a cache entry (_resume), so a version may be noted twice: a save whose
        # answer came late notes its command after another aggregate resumed from the same
        # entry caught up over it (noting it) and saved later commands. Moved last then, it
        # would outlive newer ones, and a newer one would be forgotten and run again.
        commands = self._commands
        span = commands.get(command_id)
        if span is not None:
            if version > span[1]:  # else noted already
                del commands[command_id]  # re-inserted: the most recent goes last
                commands[command_id] = (span[0], version)
            return
        limit = self.remembered_commands
        # Below the limit nothing was ever trimmed, so an id not kept was never noted: new.
        if len(commands) >= limit and version <= next(reversed(commands.values()))[1]:
            return  # noted already, and trimmed since (older than the newest kept)
        commands[command_id] = (version, version)
        while len(commands) > limit:
            del commands[next(iter(commands))]

    def command_versions(self, command_id: str) -> tuple[int, int] | None:
        """The first and last version the command produced, or None if not remembered."""
        return self._commands.get(command_id)

    def remembered_command_ids(self) -> dict[str, JsonValue]:
        """Command id -> [first, last] version, oldest first: what a snapshot carries."""
        return {command_id: [first, last] for command_id, (first, last) in self._commands.items()}

    def remember_command_ids(self, remembered: Mapping[str, JsonValue]) -> None:
        spans: list[tuple[int, int, str]] = []
        for command_id, span in remembered.items():
            if isinstance(span, list) and len(span) == 2:
                first, last = span
                if isinstance(first, int) and isinstance(last, int):
                    spans.append((last, first, command_id))
        # Noted oldest first, as note_command keeps them: a snapshot taken before it kept
        # that order may list a command after a newer one.
        for last, first, command_id in sorted(spans, key=lambda span: span[0]):
            self.note_command(command_id, first)
            self.note_command(command_id, last)

    def snapshot_state(self) -> dict[str, JsonValue]:
        return self.state.model_dump(mode="json")

    def restore(self, version: int, state: Mapping[str, JsonValue]) -> None:
        """Start from a snapshot instead of replaying from the first event."""
        self.state = type(self.state).model_validate(state)
        self.version = version
        self._last_id = None
        self._pending.clear()

    def _resume(self, entry: CachedAggregate) -> None:
        """Start from a Repository's cache entry: its state object and command ids are
        shared, not copied (states are immutable; see ``_commands`` for the ids)."""
        self.state = entry.state
        self.version = entry.version
        self._last_id = entry.last_id
        self._commands = entry.commands
        self._pending.clear()

    def _cached(self) -> CachedAggregate:
        """What a Repository's cache keeps of this aggregate now (see _resume)."""
        # tuple's own __new__: a NamedTuple's is a Python function (a frame per command)
        return _new_entry(CachedAggregate, (self.version, self.state, self._commands,
                                            self._last_id))


# Any, not BaseModel: AggregateRoot is invariant in its state type.
AggregateT = TypeVar("AggregateT", bound=AggregateRoot[Any])


class Repository(Generic[AggregateT]):
    """Loads aggregates from a store and saves their new events with optimistic concurrency.

    - ``load`` starts from the latest snapshot (when a snapshot store is given) and
      replays only later events.
    - It keeps the last ``cache_size`` aggregates it loaded or saved (version, state,
      remembered command ids; 0 = none): a load of a cached actor asks the store only for
      its latest version and replays only events written since by anyone, so decisions
      stay as fresh as a full read. States must change only through events (``apply``
      builds a new state, as ``kit.evolve`` does), since cached states are shared.
    - ``save`` appends all pending events atomically, expecting the version the
      aggregate was loaded at; a concurrent writer makes it raise
      ``VersionConflictError`` and nothing is written.
    - Saved events are then published to ``bus`` under ``namespace`` (at most once,
      in order); durable consumers should read the store instead.
    - With ``snapshot_every=N`` a snapshot is saved whenever a save crosses a
      multiple of N versions.
    - ``execute`` runs one command exactly once per command id: metadata carrying
      ``COMMAND_ID`` is stored on the produced events, and a command whose id the
      aggregate already recorded is answered with those events (``recorded``).
    """

    def __init__(
        self,
        store: EventStore,
        factory: Callable[[str], AggregateT],
        registry: EventRegistry,
        *,
        snapshot_store: SnapshotStore | None = None,
        snapshot_every: int = 0,
        bus: EventBroadcaster | None = None,
        namespace: str = "",
        clock: Callable[[], datetime] | None = None,
        cache_size: int = 10_000,
    ) -> None:
        if snapshot_every < 0:
            raise InvalidRepositoryError(
                f"snapshot_every must be >= 0 (0 = never), got {snapshot_every}"
            )
        if cache_size < 0:
            raise InvalidRepositoryError(
                f"cache_size must be >= 0 (the number of aggregates kept in memory; 0 = keep "
                f"none), got {cache_size}"
            )
        if snapshot_every and snapshot_store is None:
            if not isinstance(store, SnapshotStore):
                raise InvalidRepositoryError(
                    "snapshot_every needs a snapshot store: pass snapshot_store=, or use a "
                    "store that also implements SnapshotStore"
                )
            snapshot_store = store
        self.store = store
        self.factory = factory
        self.registry = registry
        self.snapshot_store = snapshot_store
        self.snapshot_every = snapshot_every
        self.bus = bus
        self.namespace = namespace
        self.cache = AggregateCache(cache_size)
        self._clock = clock or _utc_now

    async def load(self, aggregate_id: str) -> AggregateT:
        """The aggregate as of its latest stored event (version 0 when it has none)."""
        return await self._load(aggregate_id, keep=True)

    async def _load(self, aggregate_id: str, *, keep: bool) -> AggregateT:
        """``load``; with ``keep=False`` an aggregate read in full is not cached (execute
        caches what it saves instead, sparing a put and a copy of the command ids)."""
        entry = self.cache.get(aggregate_id)
        if entry is not None:
            latest = await self.store.get_latest(aggregate_id)
            if latest.version != entry.version:
                caught_up = await self._catch_up(aggregate_id, entry, latest.version)
                if caught_up is not None:
                    return caught_up
            # The common case: nobody else wrote since. An entry of unknown id (from a
            # snapshot written before snapshots kept it) is judged by its version alone.
            elif latest.event_id == entry.last_id or entry.last_id is None:
                return self._resumed(aggregate_id, entry)
            else:  # as long, but another history: the entry's expired and a new one grew
                self._drop_stale(aggregate_id, entry, latest.version)
        aggregate = self.factory(aggregate_id)
        from_version = 0
        if self.snapshot_store is not None:
            snapshot = await self.snapshot_store.get_latest_snapshot(aggregate_id)
            if snapshot is not None:
                state = dict(snapshot.state)
                remembered = state.pop(SNAPSHOT_COMMANDS, None)
                shape = state.pop(SNAPSHOT_SHAPE, None)
                last_id = state.pop(SNAPSHOT_LAST_ID, None)
                if shape == state_shape(type(aggregate.state)):
                    aggregate.restore(snapshot.version, state)
                    if isinstance(last_id, str):
                        aggregate._last_id = last_id
                    if isinstance(remembered, dict):
                        aggregate.remember_command_ids(remembered)
                    from_version = snapshot.version + 1
                else:  # taken with another state shape: replay every event instead
                    logger.info("snapshot of %r at version %d has another state shape; "
                                "replaying its events", aggregate_id, snapshot.version)
        events = await self.store.get_events(aggregate_id, from_version)
        if events:  # a new actor's first command has none
            self._replay(aggregate, events)
        if keep:
            self.cache.put(aggregate_id, aggregate._cached())
        return aggregate

    def _resumed(self, aggregate_id: str, entry: CachedAggregate) -> AggregateT:
        aggregate = self.factory(aggregate_id)
        aggregate._resume(entry)
        return aggregate

    async def _catch_up(self, aggregate_id: str, entry: CachedAggregate, latest: int
                        ) -> AggregateT | None:
        """The cached aggregate brought up to the store's ``latest`` version (another
        writer's), or None (and the entry forgotten) when the store's history no longer
        reaches the entry's."""
        if latest > entry.version:
            known = entry.last_id
            # Read from the entry's own event when its id is known: after its history
            # expired (stream_retention), a new one can grow past the entry's version.
            events = await self.store.get_events(
                aggregate_id, entry.version + (known is None))
            if known is not None:
                if events and events[0].version == entry.version and events[0].id == known:
                    events = events[1:]
                else:
                    events = []
            # Fewer than the latest version said: the history shrank meanwhile.
            if events and events[-1].version >= latest:
                aggregate = self._resumed(aggregate_id, entry)
                self._replay(aggregate, events)
                self.cache.put(aggregate_id, aggregate._cached())
                return aggregate
        # Retention took events the entry had seen: start from the store.
        self._drop_stale(aggregate_id, entry, latest)
        return None

    def _drop_stale(self, aggregate_id: str, entry: CachedAggregate, latest: int) -> None:
        logger.info("history of %r (version %d) no longer continues the cached version %d; "
                    "loading it again", aggregate_id, latest, entry.version)
        self.cache.forget(aggregate_id)

    def _replay(self, aggregate: AggregateT, events: list[Event]) -> None:
        decode = self.registry.decode
        for event in events:
            aggregate.replay(decode(event), event.version)
            command_id = event.metadata.get(COMMAND_ID)
            if command_id:
                aggregate.note_command(command_id, event.version)
        if events:
            aggregate._last_id = events[-1].id

    async def recorded(self, aggregate: AggregateT, command_id: str) -> list[Event] | None:
        """The events the command ``command_id`` produced on this aggregate, or None when
        the aggregate has not recorded it (never sent, rejected, or produced nothing)."""
        span = aggregate.command_versions(command_id)
        if span is None:
            return None
        first, last = span
        events = await self.store.get_events(aggregate.id, first)
        return [event for event in events
                if event.version <= last and event.metadata.get(COMMAND_ID) == command_id]

    async def execute(
        self,
        aggregate_id: str,
        decide: Callable[[AggregateT], None],
        metadata: Mapping[str, str] | None = None,
        *,
        retries: int = 3,
    ) -> list[Event]:
        """Load, decide, save; once per command id.

        When ``metadata`` carries ``COMMAND_ID`` and the aggregate already recorded it,
        returns the events it produced then, without deciding again (CommandIdReusedError
        when they came of a command of another ``COMMAND_TYPE``). A
        VersionConflictError reruns the whole cycle up to ``retries`` times: a duplicate
        that won the race is then found recorded. When ``decide`` raises, the cached copy
        is forgotten (nothing of a half-made decision can leak into the next command).
        """
        command_id = metadata.get(COMMAND_ID) if metadata else None
        attempt = 0
        while True:
            # A retry keeps what it reads in full: it lost a race on a busy aggregate, and
            # the next one then catches up instead of reading the whole history again.
            aggregate = await self._load(aggregate_id, keep=attempt > 0)
            # Most commands are new: ask the aggregate before awaiting the store.
            if command_id and aggregate.command_versions(command_id) is not None:
                earlier = await self.recorded(aggregate, command_id)
                if earlier is not None:
                    self.cache.put(aggregate_id, aggregate._cached())
                    _check_same_command(aggregate_id, command_id, earlier, metadata)
                    return earlier
            try:
                decide(aggregate)
            except BaseException:
                self.cache.forget(aggregate_id)
                raise
            if not aggregate._pending:  # decided to do nothing: cache what was read
                self.cache.put(aggregate_id, aggregate._cached())
                return []
            try:
                return await self.save(aggregate, metadata)
            except VersionConflictError:
                attempt += 1
                if attempt > retries:
                    raise

    async def save(
        self, aggregate: AggregateT, metadata: Mapping[str, str] | None = None
    ) -> list[Event]:
        """Store the aggregate's pending events; returns them as stored Events."""
        pending = aggregate._pending
        if not pending:
            return []
        events = self.registry.to_events(pending, aggregate.id, aggregate.version + 1,
                                         metadata=metadata, timestamp=self._clock())
        try:
            await self.store.save_events(events)
        except VersionConflictError:
            # Another writer got there first. The cached entry (the state before this
            # decision, which deciding never changes) is only behind: the retry's load
            # catches it up with the events written since, instead of reading the whole
            # history again for every lost race on a busy aggregate.
            raise
        except BaseException:
            # Anything else (a lost ack) may have stored the events, or not: start over.
            self.cache.forget(aggregate.id)
            raise
        previous = aggregate.version
        aggregate.mark_saved(events[-1].version)
        aggregate._last_id = events[-1].id
        command_id = metadata.get(COMMAND_ID) if metadata else None
        if command_id:
            for event in events:
                aggregate.note_command(command_id, event.version)
        if self._refold(aggregate, events):
            self.cache.put(aggregate.id, aggregate._cached())
        if self.snapshot_every:
            await self._snapshot_if_due(aggregate, previous)
        if self.bus is not None:
            await publish_stored(self.bus, self.namespace, events)
        return events

    def _refold(self, aggregate: AggregateT, events: list[Event]) -> bool:
        """Make the aggregate's state the fold of the stored ``events`` (from the state
        before them), as a later load builds it; False (nothing to cache) when that fails.

        The state ``record`` built may hold objects the command's caller still owns:
        pydantic passes a model instance through validation as it is, so
        ``LineAdded(line=command.line)`` holds the caller's value object, whose lists stay
        mutable even in a frozen model. A cached state outlives the command, so it must
        be built from the stored events' own data instead.
        """
        payload_type = self.registry.payload_type
        if not may_share(type(aggregate.state)) or not any(
                may_share(payload_type(event.event_type)) for event in events):
            return True  # only immutable values and containers pydantic built anew
        # A fresh aggregate replays them: apply may keep more than the state on self.
        replayed = self.factory(aggregate.id)
        replayed.state = aggregate._saved_state
        try:
            for event in events:
                replayed.apply(self.registry.decode(event))
        except Exception:
            # The next load replays these events and reports what is wrong with them.
            logger.exception("events of %r up to version %d do not replay", aggregate.id,
                             aggregate.version)
            self.cache.forget(aggregate.id)
            return False
        aggregate.state = replayed.state
        return True

    async def _snapshot_if_due(self, aggregate: AggregateT, previous: int) -> None:
        every = self.snapshot_every
        if not every or self.snapshot_store is None:
            return
        if aggregate.version // every == previous // every:
            return
        state = {**aggregate.snapshot_state(),
                 SNAPSHOT_SHAPE: state_shape(type(aggregate.state))}
        remembered = aggregate.remembered_command_ids()
        if remembered:
            state[SNAPSHOT_COMMANDS] = remembered
        if aggregate._last_id is not None:
            state[SNAPSHOT_LAST_ID] = aggregate._last_id
        snapshot = ActorSnapshot(
            actor_id=aggregate.id, version=aggregate.version, state=state,
            timestamp=self._clock(),
        )
        try:
            await self.snapshot_store.save_snapshot(snapshot)
        except Exception:
            # The events are stored; a missing snapshot only costs replay time later.
            logger.exception("snapshot of %r at version %d failed", aggregate.id, aggregate.version)

def _utc_now() -> datetime:
    return datetime.now(UTC)


def _check_same_command(actor_id: str, command_id: str, earlier: list[Event],
                        metadata: Mapping[str, str] | None) -> None:
    """CommandIdReusedError when the events recorded for ``command_id`` came of a command of
    another type than the one sent now (both known: events stored before the type was
    recorded, or sent without it, are taken as the same command)."""
    now = metadata.get(COMMAND_TYPE) if metadata else None
    then = earlier[0].metadata.get(COMMAND_TYPE) if earlier else None
    if now and then and now != then:
        raise CommandIdReusedError(
            f"command id {command_id[:80]!r} was used for a {then} on actor "
            f"{actor_id[:80]!r}; this {now[:80]} needs a command id of its own (leave the id "
            f"out and one is generated)")
