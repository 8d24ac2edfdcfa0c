"""Values of unusual *types* against the quick paths (aether/records.py): subclasses of str,
int, dict and datetime, enum members, zones of every kind at the ends of the calendar,
frozen containers given back as input, extra and positional arguments, Event subclasses.
The strategies in aether.testing draw hostile *values* of plain types; these draw the types.

Each input is built through the constructor (the quick path first) and through
``model_validate`` (pydantic's validation alone), which must agree; and whatever is built
must read back from its JSON exactly (rule 2: the memory store and the bus hand out the
record itself, JetStream and NATS decode its JSON, so the two must be the same values of the
same types).
"""

from __future__ import annotations

import enum
import json
from collections import OrderedDict
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aether.event
from aether import ActorSnapshot, Event, EventPayload, EventRegistry, InvalidEventError, limits
from aether.event import STORED, decode_record, encode_record
from aether.jsondata import FrozenDict, FrozenList
from aether.limits import MAX_JSON_DEPTH, check_actor_id, check_event_type
from aether.records import build_events
from aether.store import InMemoryEventStore
from aether.testing import make_event
from aether.testing.conformance.store_limits import typed


class Kind(enum.StrEnum):
    PLACED = "OrderPlaced"
    SPACED = " Spaced"


class Level(enum.IntEnum):
    ONE = 1
    HUGE = 2**63


class Text(str):
    pass


class Number(int):
    pass


class Mapping(dict[str, Any]):
    pass


class Stamp(datetime):
    """What freezegun's FakeDatetime and pendulum's DateTime are: a datetime subclass."""


class Subclassed(Event):
    note: ClassVar[str] = "a subclass of Event"


def _stamp(year: int, zone: Any, cls: type[datetime] = datetime) -> datetime:
    return cls(year, 12 if year == 9999 else 1, 31 if year == 9999 else 1, 12, 0,
               tzinfo=zone)


_ZONES = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-23)),
          timezone(timedelta(seconds=1)), ZoneInfo("Asia/Tokyo"), ZoneInfo("America/St_Johns"),
          ZoneInfo("UTC"), None]
_TIMESTAMPS = st.builds(_stamp, st.sampled_from([1, 2, 1970, 2026, 9998, 9999]),
                        st.sampled_from(_ZONES), st.sampled_from([datetime, Stamp]))

_NAMES = st.sampled_from([Kind.PLACED, Kind.SPACED, Text("t"), Text(""), "plain", Text("é"),
                          Text("a\n"), Level.ONE, 1, True, None])
_VERSIONS = st.sampled_from([Level.ONE, Level.HUGE, Number(3), Number(0), True, False, 1, 2**63,
                             1.0, "1"])


def _deep(levels: int, frozen: bool) -> Any:
    inner: Any = "bottom"
    for _ in range(levels - 1):
        inner = FrozenList([inner]) if frozen else [inner]
    return FrozenDict(deep=inner) if frozen else {"deep": inner}


_LEAVES = st.sampled_from([Kind.PLACED, Level.ONE, Level.HUGE, Text("x"), Number(2**64), True,
                           -0.0, float("nan"), 2**63 - 1, "\ud800", "é"])
_DATA = st.one_of(
    st.builds(lambda key, leaf: {key: leaf}, st.sampled_from(["k", Kind.PLACED, Text("k"),
                                                              "\udc00", 1]), _LEAVES),
    st.builds(lambda leaf: FrozenDict(a=FrozenList([leaf, FrozenDict(b=leaf)])), _LEAVES),
    st.builds(lambda leaf: Mapping(a=OrderedDict(b=[leaf])), _LEAVES),
    st.sampled_from([_deep(MAX_JSON_DEPTH, True), _deep(MAX_JSON_DEPTH + 1, True),
                     _deep(MAX_JSON_DEPTH, False), _deep(MAX_JSON_DEPTH + 1, False),
                     FrozenDict(), Mapping(), OrderedDict(), None, [], FrozenList()]),
)
_METADATA = st.sampled_from([
    {}, FrozenDict(), Mapping(), Mapping(a="b"), FrozenDict(a="b"), {"a": Text("b")},
    {Kind.PLACED: "v"}, {"a": Kind.PLACED}, {"a": 1}, {"a": None}, {1: "a"}, {"é": "\ud800"},
    OrderedDict(a="b"), None, [("a", "b")],
])
_FIELDS = {"id": _NAMES, "event_type": _NAMES, "actor_id": _NAMES, "version": _VERSIONS,
           "timestamp": _TIMESTAMPS, "data": _DATA, "metadata": _METADATA}


