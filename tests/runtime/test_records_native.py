"""aether/_records.c against its Python twins on hostile input: whatever the C builders
accept they build exactly as the Python path does, whatever they decline they leave as they
found it, and no input makes them crash, leak or change what their caller still holds.

The Python outcome is what Aether does without the extension (records.native_builders'
stand-ins decline everything): the constructor with aether.event._fill_native declining,
decode_record with aether.event._decode_native declining. decode_event freezes the parsed
containers in place and may keep the dict it is given, so every call gets a fresh parse.
"""

from __future__ import annotations

import gc
import json
import operator
import os
import subprocess
import sys
import tracemalloc
import weakref
from collections.abc import Callable, Iterator
from collections.abc import Sequence as Sequence_
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from functools import reduce
from pathlib import Path
from typing import Any
from unittest.mock import patch
from uuid import RFC_4122, UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic_core import from_json

import aether.event
from aether import ActorSnapshot, Event, limits, records
from aether.event import decode_record, encode_record
from aether.jsondata import FrozenDict, FrozenList
from aether.limits import MAX_JSON_DEPTH, MAX_JSON_INT, MIN_JSON_INT
from aether.records import ABSENT
from aether.testing.conformance.store_limits import typed

NATIVE: Any = records.NATIVE
if NATIVE is None:
    pytest.skip("aether._records was not built (AETHER_PURE_PYTHON=1): no C builders to hold "
                "to their Python twins", allow_module_level=True)

_FIELDS = ("id", "event_type", "actor_id", "version", "data", "timestamp", "metadata")
_EXAMPLES = settings(max_examples=max(250, settings().max_examples), deadline=None)


class Text(str):
    """A str subclass, as a StrEnum member is."""


class Number(int):
    pass


class Real(float):
    pass


class Mapping(dict[Any, Any]):
    pass


class Sequence(list[Any]):
    pass


class Stamp(datetime):
    """What freezegun's FakeDatetime is: a datetime subclass."""


def _decline_fill(*_args: Any) -> bool:
    return False


def _decline_decode(*_args: Any) -> None:
    return None


@contextmanager
def _python_only() -> Iterator[None]:
    with patch.object(aether.event, "_fill_native", _decline_fill), \
            patch.object(aether.event, "_decode_native", _decline_decode):
        yield


def _kinds(value: Any) -> Any:
    """The container types of ``value`` at every position (typed() sees plain dumps)."""
    if isinstance(value, dict):
        return type(value), [(key, _kinds(item)) for key, item in value.items()]
    if isinstance(value, list):
        return type(value), [_kinds(item) for item in value]
    return type(value)


def _built(event: Event) -> tuple[Any, ...]:
    """Everything a caller can tell two built events apart by."""
    cached = event._aether_json  # None until encoded: read before encode_record fills it
    return (event, typed(event.model_dump()), _kinds(event.data), _kinds(event.metadata),
            event.model_fields_set, event._aether_checked, cached, type(event.timestamp),
            event.timestamp.utcoffset(), encode_record(event))


def _outcome(build: Callable[[], Event]) -> tuple[str, Any]:
    try:
        event = build()
    except Exception as error:  # InvalidEventError, or Python's own (TypeError, ...)
        return "refused", type(error).__name__
    return "built", _built(event)


def _shape(value: Any, ids: bool = True, seen: frozenset[int] = frozenset()) -> Any:
    """``value`` as plain tuples: every type, every key in order, and (``ids``) which
    object each container is, so a value replaced, a container whose type changed in place
    or an entry added shows; cycles end in their container's id."""
    mark = id(value) if ids else None
    if isinstance(value, dict | list | tuple):
        if id(value) in seen:
            return "cycle", id(value)
        inner = seen | {id(value)}
        items = ([(_shape(key, ids, inner), _shape(item, ids, inner))
                  for key, item in dict.items(value)] if isinstance(value, dict)
                 else [_shape(item, ids, inner) for item in value])
        return type(value), mark, items
    if isinstance(value, float):
        return type(value), value.hex()
    return type(value), repr(value)


def _assert_frozen(event: Event) -> None:
    """Every container in data and metadata refuses to change, as Python-built ones do."""
    stack: list[Any] = [event.data, event.metadata]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            assert type(value) is FrozenDict
            with pytest.raises(TypeError, match="immutable"):
                value["new"] = 1
            stack.extend(value.values())
        elif isinstance(value, list):
            assert type(value) is FrozenList
            with pytest.raises(TypeError, match="immutable"):
                value.append(1)
            stack.extend(value)
    _assert_untracked(event)


