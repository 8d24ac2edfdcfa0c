from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta, timezone
from enum import IntEnum, StrEnum
from typing import Any

import pytest
from pydantic import ValidationError

from aether import (
    ActorSnapshot,
    AetherError,
    DuplicateEventIdError,
    Event,
    InvalidEventError,
    VersionConflictError,
)
from aether.event import STORED, check_batch
from aether.testing import make_event


def test_event_json_round_trip_is_exact() -> None:
    event = make_event("order-1", 3, "OrderPlaced", total=100.25, tags=["a", "b"], n=None)
    stamp = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=-5)))
    event = event.model_copy(update={"timestamp": stamp})
    again = Event.model_validate_json(event.model_dump_json())
    assert again == event
    assert again.timestamp.utcoffset() == timedelta(hours=-5)


def test_event_is_frozen() -> None:
    event = make_event("a", 1)
    with pytest.raises(ValidationError):
        event.version = 2  # type: ignore[misc]


def test_correlation_and_causation_come_from_metadata() -> None:
    event = make_event("a", 1).model_copy(
        update={"metadata": {"correlation_id": "c", "causation_id": "e-0"}}
    )
    assert (event.correlation_id, event.causation_id) == ("c", "e-0")
    assert make_event("a", 1).causation_id is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("actor_id", "", "actor_id must not be empty"),
        ("id", "", "id must not be empty"),
        ("event_type", "", "event_type must not be empty"),
        ("version", 0, "versions start at 1"),
        ("version", -3, "versions start at 1"),
        ("timestamp", datetime(2026, 1, 1), "timezone-aware"),
    ],
)
def test_invalid_events_raise_invalid_event_error(field: str, value: object, message: str) -> None:
    fields = make_event("a", 1).model_dump()
    fields[field] = value
    with pytest.raises(InvalidEventError, match=message) as caught:
        Event(**fields)
    assert isinstance(caught.value, AetherError)


def _nested(depth: int) -> dict[str, Any]:
    """A data mapping nested ``depth`` levels deep (the mapping itself is level 1)."""
    inner: Any = 1
    for _ in range(depth - 1):
        inner = [inner]
    return {"x": inner}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("data", {"when": object()}, r"object at Event\.data\['when'\] is not a JSON value"),
        ("data", {"b": [b"raw"]}, r"bytes at Event\.data\['b'\]\[0\] is not a JSON value"),
        ("data", {"t": (1, 2)}, "tuple at .* is not a JSON value"),
        ("data", {"k": {1: "x"}}, r"key 1 \(int\) at Event\.data\['k'\] is not text"),
        ("data", [1], "Event.data must be a mapping of text to JSON values, got list"),
        ("version", 1.0, r"version: Input should be a valid integer \(got float\)"),
        ("version", True, r"version: Input should be a valid integer \(got bool\)"),
        ("version", "3", r"version: Input should be a valid integer \(got str\)"),
        ("version", 2**63, "at most 9223372036854775807"),
        ("metadata", {"k": 1}, r"metadata\['k'\] is int, not text"),
        ("timestamp", 0, "valid datetime"),
        ("timestamp", "yesterday", "timestamp"),
        ("data", {"x": float("nan")}, "not a finite number"),
        ("data", {"x": [float("inf")]}, r"data\['x'\]\[0\] is not a finite number"),
        ("data", {"x": -float("inf")}, "not a finite number"),
        ("data", {"x": 10**4400}, "outside the 64-bit range"),
        ("data", {"x": 2**63}, "outside the 64-bit range"),
        ("data", {"x": -(2**63) - 1}, "outside the 64-bit range"),
        ("data", _nested(65), "nested deeper than 64 levels"),
        ("data", _nested(3000), "nested deeper than 64 levels"),
        ("data", {"x": "\ud800"}, "lone surrogate"),
        ("data", {"\udfff": 1}, "lone surrogate"),
        ("metadata", {"k": "\ud800"}, "lone surrogate"),
        ("actor_id", "x" * 4000, "actor id of 4000 bytes .* limit of 1 to 512 bytes"),
        ("actor_id", "🙂" * 340, "actor id of 1360 bytes"),
        ("actor_id", "a\ud800", "lone surrogate"),
        ("id", "e" * 257, "event id of 257 bytes .* 1 to 256 bytes"),
        ("id", "e\r\nAether-Version: 9", "control character"),
        ("id", "e1 ", "leading or trailing spaces"),
        ("event_type", "T" * 257, "event type of 257 bytes"),
        ("event_type", "Order\nPlaced", "control character"),
        ("timestamp", datetime(2026, 1, 1, tzinfo=timezone(timedelta(seconds=30))),
         "whole number of minutes"),
    ],
)
def test_what_would_not_read_back_exactly_is_refused(
    field: str, value: object, message: str
) -> None:
    fields = make_event("a", 1).model_dump()
    fields[field] = value
    with pytest.raises(InvalidEventError, match=message):
        Event(**fields)


