"""The quick paths (aether/records.py, decode_record, encode_record) accept, refuse and
build exactly what pydantic's validation does: same records, same types, same errors."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar
from uuid import RFC_4122, UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import JsonValue
from pydantic_core import to_json

from aether import ActorSnapshot, Event, InvalidEventError, limits, records
from aether.errors import UnknownEventTypeError
from aether.event import STORED, decode_record, encode_record, storable
from aether.jsondata import FrozenDict, FrozenList
from aether.records import new_event_id
from aether.registry import EventPayload, EventRegistry
from aether.testing import make_event, strategies
from aether.testing.conformance.store_limits import typed

# Not the constructor: model_validate runs pydantic's validation alone.
_versions = st.one_of(st.integers(-2, 2**64), st.sampled_from([True, 1.0, "3", None, 2**63]))


def _outcome(build: Any) -> tuple[str, Any]:
    """What building gives: the record with every value's type, or the error's text."""
    try:
        record = build()
    except InvalidEventError as error:
        return "refused", str(error)
    return "built", (record, typed(record.model_dump()), record.model_fields_set)


def _assert_same(quick: tuple[str, Any], exact: tuple[str, Any]) -> None:
    assert quick[0] == exact[0], (quick, exact)
    assert quick[1] == exact[1]


def _containers_are(mapping: type, sequence: type, value: Any) -> bool:
    """Every dict in ``value`` is exactly a ``mapping``, every list exactly a ``sequence``."""
    if isinstance(value, dict):
        return type(value) is mapping and all(
            _containers_are(mapping, sequence, item) for item in value.values())
    if isinstance(value, list):
        return type(value) is sequence and all(
            _containers_are(mapping, sequence, item) for item in value)
    return True


def _immutable(value: Any) -> bool:
    return _containers_are(FrozenDict, FrozenList, value)


@settings(deadline=None)
@given(fields=strategies.hostile_event_fields(), version=_versions,
       drop=st.sampled_from([None, "data", "metadata", "id", "timestamp"]),
       extra=st.booleans())
def test_the_constructor_decides_like_pydantic_validation(
    fields: dict[str, Any], version: Any, drop: str | None, extra: bool
) -> None:
    fields = {**fields, "version": version}
    if drop is not None:
        del fields[drop]
    if extra:
        fields["extra"] = 1
    quick = _outcome(lambda: Event(**fields))
    _assert_same(quick, _outcome(lambda: Event.model_validate(fields)))
    if quick[0] == "built":
        event = quick[1][0]
        assert _immutable(event.data) and _immutable(event.metadata)


@settings(deadline=None)
@given(actor_id=strategies.actor_ids, state=strategies.hostile_data, version=_versions,
       timestamp=strategies.hostile_timestamps)
def test_snapshots_are_decided_like_pydantic_validation(
    actor_id: str, state: dict[str, Any], version: Any, timestamp: datetime
) -> None:
    fields = {"actor_id": actor_id, "version": version, "state": state, "timestamp": timestamp}
    quick = _outcome(lambda: ActorSnapshot(**fields))
    _assert_same(quick, _outcome(lambda: ActorSnapshot.model_validate(fields)))


def _json_of(fields: dict[str, Any]) -> dict[str, Any]:
    event = make_event("a", 1)
    return {**json.loads(event.model_dump_json()), **fields}


_tweaks = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"version": _versions}),
    st.fixed_dictionaries({"timestamp": st.sampled_from([
        "2026-01-01T00:00:00", "2026-01-01T00:00:00+00:00:30", "yesterday", 0, None,
        "2026-01-01T00:00:00.5-05:00", "2026-01-01T00:00:00Z"])}),
    st.fixed_dictionaries({"data": strategies.hostile_data}),
    st.fixed_dictionaries({"metadata": st.dictionaries(strategies.hostile_text, st.one_of(
        strategies.hostile_text, st.integers()), max_size=2)}),
    st.fixed_dictionaries({"actor_id": strategies.actor_ids, "id": strategies.hostile_text}),
    st.fixed_dictionaries({"data": st.just({"big": 2**70}), "version": st.just(2**63)}),
    st.fixed_dictionaries({"extra": st.just(1)}),
)


@settings(deadline=None)
@given(tweak=_tweaks, drop=st.sampled_from([None, "data", "metadata", "event_type"]),
       stored=st.booleans())
def test_decoding_decides_like_model_validate_json(
    tweak: dict[str, Any], drop: str | None, stored: bool
) -> None:
    document = _json_of(tweak)
    if drop is not None:
        document.pop(drop, None)
    try:
        raw = json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError, RecursionError):
        return  # not JSON (json.dumps gives up on 3,000 levels)
    context = {STORED: True} if stored else None
    quick = _decode_outcome(lambda: decode_record(Event, raw, stored=stored))
    _assert_same(quick, _decode_outcome(lambda: Event.model_validate_json(raw, context=context)))


def _decode_outcome(build: Any) -> tuple[str, Any]:
    try:
        record = build()
    except Exception as error:  # pydantic's ValidationError or InvalidEventError
        return type(error).__name__, str(error)
    return "built", (record, typed(record.model_dump()))


@pytest.mark.parametrize("raw", [b"", b"[]", b"{", b"\xff", b'{"id": NaN}', b"null"])
def test_undecodable_bytes_get_pydantic_s_own_errors(raw: bytes) -> None:
    quick = _decode_outcome(lambda: decode_record(Event, raw, stored=True))
    assert quick[0] != "built"
    assert quick == _decode_outcome(lambda: Event.model_validate_json(raw, context={STORED: 1}))


def test_stored_history_past_today_s_limits_still_decodes() -> None:
    raw = json.dumps(_json_of({"data": {"big": 2**70}})).encode()
    assert decode_record(Event, raw, stored=True).data == {"big": 2**70}
    with pytest.raises(InvalidEventError, match="64-bit"):
        decode_record(Event, raw, stored=False)


def test_zoned_and_text_timestamps_take_pydantic_s_path_and_agree() -> None:
    fields = make_event("a", 1).model_dump()
    for stamp in (datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("Europe/Paris")),
                  "2026-01-02T03:04:05+01:00",
                  datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=30)))):
        fields["timestamp"] = stamp
        assert Event(**fields) == Event.model_validate(fields)


def test_json_is_encoded_once_and_is_exactly_pydantic_s() -> None:
    event = make_event("a", 1, lines=[{"sku": "ü", "n": 1.5}])
    first = encode_record(event)
    assert first == event.model_dump_json().encode()
    assert encode_record(event) is first
    # The cache is no field: equality, pickling and copies ignore it.
    assert event == make_event("a", 1).model_copy(update={
        "id": event.id, "timestamp": event.timestamp, "data": event.data})
    again = pickle.loads(pickle.dumps(event))
    assert again == event and encode_record(again) == first
    unchecked = Event.model_construct(**event.__dict__)
    assert encode_record(unchecked) == first
    snapshot = ActorSnapshot(actor_id="a", version=1, state={"x": [1]},
                             timestamp=datetime.now(UTC))
    assert encode_record(snapshot) == snapshot.model_dump_json().encode()


def test_a_store_still_checks_what_was_read_back_past_today_s_limits() -> None:
    raw = json.dumps(_json_of({"data": {"big": 2**70}})).encode()
    old = decode_record(Event, raw, stored=True)
    with pytest.raises(InvalidEventError, match="64-bit"):
        storable(old, Event)  # saving it anew must meet today's limits
    fresh = make_event("a", 1)
    assert storable(fresh, Event) is fresh  # checked when it was built: kept as it is


class Noted(EventPayload):
    event_type: ClassVar[str] = "Noted"
    note: JsonValue


class Renoted(EventPayload):
    event_type: ClassVar[str] = "Renoted"
    schema_version: ClassVar[int] = 2
    note: JsonValue


def _batch_outcome(build: Any) -> tuple[str, Any]:
    """Built events without their (random) ids, with every value's type; or the error."""
    try:
        events = build()
    except (InvalidEventError, UnknownEventTypeError) as error:
        return "refused", str(error)
    except (ValueError, RecursionError) as error:  # data pydantic cannot serialize at all
        return "unserializable", type(error).__name__
    return "built", [
        ({**typed(event.model_dump()), "id": None}, event.model_fields_set,
         event._aether_checked, _immutable(event.data), _immutable(event.metadata))
        for event in events
    ]


