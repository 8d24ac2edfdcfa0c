"""Every named element of a model, with the path where it is declared."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from modeling.source import Path
from modeling.types import (
    Aggregate,
    BoundedContext,
    CommandDef,
    EventDef,
    Model,
)

Kind = Literal[
    "context", "actor", "value_object", "enum", "aggregate", "command", "event",
    "policy", "read_model", "external_system",
]


@dataclass(frozen=True)
class Entry:
    kind: Kind
    name: str
    path: Path
    context: str
    aggregate: str | None = None


@dataclass
class ModelIndex:
    entries: list[Entry] = field(default_factory=list)
    by_name: dict[str, list[Entry]] = field(default_factory=dict)
    commands: dict[str, tuple[CommandDef, Aggregate | None]] = field(default_factory=dict)
    events: dict[str, tuple[EventDef, Aggregate | None]] = field(default_factory=dict)

    def named(self, name: str, *kinds: Kind) -> Entry | None:
        for entry in self.by_name.get(name, ()):
            if not kinds or entry.kind in kinds:
                return entry
        return None

    def names(self, *kinds: Kind) -> list[str]:
        return sorted({e.name for e in self.entries if not kinds or e.kind in kinds})

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        self.by_name.setdefault(entry.name, []).append(entry)


def index_model(model: Model) -> ModelIndex:
    index = ModelIndex()
    for c, context in enumerate(model.contexts):
        base: Path = ("contexts", c)
        index.add(Entry("context", context.name, base, context.name))
        for kind, path, name, aggregate in _context_elements(context, base):
            index.add(Entry(kind, name, path, context.name, aggregate))
        for owner in context.aggregates:
            for command in owner.commands:
                index.commands.setdefault(command.name, (command, owner))
            for event in owner.events:
                index.events.setdefault(event.name, (event, owner))
        for event in context.events:
            index.events.setdefault(event.name, (event, None))
    return index


def _context_elements(
    context: BoundedContext, base: Path
) -> Iterator[tuple[Kind, Path, str, str | None]]:
    for i, actor in enumerate(context.actors):
        yield "actor", (*base, "actors", i), actor.name, None
    for i, value_object in enumerate(context.value_objects):
        yield "value_object", (*base, "value_objects", i), value_object.name, None
    for i, enum in enumerate(context.enums):
        yield "enum", (*base, "enums", i), enum.name, None
    for a, aggregate in enumerate(context.aggregates):
        path: Path = (*base, "aggregates", a)
        yield "aggregate", path, aggregate.name, None
        for i, command in enumerate(aggregate.commands):
            yield "command", (*path, "commands", i), command.name, aggregate.name
        for i, event in enumerate(aggregate.events):
            yield "event", (*path, "events", i), event.name, aggregate.name
    for i, event in enumerate(context.events):
        yield "event", (*base, "events", i), event.name, None
    for i, policy in enumerate(context.policies):
        yield "policy", (*base, "policies", i), policy.name, None
    for i, read_model in enumerate(context.read_models):
        yield "read_model", (*base, "read_models", i), read_model.name, None
    for i, system in enumerate(context.external_systems):
        yield "external_system", (*base, "external_systems", i), system.name, None