@st.composite
def _event_fields(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = make_event("actor-1", 3, note="n").model_dump()
    for name in draw(st.lists(st.sampled_from(sorted(_FIELDS)), min_size=1, max_size=3,
                              unique=True)):
        fields[name] = draw(_FIELDS[name])
    return fields


def _outcome(build: Any) -> tuple[str, Any]:
    """The error's type, or the record with every value's type (the timestamp's and its
    zone's included), its JSON and whether its limits were checked."""
    try:
        record = build()
    except Exception as error:  # InvalidEventError, or Python's own TypeError
        return type(error).__name__, None
    stamp = record.timestamp
    return "built", (record, typed(record.model_dump()), record.model_dump_json(),
                     {name: type(value) for name, value in record.__dict__.items()},
                     type(stamp.tzinfo), stamp.utcoffset(), record._aether_checked)


def _assert_reads_back(record: Event | ActorSnapshot) -> None:
    kind: Any = type(record)
    for stored in (False, True):
        again = decode_record(kind, encode_record(record), stored=stored)
        assert _outcome(lambda: again)[1][:6] == _outcome(  # noqa: B023 (called at once)
            lambda: record)[1][:6]


@settings(max_examples=300, deadline=None)
@given(fields=_event_fields())
def test_the_constructor_decides_on_odd_types_like_pydantic_and_reads_back(
        fields: dict[str, Any]) -> None:
    built = _outcome(lambda: Event(**fields))
    assert built == _outcome(lambda: Event.model_validate(fields))
    assert _outcome(lambda: Subclassed(**fields))[0] == built[0]
    if built[0] == "built":
        _assert_reads_back(built[1][0])


@settings(max_examples=150, deadline=None)
@given(actor_id=_NAMES, version=_VERSIONS, timestamp=_TIMESTAMPS, state=_DATA)
def test_snapshots_decide_on_odd_types_like_pydantic_and_read_back(
        actor_id: Any, version: Any, timestamp: Any, state: Any) -> None:
    fields = {"actor_id": actor_id, "version": version, "timestamp": timestamp, "state": state}
    built = _outcome(lambda: ActorSnapshot(**fields))
    assert built == _outcome(lambda: ActorSnapshot.model_validate(fields))
    if built[0] == "built":
        _assert_reads_back(built[1][0])


def test_the_reference_paths_never_take_the_quick_path(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    """The comparisons above and in test_records*.py mean something only if model_validate
    and model_validate_json are pydantic's validation alone."""
    taken: list[str] = []

    def refuse(*args: Any) -> bool:
        taken.append("quick")
        return False  # so pydantic decides, as it does for anything the quick path refuses

    monkeypatch.setattr(aether.event, "_fill_native", lambda *_args: False)  # C declines
    monkeypatch.setattr(aether.event, "fill_event_fields", refuse)
    fillers: dict[Any, Any] = aether.event._FILLERS
    monkeypatch.setitem(fillers, Event, refuse)
    monkeypatch.setitem(fillers, ActorSnapshot, refuse)
    event = make_event("a", 1, note="n")
    snapshot = ActorSnapshot(actor_id="a", version=1, timestamp=datetime.now(UTC))
    assert taken == ["quick", "quick"]  # the constructors take it
    taken.clear()
    assert Event.model_validate(event.model_dump()) == event
    assert Event.model_validate_json(event.model_dump_json()) == event
    assert Event.model_validate(event.model_dump(), context={STORED: True}) == event
    assert ActorSnapshot.model_validate(snapshot.model_dump()) == snapshot
    assert ActorSnapshot.model_validate_json(snapshot.model_dump_json()) == snapshot
    assert taken == []


def test_positional_arguments_are_refused_like_pydantic_refuses_them() -> None:
    fields = make_event("a", 1).model_dump()
    builds: list[Any] = [Event, Subclassed, ActorSnapshot]
    for build in builds:
        with pytest.raises(TypeError, match="positional"):
            build(fields)


class Noted(EventPayload):
    event_type: ClassVar[str] = "Noted"
    note: str


async def test_a_datetime_subclass_reads_back_from_every_store_as_it_was_saved() -> None:
    """A clock under freezegun gives FakeDatetime: the memory store hands out the event it
    was given, a JSON store decodes a plain datetime, and the two must be the same."""
    stamp = Stamp(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    registry = EventRegistry([Noted])
    events = [registry.to_event(Noted(note="n"), "a", 1, timestamp=stamp),
              *registry.to_events([Noted(note="m")], "a", 2, timestamp=stamp),
              Event(**{**make_event("a", 3).model_dump(), "timestamp": stamp})]
    snapshot = ActorSnapshot(actor_id="a", version=3, timestamp=stamp)
    store = InMemoryEventStore()
    for event in events:
        await store.save_event(event)
    await store.save_snapshot(snapshot)
    for record in [*await store.get_events("a"), await store.get_latest_snapshot("a")]:
        assert record is not None
        assert type(record.timestamp) is datetime
        assert record.timestamp == stamp and record.timestamp.utcoffset() == timedelta(hours=2)
        _assert_reads_back(record)


_UNFIT = ["", " a", "a\n", "\ud800", "x" * 513, "é" * 257]  # as event types
_UNFIT_ACTORS = ["", "\ud800", "x" * 513, "é" * 257]  # actor ids have no header rules


@settings(max_examples=100, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["stored", "snapshot", "batch", "build",
                                                  "decode"]),
                                st.sampled_from([*_UNFIT, "fits", "Fits", "é"])),
                      min_size=1, max_size=8))
