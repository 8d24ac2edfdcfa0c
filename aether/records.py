"""Building Events and ActorSnapshots without pydantic's per-field machinery.

pydantic's validation of an Event calls five Python validators and builds a ValidationInfo
for each; with the limits added by the hardening that cost more than the append itself.
``fill_event`` and ``fill_snapshot`` do the same checks in one pass for the common case:
every field of its exact built-in type (str, int, an aware datetime whose zone is a fixed
``timezone``, dict data), nothing extra, nothing missing, every limit kept. They return
False for anything else, and for every refusal, and the caller then runs pydantic's
validation, which decides alone: so the constructor, the stores and the bus accept and
refuse exactly what they did, and every error message stays the one pydantic's path gives.

``check=False`` is for records read back from storage (aether.event.STORED): the shape and
types are still checked, the limits are not, so history written before a limit existed
stays readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from os import urandom
from typing import Any, TypeVar

from aether.errors import InvalidEventError
from aether.jsondata import FrozenDict, freeze_json, freeze_text_map
from aether.limits import (
    MAX_ACTOR_ID_BYTES,
    MAX_EVENT_ID_BYTES,
    MAX_EVENT_TYPE_BYTES,
    MAX_JSON_INT,
    check_actor_id,
    check_timestamp,
)

_EVENT_FIELDS = frozenset(
    {"id", "event_type", "actor_id", "version", "data", "timestamp", "metadata"}
)
_SNAPSHOT_FIELDS = frozenset({"actor_id", "version", "state", "timestamp"})
_ABSENT: Any = object()
_set = object.__setattr__
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
_SNAPSHOT_GIVEN = {True: _SNAPSHOT_FIELDS, False: _SNAPSHOT_FIELDS - {"state"}}


def _fixed_zone(timestamp: object) -> bool:
    # ZoneInfo zones are turned into fixed offsets by pydantic's path (_parse_timestamp).
    return type(timestamp) is datetime and type(timestamp.tzinfo) is timezone


def fill_event(event: Any, fields: dict[str, Any], check: bool) -> bool:
    """Fill the fresh, empty Event ``event`` from ``fields`` and return True, or return False
    (``event`` untouched) when pydantic's validation must decide."""
    if not fields.keys() <= _EVENT_FIELDS:
        return False
    event_id = fields.get("id")
    event_type = fields.get("event_type")
    actor_id = fields.get("actor_id")
    version = fields.get("version")
    timestamp = fields.get("timestamp")
    if (type(event_id) is not str or type(event_type) is not str or type(actor_id) is not str
            or type(version) is not int or not _fixed_zone(timestamp)):
        return False
    data = fields.get("data", _ABSENT)
    metadata = fields.get("metadata", _ABSENT)
    try:
        if check:
            if not (_header_text(event_id, MAX_EVENT_ID_BYTES)
                    and _header_text(event_type, MAX_EVENT_TYPE_BYTES)
                    and ((actor_id.isascii() and 0 < len(actor_id) <= MAX_ACTOR_ID_BYTES)
                         or check_actor_id(actor_id))
                    and version <= MAX_JSON_INT):
                return False
            check_timestamp("Event.timestamp", timestamp)  # type: ignore[arg-type]
        elif not (event_id and event_type and actor_id):
            return False
        if version <= 0:
            return False
        data = _NOTHING if data is _ABSENT else freeze_json(data, "Event.data", check)
        if metadata is _ABSENT or (type(metadata) in _DICTS and not metadata):
            metadata = _NOTHING
        else:
            metadata = freeze_text_map(metadata, "Event.metadata")
    except InvalidEventError:
        return False
    _set(event, "__dict__", {
        "id": event_id, "event_type": event_type, "actor_id": actor_id, "version": version,
        "data": data, "timestamp": timestamp, "metadata": metadata,
    })
    _finish(event, _EVENT_GIVEN["data" in fields, "metadata" in fields], check)
    return True


def _header_text(text: str, limit: int) -> bool:
    """True for printable ASCII within ``limit`` bytes without edge spaces: what
    aether.limits.check_event_id accepts, in its common case (the rest goes to pydantic)."""
    return (text.isascii() and 0 < len(text) <= limit and text.isprintable()
            and text[0] != " " and text[-1] != " ")


def fill_snapshot(snapshot: Any, fields: dict[str, Any], check: bool) -> bool:
    """fill_event for an ActorSnapshot."""
    if not fields.keys() <= _SNAPSHOT_FIELDS:
        return False
    actor_id = fields.get("actor_id")
    version = fields.get("version")
    timestamp = fields.get("timestamp")
    if type(actor_id) is not str or type(version) is not int or not _fixed_zone(timestamp):
        return False
    state = fields.get("state", _ABSENT)
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
        state = _NOTHING if state is _ABSENT else freeze_json(
            state, "ActorSnapshot.state", check)
    except InvalidEventError:
        return False
    _set(snapshot, "__dict__", {
        "actor_id": actor_id, "version": version, "state": state, "timestamp": timestamp,
    })
    _finish(snapshot, _SNAPSHOT_GIVEN["state" in fields], check)
    return True


def _finish(record: Any, given: frozenset[str], checked: bool) -> None:
    # What pydantic's own construction sets besides the fields (no extra, no private
    # attributes), and the slots validation sets (see aether.event._Record).
    _set(record, "__pydantic_fields_set__", given)
    _set(record, "__pydantic_extra__", None)
    _set(record, "__pydantic_private__", None)
    _set(record, "_aether_json", None)
    _set(record, "_aether_checked", checked)


def new_event_id() -> str:
    """A random (version 4) UUID in canonical text, as ``str(uuid4())`` gives, without
    building a UUID object (a third of the cost of a save's event on the command path)."""
    raw = bytearray(urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


EventT = TypeVar("EventT")

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
    if type(actor_id) is not str or not _fixed_zone(timestamp):
        return None
    try:
        check_actor_id(actor_id)
        check_timestamp("Event.timestamp", timestamp)
        types: dict[str, bool] = {}
        metas: dict[int, FrozenDict] = {}
        events: list[EventT] = []
        for event_type, version, data, metadata in items:
            known = types.get(event_type)
            if known is None:
                known = types[event_type] = (
                    type(event_type) is str and _header_text(event_type, MAX_EVENT_TYPE_BYTES))
            if not known or type(version) is not int or not 0 < version <= MAX_JSON_INT:
                return None
            meta = metas.get(id(metadata))  # items holds every mapping: ids stay unique
            if meta is None:
                if type(metadata) not in _DICTS:
                    return None
                meta = metas[id(metadata)] = (
                    freeze_text_map(metadata, "Event.metadata") if metadata else _NOTHING)
            event = object.__new__(kind)
            _set(event, "__dict__", {
                "id": new_event_id(), "event_type": event_type, "actor_id": actor_id,
                "version": version, "data": freeze_json(data, "Event.data", True),
                "timestamp": timestamp, "metadata": meta,
            })
            _finish(event, _EVENT_FIELDS, True)  # as the constructor given every field
            events.append(event)
    except InvalidEventError:
        return None
    return events
