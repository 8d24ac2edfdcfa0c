"""Events, snapshots and the storage protocols every backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from aether.errors import InvalidEventError

CORRELATION_ID = "correlation_id"
CAUSATION_ID = "causation_id"
COMMAND_ID = "command_id"
"""Metadata key of the idempotency key of the command that produced an event."""


class Event(BaseModel):
    """One immutable fact about one actor, at one version.

    ``data`` holds JSON values only, so an event survives any store byte for byte.
    ``metadata`` carries string context such as correlation and causation ids.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    event_type: str
    actor_id: str
    version: int
    data: dict[str, JsonValue] = Field(default_factory=dict)
    timestamp: datetime
    metadata: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_rules(self) -> Event:
        _require_text("Event", "id", self.id)
        _require_text("Event", "event_type", self.event_type)
        _require_text("Event", "actor_id", self.actor_id)
        _require_positive_version("Event", self.version)
        _require_aware("Event", self.timestamp)
        return self

    @property
    def correlation_id(self) -> str | None:
        return self.metadata.get(CORRELATION_ID)

    @property
    def causation_id(self) -> str | None:
        return self.metadata.get(CAUSATION_ID)


class ActorSnapshot(BaseModel):
    """An actor's state as of ``version``, so loading need not replay from the start."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor_id: str
    version: int
    state: dict[str, JsonValue] = Field(default_factory=dict)
    timestamp: datetime

    @model_validator(mode="after")
    def _check_rules(self) -> ActorSnapshot:
        _require_text("ActorSnapshot", "actor_id", self.actor_id)
        _require_positive_version("ActorSnapshot", self.version)
        _require_aware("ActorSnapshot", self.timestamp)
        return self


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


@runtime_checkable
class SnapshotStore(Protocol):
    async def save_snapshot(self, snapshot: ActorSnapshot) -> None: ...

    async def get_latest_snapshot(self, actor_id: str) -> ActorSnapshot | None: ...


def check_batch(events: Sequence[Event]) -> str:
    """Check a batch for ``save_events`` and return its actor id.

    A batch is one actor's events in strictly increasing version order; anything
    else is a caller bug, reported before a backend is touched.
    """
    if not events:
        raise InvalidEventError("save_events needs at least one event; got an empty batch")
    actor_id = events[0].actor_id
    previous = 0
    for event in events:
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
    return actor_id