@pytest.mark.parametrize(
    "update",
    [
        {"actor_id": "🙂" * 128},  # 512 bytes, every byte escaped in the subject token
        {"actor_id": "x" * 512},
        {"id": "e" * 256, "event_type": "T" * 256},
        {"data": _nested(64)},
        {"data": {"max": 2**63 - 1, "min": -(2**63), "f": 1.7976931348623157e308, "z": -0.0}},
        {"data": {"nul": "\x00", "bidi": "\u202e", "key\x00": [None, True, 0.1]}},
        {"timestamp": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))},
        {"timestamp": datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-23)))},
    ],
)
def test_values_at_the_limits_are_accepted_and_round_trip(update: dict[str, Any]) -> None:
    fields = make_event("a", 1).model_dump()
    fields.update(update)
    event = Event(**fields)
    assert Event.model_validate_json(event.model_dump_json()) == event


def test_iso_text_is_read_as_a_timestamp() -> None:
    fields = make_event("a", 1).model_dump()
    fields["timestamp"] = "2026-01-02T03:04:05+01:00"
    event = Event(**fields)
    assert event.timestamp == datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC)


def test_stored_events_stay_readable_whatever_the_limits() -> None:
    # Limits protect writes; history written before a limit existed must still load.
    stored = make_event("a", 1).model_dump(mode="json") | {"data": {"big": 2**70}}
    text = json.dumps(stored)
    with pytest.raises(InvalidEventError, match="64-bit"):
        Event.model_validate_json(text)
    assert Event.model_validate_json(text, context={STORED: True}).data == {"big": 2**70}


def test_a_batch_may_not_repeat_an_event_id() -> None:
    first = make_event("a", 1)
    second = make_event("a", 2).model_copy(update={"id": first.id})
    with pytest.raises(InvalidEventError, match="twice in one batch"):
        check_batch([first, second])


def test_snapshot_rules() -> None:
    now = datetime.now(UTC)
    with pytest.raises(InvalidEventError):
        ActorSnapshot(actor_id="a", version=0, state={}, timestamp=now)
    with pytest.raises(InvalidEventError, match="not a finite number"):
        ActorSnapshot(actor_id="a", version=1, state={"x": float("nan")}, timestamp=now)
    with pytest.raises(InvalidEventError, match="nested deeper"):
        ActorSnapshot(actor_id="a", version=1, state=_nested(500), timestamp=now)
    with pytest.raises(InvalidEventError, match="actor id of 600 bytes"):
        ActorSnapshot(actor_id="a" * 600, version=1, state={}, timestamp=now)
    with pytest.raises(InvalidEventError, match="valid integer"):
        ActorSnapshot(actor_id="a", version="2", state={}, timestamp=now)  # type: ignore[arg-type]
    snapshot = ActorSnapshot(actor_id="a", version=2, state={"x": [1]}, timestamp=datetime.now(UTC))
    assert ActorSnapshot.model_validate_json(snapshot.model_dump_json()) == snapshot


def test_errors_name_their_fields_and_pickle() -> None:
    duplicate = pickle.loads(pickle.dumps(DuplicateEventIdError("e-1", "order-1", 2, " (x)")))
    assert (duplicate.event_id, duplicate.actor_id, duplicate.version) == ("e-1", "order-1", 2)
    assert "e-1" in str(duplicate) and "uuid4" in str(duplicate)
    error = VersionConflictError("order-9", 4, 3)
    assert "order-9" in str(error) and "4" in str(error) and "3" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.actor_id, copy.current_version, copy.attempted_version) == ("order-9", 4, 3)


def test_events_are_immutable_all_the_way_down() -> None:
    event = make_event("a", 1, lines=[{"sku": "x"}])
    lines = event.data["lines"]
    assert isinstance(lines, list) and isinstance(lines[0], dict)
    for mutate in (lambda: lines.append(1), lambda: lines[0].update(sku="y"),
                   lambda: event.data.clear(), lambda: event.metadata.pop("correlation_id")):
        with pytest.raises(TypeError, match="immutable"):
            mutate()
    assert event.data == {"lines": [{"sku": "x"}]}
    copy = event.model_dump()  # a plain, mutable copy for whoever needs one
    copy["data"]["lines"].append(2)
    assert type(copy["data"]) is dict and event.data == {"lines": [{"sku": "x"}]}


def test_frozen_events_pickle_and_copy() -> None:
    event = make_event("a", 1, lines=[{"sku": "x"}])
    assert pickle.loads(pickle.dumps(event)) == event
    assert event.model_copy(deep=True) == event


def test_model_copy_with_an_update_is_validated() -> None:
    event = make_event("a", 1)
    assert event.model_copy(update={"version": 2}).version == 2
    with pytest.raises(InvalidEventError, match="versions start at 1"):
        event.model_copy(update={"version": 0})
    with pytest.raises(InvalidEventError, match="not a finite number"):
        event.model_copy(update={"data": {"x": float("nan")}})


def test_enum_members_become_the_plain_values_json_reads_back() -> None:
    class Colour(StrEnum):
        RED = "red"

    class Size(IntEnum):
        BIG = 3

    event = make_event("a", 1, colour=Colour.RED, size=Size.BIG)
    assert [type(value) for value in event.data.values()] == [str, int]
    assert Event.model_validate_json(event.model_dump_json()) == event