@settings(deadline=None)
@given(fields=strategies.hostile_event_fields(), notes=st.lists(st.booleans(), min_size=1,
                                                                 max_size=3),
       first=st.sampled_from([-1, 0, 1, 2**63 - 2]))
def test_a_save_builds_its_events_like_one_constructor_call_each(
    fields: dict[str, Any], notes: list[bool], first: int
) -> None:
    """Registry.to_events (Repository.save's one pass, aether.records.build_events) builds,
    and refuses, exactly the events one Event(...) per payload would."""
    registry = EventRegistry([Noted, Renoted])
    payloads = [(Renoted if second else Noted).model_construct(note=fields["data"])
                for second in notes]
    common = {"metadata": fields["metadata"], "timestamp": fields["timestamp"]}
    batch = _batch_outcome(lambda: registry.to_events(
        payloads, fields["actor_id"], first, **common))
    one_by_one = _batch_outcome(lambda: [
        registry.to_event(payload, fields["actor_id"], first + offset, **common)
        for offset, payload in enumerate(payloads)])
    _assert_same(batch, one_by_one)


@pytest.mark.parametrize("make", [new_event_id, records._python_event_id],
                         ids=["as built", "pure python"])
def test_event_ids_are_canonical_random_uuids(make: Callable[[], str]) -> None:
    ids = {make() for _ in range(1000)}
    assert len(ids) == 1000
    for event_id in ids:
        parsed = UUID(event_id)
        assert (str(parsed), parsed.version, parsed.variant) == (event_id, 4, RFC_4122)