def _assert_untracked(event: Event) -> None:
    """A C-built event is left out of the cyclic GC with all it holds (aether/_records.c,
    untrack_atoms): no cycle can pass through frozen data, so a full collection need not
    walk the events an application holds. Sound only because nothing untracked holds a
    container the GC tracks: a cycle through one would never be collected."""
    assert not gc.is_tracked(event) and not gc.is_tracked(vars(event))
    stack: list[Any] = [event.data, event.metadata]
    while stack:
        value = stack.pop()
        assert not gc.is_tracked(value), value
        if isinstance(value, dict):
            stack.extend(child for child in value.values() if isinstance(child, dict | list))
        elif isinstance(value, list):
            stack.extend(child for child in value if isinstance(child, dict | list))


def _untouched(event: Event) -> None:
    assert vars(BaseModel)["__dict__"].__get__(event) == {}
    for slot in ("__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__",
                 "_aether_json", "_aether_checked"):
        with pytest.raises(AttributeError):
            object.__getattribute__(event, slot)


# --- Event(...): fill_event -------------------------------------------------------------

def _mostly(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # Mostly valid, so whole calls often reach the C builder's common case (one in eight
    # odd per value; not at a bound of the range, which hypothesis favours).
    return st.integers(0, 7).flatmap(lambda pick: odd if pick == 3 else valid)


_ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
_WORD = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12)
_ODD_TEXT = ["", " ", " a", "a ", "a\n", "a\tb", "\x00", "\x7f", "\x85", "é", "🙂", "\u202e",
             "\ud800", "a\udfff", "x" * 256, "x" * 257, "x" * 512, "x" * 513, "é" * 128,
             "é" * 129, "🙂" * 129]
_names = _mostly(st.one_of(st.sampled_from(["Placed", "order-1", "a", "x" * 256]), _WORD),
                 st.one_of(st.sampled_from([*_ODD_TEXT, Text("Placed"), Text(""), Text("é"), 1,
                                            None, b"Placed", ABSENT]), st.text(max_size=6)))
_versions = _mostly(st.integers(1, MAX_JSON_INT), st.sampled_from([
    0, -1, 2**63, 2**64, -(2**63), -(2**63) - 1, 10**30, True, False, 1.0, 3.0, Number(3),
    Number(0), "3", None, ABSENT]))

_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(MIN_JSON_INT, MAX_JSON_INT),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(_ASCII, max_size=8))
_ODD_LEAVES = st.sampled_from([
    float("nan"), float("inf"), -float("inf"), 2**63, -(2**63) - 1, 2**64, 10**30, -0.0,
    MAX_JSON_INT, MIN_JSON_INT, "\ud800", "é", "🙂", Text("x"), Number(5), Real(1.5), b"x",
    (1, 2), {1, 2}, frozenset(), datetime(2026, 1, 1)])
_KEYS = st.text(_ASCII, max_size=6)
_ODD_KEYS = st.sampled_from(["", "é", "\udc00", Text("k"), 1, -1, None, True, (1,), 1.5, b"k"])


def _containers(children: st.SearchStrategy[Any], keys: st.SearchStrategy[Any],
                odd: bool) -> st.SearchStrategy[Any]:
    lists = st.lists(children, max_size=4)
    dicts = st.dictionaries(keys, children, max_size=4)
    kinds = [dicts, lists, dicts.map(FrozenDict), lists.map(FrozenList)]
    if odd:
        kinds.append(st.one_of(dicts.map(Mapping), lists.map(Sequence), lists.map(tuple)))
    return st.one_of(*kinds)


_plain_json = st.recursive(_LEAVES, lambda inner: _containers(inner, _KEYS, False),
                           max_leaves=12)
_odd_json = st.recursive(_mostly(_LEAVES, _ODD_LEAVES),
                         lambda inner: _containers(inner, _mostly(_KEYS, _ODD_KEYS), True),
                         max_leaves=12)


def _nest(kinds: Sequence_[Any], bottom: Any) -> dict[str, Any]:
    """Data nested one level per kind below the data mapping (level 1)."""
    inner = bottom
    for kind in kinds:
        inner = kind({"k": inner}) if issubclass(kind, dict) else kind([inner])
    return {"deep": inner}


@st.composite
def _deep_data(draw: st.DrawFn) -> dict[str, Any]:
    levels = draw(st.sampled_from([MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1,
                                   MAX_JSON_DEPTH + 2]))
    kinds = draw(st.lists(st.sampled_from([dict, list, FrozenDict, FrozenList]),
                          min_size=levels - 1, max_size=levels - 1))
    return _nest(kinds, draw(st.sampled_from(["bottom", 1, {}, []])))


@st.composite
def _shared_data(draw: st.DrawFn) -> dict[str, Any]:
    child = draw(st.one_of(st.dictionaries(_KEYS, _LEAVES, max_size=3),
                           st.lists(_LEAVES, max_size=3)))
    return {"a": child, "b": [child, {"c": child}]}