def test_only_names_that_fit_are_remembered_whatever_path_saw_them(
        steps: list[tuple[str, str]]) -> None:
    """Names get remembered (aether.limits.FIT_TYPES, FIT_ACTORS) as events are built and
    decoded; a name seen where the limits are not checked (history read back under STORED,
    a snapshot, a refused batch) must not be remembered, or a later event would be
    accepted with it without a check."""
    base = make_event("a", 1).model_dump()
    for path, name in steps:
        fields = {**base, "event_type": name, "actor_id": name}
        raw = json.dumps({**make_event("a", 1).model_dump(mode="json"), "event_type": name,
                          "actor_id": name}, ensure_ascii=False).encode("utf-8", "surrogatepass")
        try:
            if path == "stored":
                decode_record(Event, raw, stored=True)
            elif path == "snapshot":
                ActorSnapshot(actor_id=name, version=1, timestamp=datetime.now(UTC))
            elif path == "batch":
                build_events(Event, name, datetime.now(UTC), [(name, 1, {}, {})])
            elif path == "build":
                Event(**fields)
            else:
                decode_record(Event, raw, stored=False)
        except Exception:  # a refusal is fine: what was remembered is checked below
            pass
        for event_type in limits.FIT_TYPES:
            check_event_type(event_type)
        for actor_id in limits.FIT_ACTORS:
            check_actor_id(actor_id)
    for name in _UNFIT:
        with pytest.raises(InvalidEventError):
            Event(**{**base, "event_type": name})
    for name in _UNFIT_ACTORS:
        with pytest.raises(InvalidEventError):
            Event(**{**base, "actor_id": name})
