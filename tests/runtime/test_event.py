from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from aether import ActorSnapshot, AetherError, Event, InvalidEventError, VersionConflictError
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


def test_data_must_be_json() -> None:
    fields = make_event("a", 1).model_dump()
    fields["data"] = {"when": object()}
    with pytest.raises(ValidationError):
        Event(**fields)


def test_snapshot_rules() -> None:
    with pytest.raises(InvalidEventError):
        ActorSnapshot(actor_id="a", version=0, state={}, timestamp=datetime.now(UTC))
    snapshot = ActorSnapshot(actor_id="a", version=2, state={"x": [1]}, timestamp=datetime.now(UTC))
    assert ActorSnapshot.model_validate_json(snapshot.model_dump_json()) == snapshot


def test_version_conflict_message_names_all_three_and_pickles() -> None:
    import pickle

    error = VersionConflictError("order-9", 4, 3)
    assert "order-9" in str(error) and "4" in str(error) and "3" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.actor_id, copy.current_version, copy.attempted_version) == ("order-9", 4, 3)
