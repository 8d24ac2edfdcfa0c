"""Building Events and ActorSnapshots without pydantic's per-field machinery.

pydantic's validation of an Event calls five Python validators and builds a ValidationInfo
for each; with the limits added by the hardening that cost more than the append itself.
``fill_event`` and ``fill_snapshot`` do the same checks in one pass for the common case:
every field of its exact built-in type (str, int, an aware datetime whose zone is a fixed
``timezone``, dict data), nothing extra, nothing missing, every limit kept. They return
False for anything else, and for every refusal, and the caller then runs pydantic's
validation, which decides alone: so the constructor, the stores and the bus accept and
refuse exactly what they did, and every error message stays the one pydantic's path gives.
``decode_event`` is the same for an event's JSON as pydantic_core.from_json parsed it (what
the stores and the bus read), which needs less: the parser gives exact built-in types only.

``check=False`` is for records read back from storage (aether.event.STORED): the shape and
types are still checked, the limits are not, so history written before a limit existed
stays readable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timezone
from os import urandom
from typing import Any, TypeVar

from pydantic import BaseModel

from aether.errors import InvalidEventError
from aether.jsondata import (
    FrozenDict,
    Unsure,
    freeze_json,
    freeze_parsed,
    freeze_parsed_quick,
    freeze_quick,
    freeze_text_map,
)
from aether.limits import (
    FIT_ACTORS,
    FIT_TYPES,
    MAX_EVENT_ID_BYTES,
    MAX_JSON_INT,
    actor_fits,
    check_actor_id,
    check_timestamp,
    named_zone,
    names_fit,
    type_fits,
)

_EVENT_FIELDS = frozenset(
    {"id", "event_type", "actor_id", "version", "data", "timestamp", "metadata"}
)
_SNAPSHOT_FIELDS = frozenset({"actor_id", "version", "state", "timestamp"})
ABSENT: Any = object()
"""A field not given (fill_event_fields)."""
_set = object.__setattr__
_new = object.__new__
_fromisoformat = datetime.fromisoformat


class RecordSlots(BaseModel):
    """The base of aether.event's records: the slots the builders here set besides
    pydantic's own (what they mean is said on aether.event._Record)."""

    __slots__ = ("_aether_checked", "_aether_json")


def _slot_setter(owner: type, name: str) -> Callable[[Any, Any], None]:
    # A slot descriptor's own __set__ skips the name lookup object.__setattr__ does: about
    # 0.05 µs a slot, six slots a record, every record built or read.
    descriptor = vars(owner).get(name)
    if descriptor is None or not hasattr(descriptor, "__set__"):  # another pydantic
        return lambda record, value: _set(record, name, value)
    setter: Callable[[Any, Any], None] = descriptor.__set__
    return setter


_put_dict = _slot_setter(BaseModel, "__dict__")
_put_given = _slot_setter(BaseModel, "__pydantic_fields_set__")
_put_extra = _slot_setter(BaseModel, "__pydantic_extra__")
_put_private = _slot_setter(BaseModel, "__pydantic_private__")
_put_json = _slot_setter(RecordSlots, "_aether_json")
_put_checked = _slot_setter(RecordSlots, "_aether_checked")
# Shared, so a record costs no allocation for them (fewer objects for the garbage collector
# to track): both are immutable, like the records that hold them.
_NOTHING = FrozenDict()
_DICTS = (dict, FrozenDict)
# pydantic only reads the set of fields given (a frozen record never adds to it), so
# records given the same fields share one frozenset, looked up by which optional fields
# were given (every required one was, or the record is not built here).
_EVENT_GIVEN = {
    (data, metadata): _EVENT_FIELDS.difference(
        [name for name, given in (("data", data), ("metadata", metadata)) if not given])
    for data in (False, True) for metadata in (False, True)
}
_GIVEN_BUT_METADATA = _EVENT_GIVEN[True, False]
_SNAPSHOT_GIVEN = {True: _SNAPSHOT_FIELDS, False: _SNAPSHOT_FIELDS - {"state"}}
EventT = TypeVar("EventT")


