"""Events, snapshots and the storage protocols every backend implements."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, Self, TypeVar, runtime_checkable

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import from_json

from aether.errors import DuplicateEventIdError, InvalidEventError, VersionConflictError
from aether.jsondata import FrozenDict, freeze_json, freeze_text_map
from aether.limits import (
    MAX_BATCH_EVENTS,
    MAX_JSON_INT,
    check_actor_id,
    check_event_id,
    check_event_type,
    check_timestamp,
    named_zone,
)
from aether.records import (
    ABSENT,
    RecordSlots,
    decode_event,
    decode_snapshot,
    fill_event,
    fill_event_fields,
    fill_snapshot,
    native_builders,
)

CORRELATION_ID = "correlation_id"
CAUSATION_ID = "causation_id"
COMMAND_ID = "command_id"
"""Metadata key of the idempotency key of the command that produced an event."""
COMMAND_TYPE = "command_type"
"""Metadata key of the type of the command that produced an event: a command id sent again
with a command of another type is refused (``CommandIdReusedError``), not answered."""

STORED = "aether.stored"
"""Validation context key: the record is read back from storage, so limits introduced after
it was written do not make history unreadable (its shape and types are still checked)."""


class _Record(RecordSlots):
    """Strict, deeply immutable, and every refusal an InvalidEventError.

    The limits are in aether/limits.py; the JSON containers are FrozenDict/FrozenList
    (aether/jsondata.py), so a store can hand out what it holds without copying.
    """

    # strict: no silent coercion (version=True or "3", int metadata) that a store would
    # later read back as something else.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    # Two slots (declared by RecordSlots in aether/records.py, which sets them), so they are
    # no fields, take no part in equality and are not pickled or copied; set only by
    # validation (aether/records.py or the validators below):
    # _aether_json: the record's JSON once encoded (encode_record);
    # _aether_checked: every limit was checked (not read back under STORED), so a store
    # need not check again (storable).
    __slots__ = ()
    if TYPE_CHECKING:
        _aether_json: bytes | None
        _aether_checked: bool

    if not TYPE_CHECKING:  # hidden from mypy, which keeps checking the fields' types

        def __init__(self, /, **fields: Any) -> None:
            # aether/records.py builds the common case (exact built-in types within the
            # limits) without pydantic's per-field machinery; anything else, and every
            # refusal, goes through pydantic's validation below, which decides alone.
            fill = _FILLERS.get(type(self))  # a subclass may declare more: pydantic
            if fill is None or not fill(self, fields, True):
                super().__init__(**fields)

        # pydantic validates model_validate/validate_json input itself and calls this
        # __init__ only for the constructor (as it does for BaseModel.__init__).
        __init__.__pydantic_base_init__ = True

    @model_validator(mode="wrap")
    @classmethod
    def _refuse_clearly(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            raise InvalidEventError(_describe(cls.__name__, exc)) from None

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update``, validated like the constructor (pydantic's own
        model_copy would not), so no Event can hold what a store would not read back."""
        if not update:
            return self  # immutable all the way down: a copy would be the same value
        return type(self)(**{**self.__dict__, **update})


def _describe(kind: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False)[:3]:
        where = ".".join(str(part) for part in error["loc"] if part not in ("list", "dict"))
        got = type(error["input"]).__name__
        problems.append(f"{kind}.{where}: {error['msg']} (got {got})")
    more = f" and {exc.error_count() - 3} more" if exc.error_count() > 3 else ""
    return "; ".join(problems) + more + (
        f"; {kind} is strict and converts nothing: pass the declared types (int version, "
        f"str ids and metadata, an aware datetime, JSON values in data)"
    )


def _parse_timestamp(value: Any) -> Any:
    # Stored JSON and JSON-like dicts carry ISO text; strict mode alone would refuse it in
    # Python dicts, lax mode would also take numbers as Unix times. ISO text, nothing else.
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    if type(value) is not datetime and isinstance(value, datetime):
        # A subclass (freezegun's FakeDatetime, pendulum's DateTime) would be kept as it is
        # by pydantic, and a record read back from JSON holds a plain datetime: one store
        # would give back what another does not. The plain datetime it stands for, then.
        value = datetime(value.year, value.month, value.day, value.hour, value.minute,
                         value.second, value.microsecond, value.tzinfo, fold=value.fold)
    # A zone (ZoneInfo) becomes its fixed offset at that instant, which is what JSON keeps:
    # Python never finds a time in a DST fold or gap equal to one in another zone, so the
    # zone itself would not read back equal.
    if isinstance(value, datetime) and value.tzinfo is not None and (
        not isinstance(value.tzinfo, timezone) or value.fold
        or (value.tzinfo is not UTC and named_zone(value.tzinfo))
    ):
        # A named offset (timezone(offset, "IST")) and fold=1 do not read back either: JSON
        # keeps +HH:MM alone, and a fixed offset has no second reading of a time.
        offset = value.utcoffset()
        if offset is not None:
            return value.replace(tzinfo=timezone(offset), fold=0)
    return value


