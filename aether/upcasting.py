"""Upcasters: functions that lift a stored event's payload from one schema_version to the next.

An event is stored with the ``schema_version`` its payload class had when it was written
(metadata key ``schema_version``, stamped by ``EventRegistry.to_event``; an event without
the key was written before any bump, at version 1). When a model changes an event in a
breaking way it bumps the version, and ``aether-gen generate`` writes one upcaster per step
(``v1 -> v2``). The registry runs the chain from the stored version up to the class's
current one before validating, so every reader (repository, feed, reaction runner, bus
subscriber) sees the payload as the current class defines it, from any store.

Old payloads are plain JSON (the class of an old version no longer exists), so an upcaster
is ``dict[str, JsonValue] -> dict[str, JsonValue]``; it gets a fresh mutable copy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from pydantic import JsonValue

from aether.errors import AetherError, EventDecodeError
from aether.event import Event

SCHEMA_VERSION = "schema_version"
"""The metadata key that records the schema_version an event was written at."""
_MAX_VERSION = 10**9

Upcaster = Callable[[dict[str, JsonValue]], dict[str, JsonValue]]


@dataclass(frozen=True)
class UpcastStep:
    """``upcast`` turns a payload of ``event_type`` at ``from_version`` into ``to_version``."""

    event_type: str
    from_version: int
    to_version: int
    upcast: Upcaster


class InvalidUpcasterError(AetherError, ValueError):
    """An upcaster cannot be registered: versions out of order, past the class's current
    version, or a second upcaster for one step."""


class SchemaVersionError(EventDecodeError):
    """A stored event's schema_version cannot be brought to its class's current one: no
    upcaster for a step, a version newer than this code knows, or a malformed version."""

    def __init__(self, event_type: str, stored: str, current: int, detail: str) -> None:
        self.event_type = event_type
        self.stored = stored
        self.current = current
        self.detail = detail
        super().__init__(f"{event_type} stored at schema_version {stored[:20]!r} cannot be "
                         f"read as version {current}: {detail}")

    def __reduce__(self) -> tuple[type[SchemaVersionError], tuple[str, str, int, str]]:
        return (type(self), (self.event_type, self.stored, self.current, self.detail))


class UpcasterNotWrittenError(AetherError, NotImplementedError):
    """A generated upcaster stub still has a part only a person can write."""


def not_written(where: str, event_type: str, from_version: int, to_version: int,
                todo: list[str]) -> NoReturn:
    """What a generated upcaster stub calls where a person must write code."""
    raise UpcasterNotWrittenError(
        f"{where}: the upcaster {event_type} v{from_version} -> v{to_version} is not written "
        f"yet: {'; '.join(todo)}; write it there and delete the not_written call")


def stored_version(metadata: Mapping[str, str], event_type: str, current: int) -> int:
    """The schema_version recorded in an event's metadata (1 when absent)."""
    raw = metadata.get(SCHEMA_VERSION)
    if raw is None:
        return 1
    if not (raw.isascii() and raw.isdigit() and 0 < int(raw) <= _MAX_VERSION):
        raise SchemaVersionError(event_type, raw, current,
                                 "the metadata's schema_version is not a positive integer; "
                                 "the event was not written by EventRegistry.to_event")
    return int(raw)


def thaw(value: Any) -> Any:
    """A mutable deep copy of stored JSON (stored events hold frozen dicts and lists)."""
    if isinstance(value, dict):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value


class Upcasters:
    """Each event type's steps, by the version they start from."""

    def __init__(self) -> None:
        self._steps: dict[str, dict[int, UpcastStep]] = {}

    def add(self, step: UpcastStep, current: int) -> None:
        name = f"upcaster {step.event_type} v{step.from_version} -> v{step.to_version}"
        if not 0 < step.from_version < step.to_version:
            raise InvalidUpcasterError(f"{name}: versions must grow from 1 up")
        if step.to_version > current:
            raise InvalidUpcasterError(
                f"{name} goes past {step.event_type}'s current schema_version {current}; "
                f"regenerate the package or fix the step's versions")
        steps = self._steps.setdefault(step.event_type, {})
        if step.from_version in steps and steps[step.from_version] != step:
            raise InvalidUpcasterError(f"{name}: another upcaster already starts at "
                                       f"v{step.from_version}; register one per step")
        steps[step.from_version] = step

    def steps(self, event_type: str) -> list[UpcastStep]:
        return sorted(self._steps.get(event_type, {}).values(), key=lambda s: s.from_version)

    def upcast(self, event: Event, version: int, current: int) -> dict[str, JsonValue]:
        """``event``'s payload brought from ``version`` to ``current``."""
        event_type = event.event_type
        if version > current:
            raise SchemaVersionError(
                event_type, str(version), current,
                f"it is newer than the {event_type} this code knows (event {event.id!r} of "
                f"actor {event.actor_id!r}); run the code generated from the newer model")
        steps = self._steps.get(event_type, {})
        data: dict[str, JsonValue] = thaw(event.data)
        while version < current:
            step = steps.get(version)
            if step is None:
                have = ", ".join(f"v{s.from_version} -> v{s.to_version}"
                                 for s in self.steps(event_type)) or "none"
                raise SchemaVersionError(
                    event_type, str(version), current,
                    f"no upcaster from v{version} is registered (have: {have}); run "
                    f"aether-gen generate to create the missing upcaster stub and register it")
            data = self._run(step, event, data)
            version = step.to_version
        return data

    @staticmethod
    def _run(step: UpcastStep, event: Event,
             data: dict[str, JsonValue]) -> dict[str, JsonValue]:
        where = (f"upcaster {step.event_type} v{step.from_version} -> v{step.to_version} "
                 f"(event {event.id!r} of actor {event.actor_id!r})")
        try:
            out = step.upcast(data)
        except AetherError:
            raise
        except Exception as exc:  # a bug in hand-written code: name the step and the event
            raise EventDecodeError(f"{where} failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(out, dict):
            raise EventDecodeError(f"{where} returned {type(out).__name__}, not a dict; "
                                   f"return the upcast payload")
        return out