def _fixed_zone(timestamp: object) -> bool:
    # ZoneInfo zones, named offsets and fold=1 are made what JSON reads back by pydantic's
    # path (_parse_timestamp): a zone as its unnamed fixed offset, fold 0.
    return (type(timestamp) is datetime and type(timestamp.tzinfo) is timezone
            and not timestamp.fold
            and (timestamp.tzinfo is UTC or not named_zone(timestamp.tzinfo)))


def fill_event(event: Any, fields: dict[str, Any], check: bool) -> bool:
    """Fill the fresh, empty Event ``event`` from ``fields`` and return True, or return False
    (``event`` untouched) when pydantic's validation must decide."""
    if not fields.keys() <= _EVENT_FIELDS:
        return False  # an extra field, which pydantic refuses
    get = fields.get
    return fill_event_fields(event, get("id"), get("event_type"), get("actor_id"),
                             get("version"), get("data", ABSENT), get("timestamp"),
                             get("metadata", ABSENT), check)


def fill_event_fields(event: Any, event_id: Any, event_type: Any, actor_id: Any,
                      version: Any, data: Any, timestamp: Any, metadata: Any,
                      check: bool) -> bool:
    """fill_event given each field (``ABSENT``: not given), as the constructor
    (aether.event.Event.__init__) has them: Python binds keywords to parameters without a
    dict or a lookup each."""
    # Every constructor call runs this, so the common case calls no helper of ours but the
    # names' check and the data walk: _fixed_zone, check_timestamp and _finish are written
    # out here.
    if (type(event_id) is not str or type(event_type) is not str or type(actor_id) is not str
            or type(version) is not int or type(timestamp) is not datetime
            or not 0 < version <= (MAX_JSON_INT if check else version)):
        return False
    zone = timestamp.tzinfo
    if check:
        # names_fit's common case written out (a call costs more): names seen before, an ASCII id.
        if not (event_type in FIT_TYPES and actor_id in FIT_ACTORS and event_id.isascii()
                and 0 < len(event_id) <= MAX_EVENT_ID_BYTES and event_id.isprintable()
                and event_id[0] != " " and event_id[-1] != " ") and not names_fit(
                    event_id, event_type, actor_id):
            return False
        if timestamp.fold or (zone is not UTC and (
                type(zone) is not timezone or not _plain_offset(zone))):
            return False
    elif not (event_id and event_type and actor_id) or type(zone) is not timezone:
        return False
    if data is ABSENT:
        given = _EVENT_GIVEN[False, metadata is not ABSENT]
    else:
        given = _EVENT_FIELDS if metadata is not ABSENT else _GIVEN_BUT_METADATA
    try:
        if data is ABSENT:
            data = _NOTHING
        elif type(data) is not dict:
            data = freeze_json(data, "Event.data", check)
        else:
            try:  # freeze_json's quick walk, without the call to freeze_json
                data = freeze_quick(data, 1, check)
            except Unsure:
                data = freeze_json(data, "Event.data", check)
        if metadata is ABSENT or (type(metadata) in _DICTS and not metadata):
            metadata = _NOTHING
        else:
            metadata = freeze_text_map(metadata, "Event.metadata")
    except InvalidEventError:
        return False
    _put_dict(event, {
        "id": event_id, "event_type": event_type, "actor_id": actor_id, "version": version,
        "data": data, "timestamp": timestamp, "metadata": metadata,
    })
    _put_given(event, given)  # what _finish does, written out
    _put_extra(event, None)
    _put_private(event, None)
    _put_json(event, None)
    _put_checked(event, check)
    return True


