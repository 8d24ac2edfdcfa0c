"""Small builders for test data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import uuid4

from aether.event import ActorSnapshot, Event

_Record = TypeVar("_Record", Event, ActorSnapshot)


def make_event(actor_id: str, version: int, event_type: str = "Happened", **data: Any) -> Event:
    """A valid event of ``actor_id`` at ``version``; ``data`` defaults to ``{"n": version}``."""
    return Event(
        id=str(uuid4()),
        event_type=event_type,
        actor_id=actor_id,
        version=version,
        data=data or {"n": version},
        timestamp=datetime.now(UTC),
        metadata={"correlation_id": "c-1"},
    )


def unchecked(record: _Record, **update: Any) -> _Record:
    """``record`` with fields replaced and no validation at all (``model_construct``): what a
    careless or hostile caller can still hand a store, to prove the store checks for itself."""
    return type(record).model_construct(**{**record.__dict__, **update})