_data = _mostly(st.dictionaries(_KEYS, _plain_json, max_size=5), st.one_of(
    _deep_data(), _shared_data(),
    st.dictionaries(_mostly(_KEYS, _ODD_KEYS), _odd_json, max_size=4).flatmap(
        lambda data: st.sampled_from([data, FrozenDict(data), Mapping(data)])),
    st.sampled_from([ABSENT, None, [], (), "x", FrozenDict(), Mapping(), {}])))
_ZONES = [timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(0), "Z"),
          timezone(timedelta(seconds=30)), timezone(-timedelta(hours=23, minutes=59)),
          ZoneInfo("Europe/Paris"), ZoneInfo("UTC")]
_utc = st.datetimes(timezones=st.just(UTC))
_timestamps = _mostly(_utc, st.one_of(
    st.datetimes(), st.datetimes(timezones=st.sampled_from(_ZONES)),
    _utc.map(lambda stamp: Stamp(stamp.year, stamp.month, stamp.day, stamp.hour,
                                 stamp.minute, stamp.second, stamp.microsecond, stamp.tzinfo)),
    _utc.map(lambda stamp: stamp.replace(fold=1)),
    st.sampled_from([ABSENT, None, "2026-01-01T00:00:00Z", 0])))
_metadata = _mostly(st.dictionaries(_KEYS, st.text(_ASCII, max_size=8), max_size=3), st.one_of(
    st.dictionaries(st.one_of(_KEYS, st.sampled_from(["é", "\udc00", Text("k"), 1])),
                    st.one_of(st.text(max_size=4), st.sampled_from(
                        [1, None, Text("v"), "\ud800", "é", ["x"], b"v"])),
                    min_size=1, max_size=3),
    st.sampled_from([ABSENT, {}, FrozenDict(), FrozenDict(a="b"), Mapping(a="b"), Mapping(),
                     None, [], [("a", "b")], "a=b"])))


@st.composite
def _calls(draw: st.DrawFn) -> dict[str, Any]:
    """The constructor's arguments (ABSENT: not given); data and metadata sometimes share."""
    call = {"id": draw(_names), "event_type": draw(_names), "actor_id": draw(_names),
            "version": draw(_versions), "data": draw(_data), "timestamp": draw(_timestamps),
            "metadata": draw(_metadata)}
    share = draw(st.integers(0, 9))
    if share == 3:
        call["metadata"] = call["data"]
    elif share == 4 and type(call["data"]) is dict:
        call["data"]["m"] = call["metadata"]
    return call


@_EXAMPLES
@given(call=_calls(), python_first=st.booleans())
def test_fill_event_builds_what_the_python_constructor_builds(
        call: dict[str, Any], python_first: bool) -> None:
    """python_first: the names are remembered before C sees them (limits.names_fit), so C
    takes its common case; otherwise it meets them unseen and must decline."""
    given_fields = {name: value for name, value in call.items() if value is not ABSENT}
    before = _shape(call)

    def python() -> tuple[str, Any]:
        with _python_only():
            return _outcome(lambda: Event(**given_fields))

    expected = python() if python_first else None
    event = object.__new__(Event)
    try:
        accepted = NATIVE.fill_event(event, *(call[name] for name in _FIELDS))
    except Exception as error:  # only what Python itself would raise on the same values
        accepted = type(error).__name__
    assert _shape(call) == before  # the caller's values, containers and types as they were
    expected = expected or python()
    assert _shape(call) == before
    if accepted is True:
        assert expected[0] == "built"
        assert _built(event) == expected[1]
        _assert_frozen(event)
    elif accepted is False:
        _untouched(event)
    else:
        assert expected == ("refused", accepted)
    assert _outcome(lambda: Event(**given_fields)) == expected  # the constructor, C first


# --- decode_record: decode_event ---------------------------------------------------------

_STAMPS = ["2026-01-01T00:00:00", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+00:00",
           "2026-01-01T00:00:00-00:00", "2026-01-01T00:00:00+05:30", "2026-01-01T00:00:00-00:01",
           "2026-01-01T00:00:00+00:00:30", "2026-01-01T00:00:00+01:00:00.5", "2026-01-01",
           "2026-01-01T00:00:00.123456789Z", "2026-13-01T00:00:00Z", "yesterday", "",
           "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999+00:00", "2026-01-01 00:00:00Z",
           "20260101T000000Z", "2026-01-01T00:00:00.5+00:00"]
_NESTED = [_nest([kind] * (levels - 1), "bottom") for levels in (
    MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, MAX_JSON_DEPTH + 2)
    for kind in (dict, list)]
_ODD_DATA: list[Any] = [
    *_NESTED, {"big": 2**63}, {"big": -(2**63) - 1}, {"big": MAX_JSON_INT}, {"big": 10**30},
    {"inf": "__INF__"}, {"nan": float("nan")}, {"z": -0.0}, {"é": "ü🙂"}, {"s": "\ud800"},
    {"a": {"b": [1, {"c": 2**64}]}}, {"": {"": [""]}}, [], "x", None, 1, {}]