def decode_event(kind: type[EventT], fields: dict[str, Any], check: bool) -> EventT | None:
    """The Event whose JSON pydantic_core.from_json parsed into ``fields`` (ours to change),
    as ``kind.model_validate_json`` builds it (``check``: without the STORED context), or
    None when pydantic's validation must decide.

    Every received and every stored event comes through here. The parser gives exact
    built-in types only, so the common case (every field present, an ISO timestamp with a
    fixed offset) needs no type dispatch beyond a test per field (fill_event takes the
    rest), and the data is frozen in place (jsondata.freeze_parsed).
    """
    if len(fields) != 7:
        return _fill_parsed(kind, fields, check)
    try:
        event_id = fields["id"]
        event_type = fields["event_type"]
        actor_id = fields["actor_id"]
        version = fields["version"]
        stamp = fields["timestamp"]
        data = fields["data"]
        metadata = fields["metadata"]
    except KeyError:
        return None  # seven keys but not these: an extra field, which pydantic refuses
    if (type(event_id) is not str or type(event_type) is not str or type(actor_id) is not str
            or type(version) is not int or type(stamp) is not str or type(data) is not dict
            or type(metadata) is not dict
            or not 0 < version <= (MAX_JSON_INT if check else version)):
        return None
    try:
        timestamp = _fromisoformat(stamp)  # as aether.event._parse_timestamp
    except ValueError:
        return None
    zone = timestamp.tzinfo
    if check:
        # names_fit's common case written out (a call costs more): names seen before, an ASCII id.
        if not (event_type in FIT_TYPES and actor_id in FIT_ACTORS and event_id.isascii()
                and 0 < len(event_id) <= MAX_EVENT_ID_BYTES and event_id.isprintable()
                and event_id[0] != " " and event_id[-1] != " ") and not names_fit(
                    event_id, event_type, actor_id):
            return None
        # fromisoformat gives a fixed-offset timezone or none at all (naive)
        if zone is not UTC and (type(zone) is not timezone or not _plain_offset(zone)):
            return None
    elif not (event_id and event_type and actor_id) or zone is None:
        return None
    for value in metadata.values():  # the keys are text: the parser made them
        if type(value) is not str:
            return None
    try:  # freeze_parsed, without the call to it
        frozen = freeze_parsed_quick(data, 1, check) if data else _NOTHING
    except Unsure:
        return None
    event = _new(kind)
    _put_dict(event, {
        "id": event_id, "event_type": event_type, "actor_id": actor_id, "version": version,
        "data": frozen, "timestamp": timestamp,
        "metadata": FrozenDict(metadata) if metadata else _NOTHING,
    })
    _put_given(event, _EVENT_FIELDS)  # what _finish does, written out
    _put_extra(event, None)
    _put_private(event, None)
    _put_json(event, None)
    _put_checked(event, check)
    return event


def _fill_parsed(kind: type[EventT], fields: dict[str, Any], check: bool,
                 fill: Callable[[Any, dict[str, Any], bool], bool] = fill_event
                 ) -> EventT | None:
    # Parsed JSON the quick decode does not take (an event without every field: data and
    # metadata may be left out; any snapshot): its ISO timestamp parsed as
    # aether.event._parse_timestamp does, then ``fill``.
    stamp = fields.get("timestamp")
    if type(stamp) is str:
        try:
            fields["timestamp"] = _fromisoformat(stamp)
        except ValueError:
            return None
    record = _new(kind)
    return record if fill(record, fields, check) else None


def decode_snapshot(kind: type[EventT], fields: dict[str, Any], check: bool) -> EventT | None:
    """decode_event for an ActorSnapshot: its state is frozen in place."""
    return _fill_parsed(kind, fields, check, _fill_parsed_snapshot)


def _fill_parsed_snapshot(snapshot: Any, fields: dict[str, Any], check: bool) -> bool:
    return fill_snapshot(snapshot, fields, check, parsed=True)


def _plain_offset(zone: timezone) -> bool:
    # What check_timestamp asks of a fixed offset other than UTC, with no name of its own
    # (JSON keeps only +HH:MM, so a name would not read back).
    offset = zone.utcoffset(None)
    return (not (offset.seconds % 60 or offset.microseconds)
            and not named_zone(zone))


