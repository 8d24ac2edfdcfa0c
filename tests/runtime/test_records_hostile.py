"""Hostile input against the quick paths' shortcuts (aether/records.py decode_event and
fill_event, aether/jsondata.py freeze_parsed and the quick walk): whatever arrives, they
accept, refuse and build exactly what pydantic's validation does (``Event.model_validate_json``
with and without the STORED context, ``Event.model_validate``).

The payloads are written as JSON text, not through json.dumps, so they can hold what no
encoder writes: escapes of lone surrogates, number literals past 64 bits or past a float's
range (1e400), NaN, duplicate keys, nesting at and past the limit, bytes that are not UTF-8.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic_core import from_json

from aether import ActorSnapshot, Event
from aether.event import STORED, decode_record
from aether.jsondata import _freeze_exactly, freeze_json
from aether.limits import MAX_JSON_DEPTH
from aether.testing import make_event, strategies
from aether.testing.conformance.store_limits import typed

_ESCAPES = st.one_of(
    st.sampled_from([r"\ud800", r"\udbff", r"\udc00", r"\udfff", r"\ud83d\ude00",
                     r"\ud800\ud800", r"\udc00\ud800", r"\ud800\u0041", r"\u0000", r"\u001f",
                     r"\u00e9", r"\uffff", r"\n", r"\"", r"\\", r"\/", r"\t", r"\x", r"\u12"]),
    st.integers(0, 0xFFFF).map(lambda code: f"\\u{code:04x}"),
    st.integers(0xD800, 0xDFFF).map(lambda code: f"\\u{code:04X}"),
)
_CHARS = st.one_of(
    st.characters(codec="utf-8", exclude_characters='"\\', exclude_categories=["Cc"]),
    st.sampled_from(["\x7f", " ", "é", "🙂", "\u202e", "\ufeff", "\x85"]),
)
_RAW_CONTROL = st.sampled_from(["\x00", "\x1f", "\n"])  # not allowed unescaped in JSON


def _string(draw: st.DrawFn) -> str:
    """A JSON string literal, escapes of every kind included (some invalid). Mostly valid,
    so that most payloads get past the parser to the checks behind it."""
    hostile = draw(st.integers(0, 5))
    parts = st.one_of(_CHARS, _ESCAPES, _RAW_CONTROL) if hostile == 3 else _CHARS
    return '"' + "".join(draw(st.lists(parts, max_size=5))) + '"'


_strings = st.composite(_string)()


_NUMBERS = st.one_of(
    st.sampled_from([
        "0", "-0", "-0.0", "0.0", "1.0", "2E+2", "1e308", "1.7976931348623157e308", "1.8e308",
        "1e400", "-1e400", "5e-324", "1e-400", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "-9223372036854775809", "1" + "0" * 400, "1" + "0" * 400 + ".0",
        "0." + "0" * 30 + "1", "NaN", "Infinity", "-Infinity", "012", "1.", ".5", "+1",
    ]),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)


@st.composite
def _json_text(draw: st.DrawFn, depth: int = 0) -> str:
    """A JSON value as text: scalars of every hostile kind, containers with duplicate and
    non-ASCII keys."""
    pick = draw(st.integers(0, 6 if depth < 3 else 3))
    if pick == 0:
        return _string(draw)
    if pick == 1:
        return draw(_NUMBERS)
    if pick == 2:
        return draw(st.sampled_from(["true", "false", "null"]))
    if pick == 3:
        return draw(st.sampled_from(['"plain"', "1", "2.5", "[]", "{}"]))
    if pick == 4:
        items = draw(st.lists(_json_text(depth + 1), max_size=3))
        return "[" + ",".join(items) + "]"
    return _object(draw, depth)


def _object(draw: st.DrawFn, depth: int) -> str:
    pool = draw(st.lists(st.one_of(st.sampled_from(['"a"', '"é"', '"🙂"', '""']),
                                   _strings), min_size=1, max_size=3))
    members = draw(st.lists(st.tuples(st.sampled_from(pool), _json_text(depth + 1)),
                            max_size=4))  # keys from a small pool: duplicates happen
    return "{" + ",".join(f"{key}:{value}" for key, value in members) + "}"


def _nested(levels: int, dicts: bool, last: str = "") -> str:
    """Data nested ``levels`` deep (the data mapping itself is level 1): mappings or lists,
    the deepest one of the other kind when ``last`` is "other"."""
    inner = '"bottom"'
    for level in range(levels - 1):
        mapping = dicts != (level == 0 and last == "other")
        inner = '{"k":' + inner + "}" if mapping else "[" + inner + "]"
    return '{"deep":' + inner + "}"


_DEEP = [_nested(levels, dicts, last) for levels in (MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH,
                                                     MAX_JSON_DEPTH + 1, 150)
         for dicts in (False, True) for last in ("", "other")]


_STAMPS = ["2026-01-01T00:00:00", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+05:30",
           "2026-01-01T00:00:00-00:01", "2026-01-01T00:00:00+00:00:30",
           "2026-01-01T00:00:00+01:00:00.5", "2026-01-01", "2026-01-01T00:00:00.123456789Z",
           "2026-13-01T00:00:00Z", "yesterday", ""]
_NAMES = ["", " ", " a", "a ", "a\n", "a\tb", "é", "🙂", "\x7f", "\x85", "a\u2003", "\u200b",
          "x" * 256, "x" * 257, "x" * 512, "x" * 513, "é" * 128, "é" * 129, "é" * 256,
          "é" * 257, "🙂" * 128, "🙂" * 129, "a.b", "*", ">"]


def _envelope(**fields: str) -> str:
    """An event's JSON with some members' text replaced (a value of None drops one)."""
    event = make_event("actor-1", 3, note="n")
    members = {key: json.dumps(value) for key, value in
               json.loads(event.model_dump_json()).items()}
    members.update(fields)
    return "{" + ",".join(f'"{key}":{value}' for key, value in members.items()
                          if value != "DROP") + "}"


@st.composite
def _hostile_payloads(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        text = _envelope(data=draw(_json_text(1)))
    elif kind == 1:
        text = _envelope(data=draw(st.sampled_from(_DEEP)))
    elif kind == 2:
        text = _envelope(metadata=_object(draw, 1))
    elif kind == 3:  # one field of the envelope replaced, or dropped
        field = draw(st.sampled_from(["id", "event_type", "actor_id", "version", "timestamp",
                                      "data", "metadata"]))
        text = _envelope(**{field: draw(st.one_of(_json_text(1), st.just("DROP")))})
    elif kind == 4:  # duplicate envelope keys: the parser keeps the last
        field = draw(st.sampled_from(["id", "version", "data", "metadata", "timestamp"]))
        text = _envelope()[:-1] + f',"{field}":{draw(_json_text(1))}' + "}"
    elif kind == 5:  # text fields written with escapes of every kind
        field = draw(st.sampled_from(["id", "event_type", "actor_id", "timestamp"]))
        text = _envelope(**{field: _string(draw)})
    elif kind == 6:
        text = _envelope(data='{"' + draw(st.text(_CHARS, max_size=4)).replace('"', "")
                         + '":1}', extra="1" if draw(st.booleans()) else "DROP")
    elif kind == 7:
        text = _envelope(data=draw(_json_text(1)), metadata=_object(draw, 1))
    elif kind == 8:
        text = _envelope(timestamp=json.dumps(draw(st.sampled_from(_STAMPS))))
    else:
        field = draw(st.sampled_from(["id", "event_type", "actor_id"]))
        text = _envelope(**{field: json.dumps(draw(st.sampled_from(_NAMES)))})
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 19)) == 7:  # bytes that are not UTF-8 (or not JSON) anywhere
        at = draw(st.integers(0, len(raw)))
        junk = draw(st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80", b"\x00"]))
        raw = raw[:at] + junk + raw[at:]
    return raw


def _outcome(build: Any) -> tuple[str, Any]:
    """The error (kind and text), or the record with every value's type, its JSON (key
    order, -0.0) and whether its limits were checked."""
    try:
        record = build()
    except Exception as error:  # pydantic's ValidationError or InvalidEventError
        return type(error).__name__, str(error)
    return "built", (record, typed(record.model_dump()), record.model_dump_json(),
                     record.model_fields_set, record._aether_checked)


@settings(deadline=None, max_examples=300)
@given(raw=_hostile_payloads(), stored=st.booleans())
@example(raw=_envelope(data='{"big":9223372036854775808}').encode(), stored=True)
@example(raw=_envelope(data='{"big":9223372036854775808}').encode(), stored=False)
@example(raw=_envelope(data='{"inf":1e400}').encode(), stored=True)
@example(raw=_envelope(data='{"nan":NaN}').encode(), stored=True)
@example(raw=_envelope(data='{"z":-0.0,"z":0}').encode(), stored=False)
@example(raw=_envelope(data=_nested(MAX_JSON_DEPTH, False)).encode(), stored=False)
@example(raw=_envelope(data=_nested(MAX_JSON_DEPTH + 1, True)).encode(), stored=False)
@example(raw=_envelope(data=_nested(MAX_JSON_DEPTH + 1, True)).encode(), stored=True)
@example(raw=_envelope(data='{"s":"\\ud800"}').encode(), stored=True)
@example(raw=_envelope(id='"caf\\u00e9"').encode(), stored=False)
@example(raw=_envelope(timestamp='"2026-01-01T00:00:00+00:00:30"').encode(), stored=False)
@example(raw=_envelope(timestamp='"2026-01-01T00:00:00+00:00:30"').encode(), stored=True)
def test_hostile_payloads_decode_like_model_validate_json(raw: bytes, stored: bool) -> None:
    _assert_decodes_alike(raw, stored)


def _assert_decodes_alike(raw: bytes, stored: bool) -> None:
    context = {STORED: True} if stored else None
    quick = _outcome(lambda: decode_record(Event, raw, stored=stored))
    exact = _outcome(lambda: Event.model_validate_json(raw, context=context))
    assert quick == exact, (raw, stored)


def _snapshot(**fields: str) -> str:
    """A snapshot's JSON with some members' text replaced ("DROP" drops one)."""
    snapshot = ActorSnapshot(actor_id="actor-1", version=3, state={"n": 1},
                             timestamp=datetime.now(UTC))
    members = {key: json.dumps(value) for key, value in
               json.loads(snapshot.model_dump_json()).items()}
    members.update(fields)
    return "{" + ",".join(f'"{key}":{value}' for key, value in members.items()
                          if value != "DROP") + "}"


@st.composite
def _hostile_snapshots(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        text = _snapshot(state=draw(_json_text(1)))
    elif kind == 1:
        text = _snapshot(state=draw(st.sampled_from(_DEEP)))
    elif kind == 2:
        field = draw(st.sampled_from(["actor_id", "version", "timestamp", "state"]))
        text = _snapshot(**{field: draw(st.one_of(_json_text(1), st.just("DROP")))})
    else:
        text = _snapshot(actor_id=json.dumps(draw(st.sampled_from(_NAMES))),
                         timestamp=json.dumps(draw(st.sampled_from(_STAMPS))))
    return text.encode("utf-8", "surrogatepass")


@settings(deadline=None, max_examples=150)
@given(raw=_hostile_snapshots(), stored=st.booleans())
@example(raw=_snapshot(state='{"big":9223372036854775808}').encode(), stored=True)
@example(raw=_snapshot(state='{"big":9223372036854775808}').encode(), stored=False)
@example(raw=_snapshot(state='{"inf":1e400}').encode(), stored=True)
@example(raw=_snapshot(state=_nested(MAX_JSON_DEPTH + 1, True)).encode(), stored=True)
@example(raw=_snapshot(state=_nested(MAX_JSON_DEPTH + 1, False)).encode(), stored=False)
def test_hostile_snapshots_decode_like_model_validate_json(raw: bytes, stored: bool) -> None:
    context = {STORED: True} if stored else None
    quick = _outcome(lambda: decode_record(ActorSnapshot, raw, stored=stored))
    exact = _outcome(lambda: ActorSnapshot.model_validate_json(raw, context=context))
    assert quick == exact, (raw, stored)


@settings(deadline=None, max_examples=300)
@given(literal=_strings)
def test_the_parser_never_gives_text_without_a_utf8_form(literal: str) -> None:
    """freeze_parsed takes parsed text as it is: a lone surrogate (which has no UTF-8 form and
    Event refuses) must never come out of the parser, escaped or not."""
    raw = ("[" + literal + "]").encode("utf-8", "surrogatepass")
    try:
        parsed = from_json(raw)
    except ValueError:
        return
    parsed[0].encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate


@pytest.mark.parametrize("literal", ["1e400", "-1e400", "1" + "0" * 400 + ".0"])
def test_the_parser_turns_float_overflow_into_infinity_which_is_refused(literal: str) -> None:
    """Why freeze_parsed checks every float: the parser gives infinity for these, even with
    allow_inf_nan=False, and JSON has no infinity to read back."""
    assert from_json(("[" + literal + "]").encode(), allow_inf_nan=False)[0] in (
        float("inf"), float("-inf"))
    raw = _envelope(data='{"x":' + literal + "}").encode()
    for stored in (False, True):
        with pytest.raises(Exception, match="finite"):
            decode_record(Event, raw, stored=stored)


def test_names_and_timestamps_at_every_edge_decode_like_model_validate_json() -> None:
    """Each limit on an id, type, actor id and timestamp offset, just inside and just past
    it, in ASCII and beyond: every one of them, not a sample."""
    payloads = [_envelope(**{field: json.dumps(name)}) for name in _NAMES
                for field in ("id", "event_type", "actor_id")]
    payloads += [_envelope(timestamp=json.dumps(stamp)) for stamp in _STAMPS]
    for text in payloads:
        _assert_decodes_alike(text.encode(), stored=False)
        _assert_decodes_alike(text.encode(), stored=True)


_ODD_ZONES = [UTC, timezone(timedelta(0)), timezone(timedelta(0), "Z"),
              timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(seconds=30)),
              timezone(timedelta(microseconds=1)), timezone(-timedelta(hours=23, minutes=59)),
              ZoneInfo("Europe/Paris"), None]


class _Text(str):
    pass


def _deep(levels: int, dicts: bool = False) -> dict[str, Any]:
    return json.loads(_nested(levels, dicts))  # type: ignore[no-any-return]


_EDGE_DATA: list[Any] = [
    {}, {"n": 2**63 - 1}, {"n": 2**63}, {"n": -(2**63)}, {"n": -(2**63) - 1}, {"f": -0.0},
    {"f": float("nan")}, {"f": float("inf")}, {"b": True}, {"s": "\ud800"}, {"\udc00": 1},
    {"é🙂": "é🙂"}, {1: 2}, {"t": (1, 2)}, {"s": _Text("x")}, {_Text("k"): 1},
    _deep(MAX_JSON_DEPTH), _deep(MAX_JSON_DEPTH + 1), _deep(MAX_JSON_DEPTH, dicts=True),
    _deep(MAX_JSON_DEPTH + 1, dicts=True), {"l": [[1, {"x": [2**64]}]]}, [1], None,
]
_EDGE_METADATA: list[Any] = [{}, {"a": "b"}, {"a": 1}, {"\ud800": "x"}, {"a": "\udfff"},
                             {1: "x"}, {"a": _Text("x")}, [], None]


def test_the_constructor_at_every_edge_decides_like_model_validate() -> None:
    """Event(...)'s quick pass (fill_event) against pydantic's validation for each limit,
    just inside and just past it: names, versions, zones and offsets, data, metadata."""
    base = make_event("actor-1", 3).model_dump()
    changes: list[dict[str, Any]] = [
        {field: name} for name in _NAMES for field in ("id", "event_type", "actor_id")]
    changes += [{"version": version} for version in (0, 1, -1, 2**63 - 1, 2**63, True, 1.0)]
    changes += [{"timestamp": datetime(2026, 3, 29, 2, 30, tzinfo=zone)} for zone in _ODD_ZONES]
    changes += [{"data": data} for data in _EDGE_DATA]
    changes += [{"metadata": metadata} for metadata in _EDGE_METADATA]
    for change in changes:
        fields = {**base, **change}
        assert _outcome(lambda: Event(**fields)) == _outcome(  # noqa: B023 (called at once)
            lambda: Event.model_validate(fields)), change  # noqa: B023


@given(data=strategies.hostile_data, check=st.booleans())
@example(data={"\ud800": 1}, check=True)
@example(data={"a": {"\udc00": [1]}}, check=False)
@example(data={"a": [2**64, "\ud800"]}, check=False)
@example(data=_deep(MAX_JSON_DEPTH + 1), check=False)
@example(data=_deep(MAX_JSON_DEPTH + 1, dicts=True), check=True)
def test_the_quick_walk_decides_like_the_exact_walk(data: dict[str, Any], check: bool) -> None:
    """freeze_json's quick walk (exact built-in types, no paths) against the exact walk that
    decides every case; both are what the constructor and pydantic's path share, so only
    this comparison can catch the quick walk keeping what it must leave to the exact one."""
    def outcome(freeze: Any) -> tuple[str, Any]:
        try:
            return "built", typed(freeze(data, "Event.data", check))
        except Exception as error:
            return type(error).__name__, str(error)

    assert outcome(freeze_json) == outcome(_freeze_exactly)
