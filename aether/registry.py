"""Typed event payloads and the registry that maps stored event types back to them.

Stored events name their type (``OrderPlaced``), never a Python import path, so
renaming or moving a class does not orphan history: only the registry changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from aether.errors import AetherError, EventDecodeError, UnknownEventTypeError
from aether.event import Event
from aether.records import NewEvent, build_events, new_event_id
from aether.typenames import TypeNames
from aether.upcasting import SCHEMA_VERSION, Upcasters, UpcastStep, stored_version


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
    """Event type name <-> payload class, plus the mapping between payloads and Events.

    Events stored at an older ``schema_version`` than their class's are upcast on decode
    by the registered steps (see aether/upcasting.py)."""

    def __init__(self, payload_types: Iterable[type[EventPayload]] = (),
                 upcasters: Iterable[UpcastStep] = ()) -> None:
        self._table: TypeNames[type[EventPayload]] = TypeNames(
            "event_type", "payload class", InvalidPayloadTypeError, DuplicateEventTypeError)
        self._types = self._table.classes
        self._upcasters = Upcasters()
        for payload_type in payload_types:
            self.register(payload_type)
        for step in upcasters:
            self.add_upcaster(step)

    def register(self, payload_type: PayloadT) -> PayloadT:
        """Register a payload class under its ``event_type``; usable as a decorator."""
        self._table.register(payload_type)
        return payload_type

    def add_upcaster(self, step: UpcastStep) -> None:
        """Register one step of an event type's upcast chain (its class registered first)."""
        self._upcasters.add(step, self.payload_type(step.event_type).schema_version)

    def upcasters(self, event_type: str) -> list[UpcastStep]:
        """The steps registered for ``event_type``, oldest first."""
        return self._upcasters.steps(event_type)

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
        """The typed payload of a stored event, upcast first when it was stored at an older
        schema_version (SchemaVersionError when that cannot be done)."""
        payload_type = self.payload_type(event.event_type)
        current = payload_type.schema_version
        data: Mapping[str, object] = event.data
        upcast = ""
        # Cheap for current events: one lookup and one comparison with the stamped text.
        if event.metadata.get(SCHEMA_VERSION, "1") != str(current):
            version = stored_version(event.metadata, event.event_type, current)
            if version != current:
                data = self._upcasters.upcast(event, version, current)
                upcast = f" once upcast from schema_version {version} to {current}"
        try:
            return payload_type.model_validate(data)
        except ValidationError as exc:
            raise EventDecodeError(
                f"event {event.id!r} ({event.event_type} v{event.version} of actor "
                f"{event.actor_id!r}){upcast} does not match {payload_type.__qualname__}: {exc}"
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
        self._check_registered(payload)
        meta = dict(metadata or {})
        meta[SCHEMA_VERSION] = str(payload.schema_version)
        return Event(
            id=event_id or new_event_id(),
            event_type=payload.event_type,
            actor_id=actor_id,
            version=version,
            # as to_events dumps it, so one payload gives the same data either way
            data=payload.__pydantic_serializer__.to_python(payload, mode="json"),
            timestamp=timestamp or datetime.now(UTC),
            metadata=meta,
        )

    def to_events(
        self,
        payloads: Sequence[EventPayload],
        actor_id: str,
        first_version: int,
        *,
        metadata: Mapping[str, str] | None = None,
        timestamp: datetime | None = None,
    ) -> list[Event]:
        """``to_event`` for consecutive events of one actor from ``first_version`` on, sharing
        ``metadata`` and one timestamp (what a Repository saves for one command).

        The same Events as one ``to_event`` per payload, built in one pass: what the events
        share (actor id, timestamp, each type and metadata) is checked once, and each
        payload's data, which its class validated, is only frozen and checked against the
        limits; anything unusual goes through the Event constructor, which says what is
        wrong."""
        now = timestamp or datetime.now(UTC)
        types = self._types
        meta: dict[str, str] = {}
        meta_version: int | None = None  # the schema version ``meta`` is for
        items: list[NewEvent] = []
        for offset, payload in enumerate(payloads):
            if types.get(payload.event_type) is not type(payload):
                self._check_registered(payload)  # raises, saying what is wrong
            if payload.schema_version != meta_version:  # once, but for mixed versions
                meta_version = payload.schema_version
                meta = {**(metadata or {}), SCHEMA_VERSION: str(meta_version)}
            # model_dump(mode="json") without its Python frame and dozen keyword arguments
            items.append((payload.event_type, first_version + offset,
                          payload.__pydantic_serializer__.to_python(payload, mode="json"), meta))
        events = build_events(Event, actor_id, now, items)
        if events is None:
            events = [
                Event(id=new_event_id(), event_type=event_type, actor_id=actor_id,
                      version=version, data=data, timestamp=now, metadata=meta)
                for event_type, version, data, meta in items
            ]
        return events

    def _check_registered(self, payload: EventPayload) -> None:
        """Refuse a payload whose type cannot be read back: not registered, or registered
        to another class."""
        payload_type = self.payload_type(payload.event_type)
        if type(payload) is not payload_type:
            raise InvalidPayloadTypeError(
                f"{type(payload).__qualname__} claims event type {payload.event_type!r}, "
                f"which is registered to {payload_type.__qualname__}"
            )