def fill_snapshot(
    snapshot: Any, fields: dict[str, Any], check: bool, parsed: bool = False
) -> bool:
    """fill_event for an ActorSnapshot; ``parsed``: ``fields`` is what
    pydantic_core.from_json just parsed, ours to change (the state is frozen in place)."""
    if not fields.keys() <= _SNAPSHOT_FIELDS:
        return False
    actor_id = fields.get("actor_id")
    version = fields.get("version")
    timestamp = fields.get("timestamp")
    if type(actor_id) is not str or type(version) is not int or not _fixed_zone(timestamp):
        return False
    state = fields.get("state", ABSENT)
    try:
        if check:
            check_actor_id(actor_id)
            check_timestamp("ActorSnapshot.timestamp", timestamp)  # type: ignore[arg-type]
            if version > MAX_JSON_INT:
                return False
        elif not actor_id:
            return False
        if version <= 0:
            return False
        if state is ABSENT:
            state = _NOTHING
        elif parsed and type(state) is dict:
            state = freeze_parsed(state, check)
            if state is None:
                return False
        else:
            state = freeze_json(state, "ActorSnapshot.state", check)
    except InvalidEventError:
        return False
    _put_dict(snapshot, {
        "actor_id": actor_id, "version": version, "state": state, "timestamp": timestamp,
    })
    _finish(snapshot, _SNAPSHOT_GIVEN["state" in fields], check)
    return True


def _finish(record: Any, given: frozenset[str], checked: bool) -> None:
    # What pydantic's own construction sets besides the fields (no extra, no private
    # attributes), and the slots validation sets (see aether.event._Record).
    _put_given(record, given)
    _put_extra(record, None)
    _put_private(record, None)
    _put_json(record, None)
    _put_checked(record, checked)


def _python_event_id() -> str:
    """A random (version 4) UUID in canonical text, as ``str(uuid4())`` gives, without
    building a UUID object (new_event_id without the C module)."""
    text = urandom(16).hex()
    # The version nibble is 4; the variant's two high bits are 10 (RFC 4122), so that
    # nibble keeps its two low random bits: 8, 9, a or b.
    return (f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{_VARIANT[text[16]]}{text[17:20]}-"
            f"{text[20:]}")


def _python_command_id() -> str:
    return urandom(16).hex()


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


NewEvent = tuple[str, int, Any, dict[str, str]]
"""(event type, version, data, metadata) of one event for ``build_events``."""


def build_events(
    kind: type[EventT], actor_id: str, timestamp: datetime, items: Sequence[NewEvent]
) -> list[EventT] | None:
    """Checked, frozen events of one actor sharing one timestamp, each with a new event id,
    or None when pydantic's validation must decide (the caller then builds each one through
    the constructor, which gives the precise error).

    What ``fill_event`` checks per event is checked here once per save: the actor id and the
    timestamp once, each event type and each metadata mapping once (a save's events share
    them); the data of each event is frozen and checked as always. The ids are made here, so
    they need no check.
    """
    # A Repository's clock gives UTC: checked inline, as _fixed_zone and check_timestamp would.
    utc = type(timestamp) is datetime and timestamp.tzinfo is UTC and not timestamp.fold
    if type(actor_id) is not str or not (utc or _fixed_zone(timestamp)):
        return None
    if not (actor_id in FIT_ACTORS or actor_fits(actor_id)):
        return None
    try:
        if not utc:
            check_timestamp("Event.timestamp", timestamp)
        metas: dict[int, FrozenDict] = {}
        events: list[EventT] = []
        for event_type, version, data, metadata in items:
            if kind is _NATIVE_KIND:
                event = _new(kind)
                if _native_fill(event, new_event_id(), event_type, actor_id, version, data,
                                timestamp, metadata):
                    events.append(event)
                    continue
            if type(event_type) is not str or not (
                    event_type in FIT_TYPES or type_fits(event_type)):
                return None
            if type(version) is not int or not 0 < version <= MAX_JSON_INT:
                return None
            meta = metas.get(id(metadata))  # items holds every mapping: ids stay unique
            if meta is None:
                if type(metadata) not in _DICTS:
                    return None
                meta = metas[id(metadata)] = (
                    freeze_text_map(metadata, "Event.metadata") if metadata else _NOTHING)
            if type(data) is dict:
                try:  # freeze_json's quick walk, without the call to freeze_json
                    data = freeze_quick(data, 1, True)
                except Unsure:
                    data = freeze_json(data, "Event.data", True)
            else:
                data = freeze_json(data, "Event.data", True)
            event = _new(kind)
            _put_dict(event, {
                "id": new_event_id(), "event_type": event_type, "actor_id": actor_id,
                "version": version, "data": data, "timestamp": timestamp, "metadata": meta,
            })
            _put_given(event, _EVENT_FIELDS)  # _finish, written out: every field given
            _put_extra(event, None)
            _put_private(event, None)
            _put_json(event, None)
            _put_checked(event, True)
            events.append(event)
    except InvalidEventError:
        return None
    return events