_ODD_METADATA: list[Any] = [{"a": 1}, {"a": None}, {"a": ["x"]}, {"a": {"b": "c"}}, {"é": "ü"},
                            {"": ""}, "x", [], None, {}]
_WRONG = [None, True, 1, 1.5, "x", "", [], {}, ["x"], {"a": "b"}, "__INF__"]


@st.composite
def _near_canonical(draw: st.DrawFn) -> str:
    """Text in or next to the two forms Aether writes a UTC timestamp in (the C decoder
    reads those itself): any two-digit field, which may name no day or time, and one
    character anywhere replaced."""
    fields = [draw(st.integers(0, 9999))] + [draw(st.integers(0, 99)) for _ in range(5)]
    fraction = draw(st.sampled_from(["", ".000000", ".999999", ".12345", ".1234567"])
                    | st.from_regex(r"\.[0-9]{6}", fullmatch=True))
    stamp = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}".format(*fields) + fraction + "Z"
    if draw(st.booleans()):
        stamp = draw(_utc).isoformat().replace("+00:00", "Z")
    if draw(st.booleans()):
        index = draw(st.integers(0, len(stamp) - 1))
        stamp = stamp[:index] + draw(st.sampled_from("0159-:.TtZz +\u0660")) + stamp[index + 1:]
    return stamp


def _mutate(draw: st.DrawFn, document: dict[str, Any]) -> None:
    what = draw(st.sampled_from(["drop", "extra", "reorder", "wrong", "version", "timestamp",
                                 "name", "metadata", "data"]))
    field = draw(st.sampled_from(_FIELDS))
    if what == "drop":
        document.pop(field, None)
    elif what == "extra":
        document[draw(st.sampled_from(["extra", "ID", "id "]))] = 1
    elif what == "reorder":
        items = list(document.items())
        document.clear()
        document.update(draw(st.permutations(items)))
    elif what == "wrong":
        document[field] = draw(st.sampled_from(_WRONG))
    elif what == "version":
        document["version"] = draw(st.sampled_from([0, -1, 1, MAX_JSON_INT, 2**63, 2**64,
                                                     -(2**63), 10**30, 1.0, True, "1"]))
    elif what == "timestamp":
        document["timestamp"] = draw(st.one_of(st.sampled_from(_STAMPS), _near_canonical()))
    elif what == "name":
        document[draw(st.sampled_from(_FIELDS[:3]))] = draw(st.one_of(
            st.sampled_from(_ODD_TEXT), _WORD, st.text(max_size=8)))
    elif what == "metadata":
        document["metadata"] = draw(st.sampled_from(_ODD_METADATA))
    else:
        document["data"] = draw(st.sampled_from(_ODD_DATA))


_unicode_json = st.recursive(
    st.one_of(_LEAVES, st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=12)


@st.composite
def _records(draw: st.DrawFn) -> tuple[bytes, Event | None]:
    """An event's JSON, and the event when the JSON is Aether's own encoding of it."""
    event = Event(
        id=draw(_WORD), event_type=draw(st.sampled_from(["Placed", "Shipped", "x" * 256])),
        actor_id=draw(st.one_of(st.sampled_from(["order-1", "é"]), _WORD)),
        version=draw(st.integers(1, MAX_JSON_INT)),
        data=draw(st.dictionaries(st.text(max_size=6), _unicode_json, max_size=5)),
        timestamp=draw(st.one_of(_utc, _utc, st.datetimes(timezones=st.sampled_from(
            [timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(minutes=1))])))),
        metadata=draw(st.dictionaries(st.text(max_size=6), st.text(max_size=8), max_size=3)))
    raw = encode_record(event)
    changes = draw(st.integers(0, 3))
    if not changes:
        return raw, event
    document = json.loads(raw)
    for _ in range(changes):
        _mutate(draw, document)
    text = json.dumps(document, ensure_ascii=draw(st.booleans()), separators=(",", ":"))
    if draw(st.integers(0, 9)) == 3:  # a key given twice: the parser keeps the last
        text = text[:-1] + "," + json.dumps(draw(st.sampled_from(_FIELDS))) + ":" + json.dumps(
            draw(st.sampled_from(_WRONG))) + "}"
    return text.replace('"__INF__"', "1e400").encode("utf-8", "surrogatepass"), None


def _decoded(raw: bytes, check: bool) -> tuple[str, Any]:
    return _outcome(lambda: decode_record(Event, raw, stored=not check))