def _from_storage(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get(STORED))


def _check_version(kind: str, version: int) -> None:
    if version > MAX_JSON_INT:
        raise InvalidEventError(
            f"{kind}.version must be at most {MAX_JSON_INT} (64 bits), got {version}"
        )


class Event(_Record):
    """One immutable fact about one actor, at one version.

    ``data`` holds JSON values only, so an event survives any store exactly; it and
    ``metadata`` (string context such as correlation and causation ids) are frozen.
    Every limit (sizes, nesting, number ranges) is in aether/limits.py; an event that
    breaks one raises InvalidEventError here, before any store sees it.
    """

    id: str
    event_type: str
    actor_id: str
    version: int
    data: dict[str, JsonValue] = Field(default_factory=FrozenDict)
    timestamp: datetime
    metadata: dict[str, str] = Field(default_factory=FrozenDict)  # type: ignore[arg-type]

    if not TYPE_CHECKING:  # hidden from mypy, which keeps checking the fields' types

        def __init__(self, /, *, id=ABSENT, event_type=ABSENT, actor_id=ABSENT, version=ABSENT,
                     data=ABSENT, timestamp=ABSENT, metadata=ABSENT, **extra: Any) -> None:
            # _Record.__init__ with the fields as parameters: Python binds the keywords
            # without the dict and the lookups fill_event would need (the constructor runs
            # for every event an application builds).
            if extra or type(self) is not Event or not (_fill_native(
                    self, id, event_type, actor_id, version, data, timestamp, metadata)
                    or fill_event_fields(self, id, event_type, actor_id, version, data,
                                         timestamp, metadata, True)):
                given = (("id", id), ("event_type", event_type), ("actor_id", actor_id),
                         ("version", version), ("data", data), ("timestamp", timestamp),
                         ("metadata", metadata))
                BaseModel.__init__(
                    self, **{name: value for name, value in given if value is not ABSENT},
                    **extra)

        __init__.__pydantic_base_init__ = True

    # freeze_json is the whole validation of data (pydantic's handler is not called): it
    # walks the raw input iteratively, so hostile nesting is a clear error, not a
    # RecursionError, and it builds the frozen copy in the same pass.
    @field_validator("data", mode="wrap")
    @classmethod
    def _freeze_data(
        cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> FrozenDict:
        return freeze_json(data, "Event.data", check=not _from_storage(info))

    @field_validator("metadata", mode="wrap")
    @classmethod
    def _freeze_metadata(
        cls, metadata: Any, handler: ValidatorFunctionWrapHandler
    ) -> FrozenDict:
        return freeze_text_map(metadata, "Event.metadata")

    @field_validator("timestamp", mode="before")
    @classmethod
    def _parse_timestamp(cls, value: Any) -> Any:
        return _parse_timestamp(value)

    @model_validator(mode="after")
    def _check_rules(self, info: ValidationInfo) -> Event:
        _require_text("Event", "id", self.id)
        _require_text("Event", "event_type", self.event_type)
        _require_text("Event", "actor_id", self.actor_id)
        _require_positive_version("Event", self.version)
        _require_aware("Event", self.timestamp)
        checked = not _from_storage(info)
        if checked:
            _check_event_limits(self)
        _mark_validated(self, checked)
        return self

    @property
    def correlation_id(self) -> str | None:
        return self.metadata.get(CORRELATION_ID)

    @property
    def causation_id(self) -> str | None:
        return self.metadata.get(CAUSATION_ID)


_fill_native, _decode_native = native_builders(Event)


class ActorSnapshot(_Record):
    """An actor's state as of ``version``, so loading need not replay from the start."""

    actor_id: str
    version: int
    state: dict[str, JsonValue] = Field(default_factory=FrozenDict)
    timestamp: datetime

    @field_validator("state", mode="wrap")
    @classmethod
    def _freeze_state(
        cls, state: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> FrozenDict:
        return freeze_json(state, "ActorSnapshot.state", check=not _from_storage(info))

    @field_validator("timestamp", mode="before")
    @classmethod
    def _parse_timestamp(cls, value: Any) -> Any:
        return _parse_timestamp(value)

    @model_validator(mode="after")
    def _check_rules(self, info: ValidationInfo) -> ActorSnapshot:
        _require_text("ActorSnapshot", "actor_id", self.actor_id)
        _require_positive_version("ActorSnapshot", self.version)
        _require_aware("ActorSnapshot", self.timestamp)
        checked = not _from_storage(info)
        if checked:
            _check_snapshot_limits(self)
        _mark_validated(self, checked)
        return self


_RecordT = TypeVar("_RecordT", Event, ActorSnapshot)


def decode_record(kind: type[_RecordT], raw: bytes, *, stored: bool) -> _RecordT:
    """The Event or ActorSnapshot whose JSON is ``raw``, as ``kind.model_validate_json``
    gives it (with the STORED context when ``stored``), raising what that raises.

    The common case is parsed once (pydantic_core's parser, the one model_validate_json
    uses) and checked by aether/records.py; anything it does not accept is left to
    model_validate_json, which decides alone."""
    try:
        # Keys only: the parser's cache of every short string (by default) mostly holds
        # event and correlation ids seen once, and churning it cost a bus node ~4% CPU.
        fields = from_json(raw, cache_strings="keys")
    except ValueError:
        fields = None
    if type(fields) is dict:
        if kind is Event:  # a subclass may declare more: pydantic
            native: Event | None = _decode_native(fields, not stored)
            if native is not None:
                return native  # type: ignore[return-value]  # kind is Event
            record = decode_event(kind, fields, not stored)
            if record is not None:
                return record
        elif kind is ActorSnapshot:
            record = decode_snapshot(kind, fields, not stored)
            if record is not None:
                return record
    return kind.model_validate_json(raw, context={STORED: True} if stored else None)


def encode_record(record: Event | ActorSnapshot) -> bytes:
    """``record.model_dump_json()`` as UTF-8 bytes, encoded once per record: a record built
    by validation is immutable, so its JSON is kept (a store and a bus share it)."""
    try:
        cached: bytes | None = record._aether_json
    except AttributeError:  # not built by validation (model_construct, unpickled): no cache
        return type(record).__pydantic_serializer__.to_json(record)
    if cached is None:
        cached = type(record).__pydantic_serializer__.to_json(record)
        object.__setattr__(record, "_aether_json", cached)
    return cached


_FILLERS: dict[type[_Record], Callable[[_Record, dict[str, Any], bool], bool]] = {
    Event: fill_event, ActorSnapshot: fill_snapshot,
}


def storable(record: object, kind: type[_RecordT]) -> _RecordT:
    """``record`` as every store and bus keeps a ``kind`` (Event or ActorSnapshot), or
    InvalidEventError before anything is written.

    A record whose constructor checked it is itself (it is immutable). Anything else, built
    by ``model_construct`` (which skips validation), unpickled, or read back from storage
    (not held to limits added since), is built again through its constructor: that checks
    every limit and gives the form JSON reads back (frozen data, a zone as its fixed
    offset), so a store that keeps objects holds what one that keeps JSON gives back, and
    an unchecked actor id never reaches a NATS subject. Anything but ``kind`` itself is
    refused, a subclass too: JSON gives back the base class without its fields. The
    version rules stay the store's own."""
    if type(record) is not kind:
        name = kind.__name__
        if isinstance(record, kind):
            raise InvalidEventError(
                f"stores and buses keep {name} itself, not {type(record).__name__}: a "
                f"subclass's type and fields would not read back from JSON; build "
                f"{name}(...) with its fields"
            )
        raise InvalidEventError(
            f"expected an aether.{name}, got {type(record).__name__}: events are saved and "
            f"published as Event, snapshots saved as ActorSnapshot"
        )
    try:
        if record._aether_checked:
            return record
    except AttributeError:  # model_construct'ed or unpickled: validation never saw it
        pass
    return kind(**record.__dict__)


def _mark_validated(record: _Record, checked: bool) -> None:
    object.__setattr__(record, "_aether_json", None)
    object.__setattr__(record, "_aether_checked", checked)


def _check_event_limits(event: Event) -> None:
    check_event_id(event.id)
    check_event_type(event.event_type)
    check_actor_id(event.actor_id)
    _check_version("Event", event.version)
    check_timestamp("Event.timestamp", event.timestamp)


def _check_snapshot_limits(snapshot: ActorSnapshot) -> None:
    check_actor_id(snapshot.actor_id)
    _check_version("ActorSnapshot", snapshot.version)
    check_timestamp("ActorSnapshot.timestamp", snapshot.timestamp)


# InvalidEventError is not a ValueError, so pydantic lets it through unwrapped and
# callers can catch it as an AetherError.
def _require_text(kind: str, field: str, value: str) -> None:
    if not value:
        raise InvalidEventError(f"{kind}.{field} must not be empty")


def _require_positive_version(kind: str, version: int) -> None:
    if version <= 0:
        raise InvalidEventError(
            f"{kind}.version must be greater than 0, got {version}: versions start at 1"
        )


def _require_aware(kind: str, timestamp: datetime) -> None:
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise InvalidEventError(
            f"{kind}.timestamp must be timezone-aware, got naive {timestamp.isoformat()}: "
            f"use datetime.now(UTC)"
        )


class Latest(NamedTuple):
    """Where an actor's history ends: its latest version and the id of the event at that
    version (``NO_EVENTS``, version 0 and no id, when it has none).

    The id tells two histories of one length apart: under JetStream's ``stream_retention``
    an actor's events can expire and a new history grow to the same version, and a
    Repository's cached aggregate must not take the new one for the one it saw."""

    version: int
    event_id: str | None


NO_EVENTS = Latest(0, None)


@runtime_checkable
class EventStore(Protocol):
    """Append-only, per-actor event log with optimistic concurrency.

    Version rules, for every backend: a new event's version is strictly greater
    than the actor's latest; the first is > 0; gaps are allowed. A violation raises
    ``VersionConflictError``.
    """

    async def save_event(self, event: Event) -> None: ...

    async def save_events(self, events: Sequence[Event]) -> None:
        """Append several events of one actor, all or none."""
        ...

    async def get_events(self, actor_id: str, from_version: int = 0) -> list[Event]:
        """Events with version >= ``from_version``, ascending."""
        ...

    async def get_latest_version(self, actor_id: str) -> int:
        """The actor's latest version, 0 when it has no events."""
        ...

    async def get_latest(self, actor_id: str) -> Latest:
        """The actor's latest version and the id of its event at that version, read
        together (``NO_EVENTS`` when it has none)."""
        ...


@runtime_checkable
class SnapshotStore(Protocol):
    async def save_snapshot(self, snapshot: ActorSnapshot) -> None: ...

    async def get_latest_snapshot(self, actor_id: str) -> ActorSnapshot | None: ...


def check_batch(events: Sequence[Event]) -> list[Event]:
    """The batch for ``save_events`` as every store keeps it (each event ``storable``).

    A batch is a sequence of one actor's events in strictly increasing version order, each
    with an id of its own, at most ``MAX_BATCH_EVENTS``; anything else is a caller bug,
    reported before a backend is touched.
    """
    if type(events) is not list and (
            not isinstance(events, Sequence) or isinstance(events, str | bytes)):
        raise InvalidEventError(
            f"save_events takes a sequence of events, got {type(events).__name__}: pass a "
            f"list (save_event saves one event)"
        )
    if not events:
        raise InvalidEventError("save_events needs at least one event; got an empty batch")
    if len(events) > MAX_BATCH_EVENTS:
        raise InvalidEventError(
            f"save_events takes at most {MAX_BATCH_EVENTS} events per call (JetStream's "
            f"largest atomic batch, a limit every store keeps), got {len(events)}: split the "
            f"batch"
        )
    events = [storable(event, Event) for event in events]
    actor_id = events[0].actor_id
    if len(events) == 1:
        return events  # what a command's save usually is: nothing to compare
    previous = 0
    ids: set[str] = set()
    for event in events:
        if event.id in ids:
            raise InvalidEventError(
                f"save_events got the event id {event.id[:80]!r} twice in one batch: give "
                f"every event an id of its own (str(uuid4()))"
            )
        ids.add(event.id)
        if event.actor_id != actor_id:
            raise InvalidEventError(
                f"save_events takes events of one actor; got {actor_id!r} and "
                f"{event.actor_id!r} in one batch: save each actor's events separately"
            )
        if event.version <= previous:
            raise InvalidEventError(
                f"save_events needs strictly increasing versions; version {event.version} "
                f"follows {previous} for actor {actor_id!r}"
            )
        previous = event.version
    return events


def stored_first(events: Sequence[Event], stored: Sequence[Event]) -> bool:
    """Whether ``stored`` (an actor's events from ``events[0].version`` on) starts with these
    very events, compared as stored, so ``1`` is not ``True``."""
    return len(stored) >= len(events) and all(
        encode_record(event) == encode_record(kept)
        for event, kept in zip(events, stored, strict=False))


def check_retry(events: Sequence[Event], stored: Sequence[Event], latest_version: int) -> None:
    """For a save whose last event id is already the actor's latest: return when it is a
    retry of a save that landed (``stored``, the actor's events from ``events[0].version``
    on, are these very events, compared as stored, so ``1`` is not ``True``); else raise
    what every store raises, having written nothing: DuplicateEventIdError when an event
    reuses the id of a different stored event, VersionConflictError otherwise."""
    if len(stored) == len(events) and stored_first(events, stored):
        return
    kept_by_id = {kept.id: kept for kept in stored}
    for event in events:
        kept = kept_by_id.get(event.id)
        if kept is not None and encode_record(kept) != encode_record(event):
            raise DuplicateEventIdError(
                event.id, event.actor_id, event.version,
                f" (version {kept.version} of actor {kept.actor_id[:80]!r}, with other content)",
            )
    raise VersionConflictError(events[0].actor_id, latest_version, events[0].version)
