"""Typed event payloads and the registry that maps stored event types back to them.

Stored events name their type (``OrderPlaced``), never a Python import path, so
renaming or moving a class does not orphan history: only the registry changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import ClassVar, TypeVar
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, ValidationError

from aether.errors import AetherError, EventDecodeError, UnknownEventTypeError
from aether.event import Event
from aether.typenames import TypeNames

SCHEMA_VERSION = "schema_version"

class InvalidPayloadTypeError(AetherError, TypeError):
    """A class cannot be registered or encoded as an event payload (no ``event_type``, or
    an instance of a class other than the one registered for its type)."""


class DuplicateEventTypeError(AetherError, ValueError):
    """Two payload classes claim one event type; each maps to exactly one."""


PayloadT = TypeVar("PayloadT", bound="type[EventPayload]")


class EventPayload(BaseModel):
    """Base of every typed event payload (generated code subclasses it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


class EventRegistry:
    """Event type name <-> payload class, plus the mapping between payloads and Events."""

    def __init__(self, payload_types: Iterable[type[EventPayload]] = ()) -> None:
        self._table: TypeNames[type[EventPayload]] = TypeNames(
            "event_type", "payload class", InvalidPayloadTypeError, DuplicateEventTypeError)
        self._types = self._table.classes
        for payload_type in payload_types:
            self.register(payload_type)

    def register(self, payload_type: PayloadT) -> PayloadT:
        """Register a payload class under its ``event_type``; usable as a decorator."""
        self._table.register(payload_type)
        return payload_type

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._types

    @property
    def event_types(self) -> list[str]:
        return self._table.names()

    def payload_type(self, event_type: str) -> type[EventPayload]:
        try:
            return self._types[event_type]
        except KeyError:
            raise UnknownEventTypeError(event_type, list(self._types)) from None

    def decode(self, event: Event) -> EventPayload:
        """The typed payload of a stored event."""
        payload_type = self.payload_type(event.event_type)
        try:
            return payload_type.model_validate(event.data)
        except ValidationError as exc:
            raise EventDecodeError(
                f"event {event.id!r} ({event.event_type} v{event.version} of actor "
                f"{event.actor_id!r}) does not match {payload_type.__qualname__}: {exc}"
            ) from exc

    def to_event(
        self,
        payload: EventPayload,
        actor_id: str,
        version: int,
        *,
        metadata: Mapping[str, str] | None = None,
        event_id: str | None = None,
        timestamp: datetime | None = None,
    ) -> Event:
        """Wrap a payload into an Event; its type must be registered so it can be read back."""
        payload_type = self.payload_type(payload.event_type)
        if type(payload) is not payload_type:
            raise InvalidPayloadTypeError(
                f"{type(payload).__qualname__} claims event type {payload.event_type!r}, "
                f"which is registered to {payload_type.__qualname__}"
            )
        meta = dict(metadata or {})
        meta[SCHEMA_VERSION] = str(payload.schema_version)
        return Event(
            id=event_id or str(uuid4()),
            event_type=payload.event_type,
            actor_id=actor_id,
            version=version,
            data=payload.model_dump(mode="json"),
            timestamp=timestamp or datetime.now(UTC),
            metadata=meta,
        )