@_EXAMPLES
@given(record=_records(), check=st.booleans(), python_first=st.booleans())
def test_decode_event_builds_what_the_python_decoder_builds(
        record: tuple[bytes, Event | None], check: bool, python_first: bool) -> None:
    raw, original = record

    def python() -> tuple[str, Any]:
        with _python_only():
            return _decoded(raw, check)

    expected = python() if python_first else None
    try:
        fields = from_json(raw)
    except ValueError:
        fields = None
    decoded = NATIVE.decode_event(fields, check) if type(fields) is dict else None
    expected = expected or python()
    if decoded is None:
        if type(fields) is dict:  # declined: left exactly as parsed
            assert _shape(fields, ids=False) == _shape(from_json(raw), ids=False)
    else:
        assert type(decoded) is Event
        assert expected[0] == "built"
        assert _built(decoded) == expected[1]
        assert decoded._aether_checked is check
        _assert_frozen(decoded)
        if original is not None:
            assert decoded == original and encode_record(decoded) == raw
    assert _decoded(raw, check) == expected  # decode_record as Aether runs it, C first


# --- decode_event on what from_json never gives ---------------------------------------

_RAW = encode_record(Event(id="e-1", event_type="Placed", actor_id="order-1", version=3,
                           data={"n": 1, "l": [1, {"x": "é"}]}, metadata={"c": "d"},
                           timestamp=datetime(2026, 1, 1, tzinfo=UTC)))


def _fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = from_json(_RAW)
    fields.update(changes)
    return fields


@_EXAMPLES
@given(stamp=_near_canonical(), check=st.booleans())
def test_decode_event_reads_timestamps_as_fromisoformat_does(stamp: str, check: bool) -> None:
    try:
        expected: datetime | None = datetime.fromisoformat(stamp)
    except ValueError:
        expected = None
    decoded = NATIVE.decode_event(_fields(timestamp=stamp), check)
    if expected is None or expected.tzinfo is not UTC:
        assert decoded is None  # the Python decoder says what is wrong, or reads the offset
    else:
        assert decoded is not None  # Aether's own forms are read in C
        assert type(decoded.timestamp) is datetime and decoded.timestamp.tzinfo is UTC
        assert decoded.timestamp == expected and decoded.timestamp.fold == expected.fold


class Hostile(str):
    """A key equal to and hashed like the text it holds, counting every comparison and
    hash (Python code the C builders must never run: they take exact text only)."""

    calls = 0

    def __eq__(self, other: object) -> bool:
        Hostile.calls += 1
        return str(self) == other

    def __hash__(self) -> int:
        Hostile.calls += 1
        return hash(str(self))


def _declines(fields: dict[Any, Any], check: bool = True) -> None:
    before = _shape(fields)
    Hostile.calls = 0
    assert NATIVE.decode_event(fields, check) is None
    assert Hostile.calls == 0
    assert _shape(fields) == before


def _hostile_key_fields() -> dict[str, Any]:
    fields = {Hostile(key) if key == "metadata" else key: value
              for key, value in _fields().items()}
    return fields


def test_decode_event_declines_keys_and_containers_from_json_never_gives() -> None:
    data_cycle: dict[str, Any] = {"n": 1}
    data_cycle["self"] = data_cycle
    list_cycle: list[Any] = [1]
    list_cycle.append(list_cycle)
    fields_cycle = _fields()
    fields_cycle["data"] = {"fields": fields_cycle}
    for check in (True, False):
        keyed: dict[Any, Any] = {key: value for key, value in _fields().items()
                                  if key != "metadata"}
        _declines({**keyed, 1: {}}, check)
        _declines(_hostile_key_fields(), check)
        _declines(_fields(data={Hostile("k"): 1}), check)
        _declines(_fields(data={"a": {Hostile("k"): [1]}}), check)
        _declines(_fields(data={"a": [{1: 2}]}), check)
        _declines(_fields(metadata={Hostile("c"): "d"}), check)
        _declines(_fields(metadata={1: "d"}), check)
        _declines(_fields(data=Mapping(n=1)), check)
        _declines(_fields(metadata=Mapping(c="d")), check)
        _declines(_fields(data={"a": Mapping(n=1)}), check)
        _declines(_fields(data={"a": Sequence([1])}), check)
        _declines(_fields(data={"t": (1, 2)}), check)
        _declines(_fields(data={"a": [Text("x")]}), check)
        _declines(Mapping(_fields()), check)
        shared = {"c": "d"}
        _declines(_fields(data=shared, metadata=shared), check)
        _declines(_fields(data=data_cycle), check)
        _declines(_fields(data={"l": list_cycle}), check)
        _declines(fields_cycle, check)


@pytest.mark.parametrize("check", [True, False])
def test_decode_event_builds_correct_events_from_shared_containers(check: bool) -> None:
    """Containers met twice (never in from_json's output, as a caller's dict may share
    them) give the event their values would give: equal, encoded alike, frozen."""
    shared_list = [1, {"x": "y"}]
    shared_meta = {"c": "d"}
    cases = [_fields(data={"a": shared_list, "b": shared_list, "c": [shared_list]}),
             _fields(data={"m": shared_meta}, metadata=shared_meta)]
    for fields in cases:
        plain = json.loads(json.dumps(fields))
        decoded = NATIVE.decode_event(fields, check)
        assert decoded is not None
        expected = Event.model_validate(plain)
        assert decoded == expected
        assert typed(decoded.model_dump()) == typed(expected.model_dump())
        assert _kinds(decoded.data) == _kinds(expected.data)
        assert encode_record(decoded) == encode_record(expected)
        _assert_frozen(decoded)