# aether/_records.c: the common case of fill_event_fields (check=True) and decode_event in
# C, answering False / None where these Python functions must decide. It is built with the
# package (hatch_build.py); without a C compiler the Python functions do all the work.
def _load_native() -> Any:
    try:
        from aether import _records  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _records


NATIVE: Any = _load_native()
"""The aether._records module when it was built, else None."""

def id_makers(native: Any) -> tuple[Callable[[], str], Callable[[], str]]:
    """(new_event_id, new_command_id): the C ones when ``native`` has them and they work.
    They read with getentropy, which kernels before 3.17 lack (ENOSYS); os.urandom falls
    back to /dev/urandom there, so the Python ones are taken instead of failing every id."""
    if native is None:
        return _python_event_id, _python_command_id
    try:
        native.new_event_id()
    except OSError:
        return _python_event_id, _python_command_id
    makers: tuple[Callable[[], str], Callable[[], str]] = (
        native.new_event_id, native.new_command_id)
    return makers


new_event_id, new_command_id = id_makers(NATIVE)
"""A new random (version 4) UUID in canonical text, as ``str(uuid4())`` gives: an event's
id; and 128 new random bits as 32 hex digits (what ``uuid4().hex`` gave): a command's id.
The C ones read the kernel's random bytes in blocks (two ids per command cost about as
much as a system call each otherwise)."""


def _native_fill_unavailable(*_args: Any) -> bool:
    return False


def _native_decode_unavailable(_fields: dict[str, Any], _check: bool) -> None:
    return None


NativeFill = Callable[..., bool]
"""fill_event_fields(event, ..., check=True)'s common case, called without ``check``;
False: the Python function decides."""
NativeDecode = Callable[[dict[str, Any], bool], Any]
"""decode_event(Event, fields, check)'s common case; None: the Python function decides."""


def native_builders(event_class: type) -> tuple[NativeFill, NativeDecode]:
    """The C builders for aether.event.Event, handed what they share with this module, or
    stand-ins that always leave the decision to Python when they were not built."""
    if NATIVE is None:
        return _native_fill_unavailable, _native_decode_unavailable
    from aether.jsondata import FrozenList
    from aether.limits import MAX_ACTOR_ID_BYTES, MAX_EVENT_TYPE_BYTES, MAX_JSON_DEPTH

    NATIVE.configure(
        event_class, ABSENT, _NOTHING, UTC, FIT_TYPES, FIT_ACTORS, FrozenDict, FrozenList,
        (_EVENT_GIVEN[False, False], _EVENT_GIVEN[False, True], _EVENT_GIVEN[True, False],
         _EVENT_GIVEN[True, True]),
        (vars(BaseModel)["__dict__"], vars(BaseModel)["__pydantic_fields_set__"],
         vars(BaseModel)["__pydantic_extra__"], vars(BaseModel)["__pydantic_private__"],
         vars(RecordSlots)["_aether_json"], vars(RecordSlots)["_aether_checked"]),
        MAX_EVENT_ID_BYTES, MAX_EVENT_TYPE_BYTES, MAX_ACTOR_ID_BYTES, MAX_JSON_DEPTH)
    global _NATIVE_KIND, _native_fill
    _NATIVE_KIND, _native_fill = event_class, NATIVE.fill_event
    return NATIVE.fill_event, NATIVE.decode_event


# build_events' builder for each event when the C one was built (native_builders).
_NATIVE_KIND: type | None = None
_native_fill: NativeFill = _native_fill_unavailable