@settings(deadline=None)
@given(names=st.lists(st.tuples(strategies.hostile_text, strategies.actor_ids), max_size=4))
def test_remembered_names_decide_nothing_new(names: list[tuple[str, str]]) -> None:
    """Event types and actor ids that fit are remembered (aether.limits.names_fit); a name is
    accepted after one that fits exactly when pydantic's validation accepts it, in the
    constructor, in decoding and in a save's batch."""
    fields = make_event("a", 1).model_dump()
    for event_type, actor_id in [("Fits", "fits"), *names, *names]:
        one = {**fields, "event_type": event_type, "actor_id": actor_id}
        _assert_same(_outcome(lambda one=one: Event(**one)),
                     _outcome(lambda one=one: Event.model_validate(one)))
        try:
            raw = json.dumps(Event.model_construct(**one).model_dump(mode="json")).encode(
                "utf-8", "surrogatepass")
        except (TypeError, ValueError):
            continue
        _assert_same(_decode_outcome(lambda raw=raw: decode_record(Event, raw, stored=False)),
                     _decode_outcome(lambda raw=raw: Event.model_validate_json(raw)))


def test_remembered_names_stay_bounded() -> None:
    fields = make_event("a", 1).model_dump()
    for index in range(limits.MAX_REMEMBERED * 2 + 10):
        Event(**{**fields, "actor_id": f"actor-{index}", "event_type": f"Type{index}"})
    assert 0 < len(limits.FIT_ACTORS) <= limits.MAX_REMEMBERED
    assert 0 < len(limits.FIT_TYPES) <= limits.MAX_REMEMBERED


_json = st.recursive(
    st.none() | st.booleans() | st.integers(limits.MIN_JSON_INT, limits.MAX_JSON_INT)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)


def _plain(value: Any) -> bool:
    return _containers_are(dict, list, value)


@settings(deadline=None, max_examples=150)
@given(data=st.dictionaries(st.text(max_size=8), _json, max_size=4))
def test_frozen_data_encodes_and_dumps_as_the_plain_json_it_holds(
        data: dict[str, Any]) -> None:
    # FrozenDict and FrozenList carry their own serializers (aether/jsondata.py): the JSON
    # must be byte for byte what pydantic_core writes for the plain values, and model_dump
    # must give plain, mutable copies, at every depth.
    # model_copy, not make_event(**data): a key such as "version" is make_event's own.
    event = make_event("a-1", 1).model_copy(update={"data": data}) if data else make_event(
        "a-1", 1)
    snapshot = ActorSnapshot(actor_id="a-1", version=1, state=data, timestamp=event.timestamp)
    plain = json.loads(json.dumps(data)) if data else {"n": 1}
    assert b'"data":' + to_json(plain) + b',"timestamp"' in encode_record(event)
    assert b'"state":' + to_json(data) + b',"timestamp"' in encode_record(snapshot)
    dumped = event.model_dump()["data"]
    assert _plain(dumped) and typed(dumped) == typed(plain)
    assert _plain(snapshot.model_dump()["state"])
    assert typed(json.loads(event.model_dump_json())["data"]) == typed(plain)