def test_wrong_arguments_raise_type_error() -> None:
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    fill_args = [object.__new__(Event), "e", "Placed", "order-1", 1, {}, stamp, {}]
    calls: list[Callable[[], object]] = [
        lambda: NATIVE.decode_event(), lambda: NATIVE.decode_event(_fields()),
        lambda: NATIVE.decode_event(_fields(), True, 1),
        lambda: NATIVE.decode_event([], True), lambda: NATIVE.decode_event(None, True),
        lambda: NATIVE.decode_event(_RAW, True),
        lambda: NATIVE.decode_event(fields=_fields(), check=True),
        lambda: NATIVE.fill_event(*fill_args[:7]),
        lambda: NATIVE.fill_event(*fill_args, True),
        lambda: NATIVE.fill_event(*fill_args[:7], metadata={}),
        lambda: NATIVE.fill_event(object(), *fill_args[1:]),
        lambda: NATIVE.configure()]
    for call in calls:
        with pytest.raises(TypeError):
            call()


# --- the common case, references, configure ---------------------------------------------

_STAMP = datetime(2026, 1, 1, tzinfo=UTC)
_CALL: tuple[Any, ...] = ("e-1", "Placed", "order-1", 3, {"n": 1, "l": [1, {"x": "y"}]}, _STAMP,
                         {"c": "d"})


def _fill(*values: Any) -> Event | None:
    event = object.__new__(Event)
    return event if NATIVE.fill_event(event, *values) else None


def test_the_common_case_is_built_in_c() -> None:
    """The comparisons above hold C to Python where C answers; it must answer for what
    Aether builds and reads all day, or they would compare nothing."""
    expected = Event(**dict(zip(_FIELDS, _CALL, strict=True)))  # remembers the names
    assert _fill(*_CALL) == expected
    absent = _fill(*_CALL[:4], ABSENT, _STAMP, ABSENT)
    assert absent is not None and absent.data is records._NOTHING
    assert absent.metadata is records._NOTHING
    assert absent.model_fields_set == set(_FIELDS) - {"data", "metadata"}
    for check in (True, False):
        decoded = NATIVE.decode_event(from_json(encode_record(expected)), check)
        assert decoded == expected and decoded._aether_checked is check
        assert type(decoded.data["l"][1]) is FrozenDict  # non-ASCII text too: it is parsed
    ascii_names = _fields(actor_id="never-seen-before", event_type="NeverSeen", data={})
    assert NATIVE.decode_event(ascii_names, True).data is records._NOTHING  # checked in C
    unseen = _fields(actor_id="jamais-vu-é", data={})
    assert NATIVE.decode_event(unseen, True) is None  # other text unremembered: Python decides
    assert NATIVE.decode_event(unseen, False).data is records._NOTHING


class _Probe:
    """Weakly referenced to tell whether a cycle holding it was collected."""


def test_events_and_their_frozen_data_are_left_out_of_the_cyclic_gc() -> None:
    """As CPython does for a plain dict or tuple of scalars: nothing to walk in every
    collection, however many events an application holds (the store's, the decoded ones).
    Data changed against FrozenDict's refusal is tracked again by dict's own insert, and a
    cycle made that way is collected once its event is gone."""
    Event(**dict(zip(_FIELDS, _CALL, strict=True)))  # remembers the names
    flat = _fill(*_CALL[:4], {"n": 1, "s": "t", "f": 1.5, "b": True, "z": None}, _STAMP,
                 {"c": "d"})
    nested = _fill(*_CALL)
    bare = _fill(*_CALL[:4], ABSENT, _STAMP, ABSENT)
    decoded = NATIVE.decode_event(from_json(_RAW), True)
    for event in (flat, nested, bare, decoded):
        assert event is not None
        _assert_untracked(event)
    tracked = len(gc.get_objects())
    held = [_fill(*_CALL) for _ in range(1000)]
    assert len(gc.get_objects()) - tracked < 10  # the list holding them, not 1,000 events
    assert flat is not None
    probe = _Probe()
    alive = weakref.ref(probe)
    cycle: Any = [flat.data, probe]
    dict.__setitem__(flat.data, "cycle", cycle)  # what FrozenDict refuses itself
    assert gc.is_tracked(flat.data)
    del flat, probe, cycle, held
    gc.collect()
    assert alive() is None


def _growth(run: Callable[[], object], watched: list[object], rounds: int) -> list[int]:
    """How much each watched object's reference count, the tracked objects and the traced
    memory grew over ``rounds`` calls of ``run`` (after a warm-up)."""
    for _ in range(50):
        run()
    gc.collect()
    counts = [sys.getrefcount(value) for value in watched]
    objects = len(gc.get_objects())
    tracemalloc.start()
    try:
        memory = tracemalloc.get_traced_memory()[0]
        for _ in range(rounds):
            run()
        gc.collect()
        memory = tracemalloc.get_traced_memory()[0] - memory
    finally:
        tracemalloc.stop()
    return [sys.getrefcount(value) - count for value, count in zip(watched, counts,
                                                                    strict=True)] + [
        len(gc.get_objects()) - objects, memory // 64]


def _raises_type_error(call: Callable[..., object], *args: Any) -> None:
    with pytest.raises(TypeError):
        call(*args)


def test_no_path_leaks_a_reference() -> None:
    """Every path, 2,000 times: a leaked (or over-released) reference per call would show
    as 2,000 on its object, a leaked object as 2,000 more tracked objects or more than
    128 KB of memory."""
    Event(**dict(zip(_FIELDS, _CALL, strict=True)))  # remembers the names
    data, metadata = _CALL[4], _CALL[6]
    raws = [_RAW, encode_record(Event(**dict(zip(_FIELDS, _CALL, strict=True))))]
    odd = _RAW.replace(b'"n":1', b'"n":1e400')
    paths: list[Callable[[], object]] = [
        lambda: _fill(*_CALL), lambda: _fill(*_CALL[:4], ABSENT, _STAMP, ABSENT),
        lambda: _fill(*_CALL[:4], {"n": float("nan")}, _STAMP, metadata),
        lambda: _fill(*_CALL[:4], data, _STAMP, {"c": "é"}),
        lambda: _fill(*_CALL[:4], {"deep": _NESTED[2]["deep"]}, _STAMP, metadata),
        lambda: _fill("e-1", "Placed", "order-1", 2**64, data, _STAMP, metadata),
        lambda: _raises_type_error(NATIVE.fill_event, object(), *_CALL),
        *[lambda raw=raw, check=check: NATIVE.decode_event(from_json(raw), check)
          for raw in (*raws, odd) for check in (True, False)],
        lambda: NATIVE.decode_event(_fields(metadata={"c": 1}), True),
        lambda: NATIVE.decode_event(_fields(timestamp="2026-01-01T00:00:00+05:30"), True),
        lambda: NATIVE.decode_event(_fields(timestamp="yesterday"), True),
    ]
    watched: list[object] = [Event, FrozenDict, FrozenList, records._NOTHING, ABSENT, UTC,
                             *records._EVENT_GIVEN.values(), *_CALL, True, False]
    for index, run in enumerate(paths):
        growth = _growth(run, watched, 2000)
        assert all(abs(change) < 500 for change in growth[:-1]), (index, growth)
        assert growth[-1] < 2000, (index, growth)


def _configuration() -> list[Any]:
    """configure's arguments as records.native_builders(Event) passes them."""
    return [Event, ABSENT, records._NOTHING, UTC, limits.FIT_TYPES, limits.FIT_ACTORS,
            FrozenDict, FrozenList,
            tuple(records._EVENT_GIVEN[data, metadata] for data in (False, True)
                  for metadata in (False, True)),
            tuple(vars(owner)[name] for owner, name in (
                (BaseModel, "__dict__"), (BaseModel, "__pydantic_fields_set__"),
                (BaseModel, "__pydantic_extra__"), (BaseModel, "__pydantic_private__"),
                (records.RecordSlots, "_aether_json"), (records.RecordSlots, "_aether_checked"))),
            limits.MAX_EVENT_ID_BYTES, limits.MAX_EVENT_TYPE_BYTES, limits.MAX_ACTOR_ID_BYTES,
            MAX_JSON_DEPTH]


class Loose(dict[str, Any]):
    """A dict subclass with an instance dict: not the layout freeze_parsed retypes."""


def _behaviour() -> tuple[Any, ...]:
    deep = {"deep": _NESTED[0]["deep"]}  # within the limit: declined if it were lowered
    return (_fill(*_CALL), _fill(*_CALL[:4], ABSENT, _STAMP, ABSENT), _fill(
        *_CALL[:4], deep, _STAMP, ABSENT), _built(NATIVE.decode_event(from_json(_RAW), True)))


def test_a_refused_configure_leaves_the_builders_as_they_were() -> None:
    """Each call has one wrong argument and otherwise different, valid ones (another
    record class, sentinel, empty data, empty name sets, a depth limit of 2): had any of
    them replaced what the module holds, the builders would behave differently."""
    Event(**dict(zip(_FIELDS, _CALL, strict=True)))  # remembers the names
    before = _behaviour()
    assert None not in before
    decoy = _configuration()
    decoy[:6] = [ActorSnapshot, object(), FrozenDict(), timezone(timedelta(0), "Z"), set(),
                 set()]
    decoy[-4:] = [8, 3, 4, 2]
    wrong: list[tuple[int, Any]] = [
        (0, 1), (4, list(limits.FIT_TYPES)), (5, frozenset()), (6, Loose), (6, list),
        (7, tuple), (7, FrozenDict), (8, decoy[8][:3]), (8, list(decoy[8])),
        (9, (*decoy[9][:5], 1)), (9, decoy[9][:5]), (10, 0), (10, "256"), (11, 0), (11, -1),
        (12, 0), (12, "512"), (13, 0), (13, 1.5)]
    try:
        for index, value in wrong:
            arguments = [*decoy[:index], value, *decoy[index + 1:]]
            with pytest.raises(TypeError):
                NATIVE.configure(*arguments)
            assert _behaviour() == before, (index, value)
        with pytest.raises(TypeError):
            NATIVE.configure(*decoy[:-1])
        assert _behaviour() == before
    finally:
        records.native_builders(Event)  # had one been accepted, the next tests need it back


def test_new_ids_are_canonical_and_every_random_bit_varies() -> None:
    # 2,000 ids of 16 bytes read the pool of 256 bytes again 125 times.
    event_ids = [NATIVE.new_event_id() for _ in range(2000)]
    command_ids = [NATIVE.new_command_id() for _ in range(2000)]
    assert len(set(event_ids)) == len(set(command_ids)) == 2000
    for event_id in event_ids:
        parsed = UUID(event_id)
        assert (str(parsed), parsed.version, parsed.variant) == (event_id, 4, RFC_4122)
    for command_id in command_ids:
        assert len(command_id) == 32 and command_id == f"{int(command_id, 16):032x}"
    # A bit stuck at 0 or 1 (a pool handed out twice, a cleared byte) shows here.
    every = (1 << 128) - 1
    fixed = UUID("00000000-0000-4000-8000-000000000000").int  # the version and variant bits
    fixed_mask = UUID("00000000-0000-f000-c000-000000000000").int
    numbers = [UUID(event_id).int for event_id in event_ids]
    assert reduce(operator.or_, numbers) == every & ~fixed_mask | fixed
    assert reduce(operator.and_, numbers) == fixed
    numbers = [int(command_id, 16) for command_id in command_ids]
    assert (reduce(operator.or_, numbers), reduce(operator.and_, numbers)) == (every, 0)


def test_a_forked_child_makes_other_ids_than_its_parent() -> None:
    NATIVE.new_event_id()  # the pool is read, most of it not handed out yet
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its ids to the parent, and nothing else
        try:
            ids = [NATIVE.new_event_id() for _ in range(20)]
            ids += [NATIVE.new_command_id() for _ in range(20)]
            os.write(write, " ".join(ids).encode())
        finally:
            os._exit(0)
    os.close(write)
    parent = {NATIVE.new_event_id() for _ in range(20)}
    parent |= {NATIVE.new_command_id() for _ in range(20)}
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    assert os.waitpid(pid, 0)[1] == 0
    assert len(child) == 40
    assert not parent & child


SHIM = """\
#include <errno.h>
#include <stddef.h>
int getentropy(void *buffer, size_t length) { (void)buffer; (void)length; errno = ENOSYS;
                                               return -1; }
"""


def test_ids_are_made_where_the_kernel_lacks_getentropy(tmp_path: Path) -> None:
    """Kernels before 3.17 have no getrandom, so glibc's getentropy fails with ENOSYS; a real
    process whose getentropy does so (a library preloaded in front of glibc's) still makes
    every id, through os.urandom (which reads /dev/urandom there)."""
    (tmp_path / "shim.c").write_text(SHIM)
    shim = tmp_path / "shim.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(shim), str(tmp_path / "shim.c")],
                   check=True)
    script = (
        "import errno\n"
        "from uuid import UUID\n"
        "from aether import records\n"
        "from aether.command import command_metadata\n"
        "from aether.testing.counters import Increment\n"
        "from aether.store import InMemoryEventStore\n"
        "try:\n"
        "    records.NATIVE.new_event_id()\n"
        "except OSError as error:\n"
        "    assert error.errno == errno.ENOSYS, error\n"
        "else:\n"
        "    raise SystemExit('getentropy did not fail: the shim was not used')\n"
        "ids = {records.new_event_id() for _ in range(100)}\n"
        "assert len(ids) == 100 and all(UUID(i).version == 4 for i in ids)\n"
        "assert len(command_metadata('c-1', Increment(), None)['command_id']) == 32\n"
        "assert records.new_event_id is records._python_event_id\n"
        "print('made')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "LD_PRELOAD": str(shim)}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "made\n"
