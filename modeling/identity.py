"""Aggregate identity: the field that names an instance, and the actor id derived from it.

An aggregate that declares ``id: order_id`` has every command carry ``order_id``; the
command's target actor is ``<prefix>-<value>``, the prefix being the aggregate's
``id_prefix`` or its snake_case name, so two aggregate types never share an actor id
(validate refuses an ``id_prefix`` another aggregate has, and names that share a snake_case).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping

from pydantic import JsonValue

from modeling.name_checks import field_name_problem
from modeling.names import short, shown, snake_case
from modeling.source import Path
from modeling.types import Aggregate, FieldSpec, Model

Problem = tuple[Path, str, str]

ID_TYPES = ("str", "int", "uuid")
"""Field types an identity may have: they print as the same text for the same value."""
ID_PREFIX = re.compile(r"[a-z][a-z0-9_]{0,62}")
"""What an ``id_prefix`` may be."""
MAX_ACTOR_ID_BYTES = 512
"""The runtime's limit on an actor id (aether.limits.MAX_ACTOR_ID_BYTES; modeling does not
import aether, tests/modeling keeps the two equal)."""


def id_prefix(aggregate: Aggregate) -> str:
    """The text before ``-<value>`` in the actor ids of this aggregate's instances."""
    return aggregate.id_prefix or snake_case(aggregate.name)


def actor_id(aggregate: Aggregate, value: JsonValue, id_type: str) -> str:
    """The actor id of the instance whose identity field holds ``value`` (of type
    ``id_type``): what a generated command's ``target_actor_id()`` computes."""
    text = str(uuid.UUID(str(value))) if id_type == "uuid" else str(value)
    return f"{id_prefix(aggregate)}-{text}"


def command_target(owner: Aggregate, command: str,
                   payload: Mapping[str, JsonValue]) -> str | None:
    """Where the command ``command`` of ``owner`` with ``payload`` is sent, as its generated
    ``target_actor_id()`` computes it; None when the payload does not carry the aggregate's
    id (or the aggregate declares none)."""
    if owner.id is None or owner.id not in payload:
        return None
    spec = next((c.fields.get(owner.id) for c in owner.commands if c.name == command), None)
    return actor_id(owner, payload[owner.id], spec.type if spec is not None else "str")


def id_value_problem(owner: Aggregate | None, payload: Mapping[str, JsonValue],
                     fields: Mapping[str, FieldSpec]) -> str | None:
    """What is wrong when a scenario message (an event or command of ``owner``) carries an
    identity whose actor id ``<prefix>-<value>`` is longer than the runtime takes."""
    if owner is None or owner.id is None:
        return None
    spec, value = fields.get(owner.id), payload.get(owner.id)
    if spec is None or spec.type not in ID_TYPES or not isinstance(value, str | int) or (
            isinstance(value, bool)):
        return None
    try:
        actor = actor_id(owner, value, spec.type)
    except ValueError:
        return None  # not a uuid: reported as a bad value
    size = len(actor.encode("utf-8", "surrogatepass"))
    if size <= MAX_ACTOR_ID_BYTES:
        return None
    room = MAX_ACTOR_ID_BYTES - len(id_prefix(owner)) - 1
    return (f"field {owner.id!r} makes the actor id {shown(actor, 40)} of {size} bytes "
            f"(UTF-8); actor ids are at most {MAX_ACTOR_ID_BYTES} bytes: keep "
            f"{owner.id} within {room} bytes")


def event_emitters(model: Model) -> dict[str, str]:
    """Event name -> the snake_case name of the external system that emits it."""
    return {event: snake_case(system.name) for context in model.contexts
            for system in context.external_systems for event in system.emits}


def scenario_stream(event: str, payload: Mapping[str, JsonValue], fields: dict[str, FieldSpec],
                    owner: Aggregate | None, emitter: str | None) -> str:
    """The stream a scenario's event is recorded in when the scenario names none: the
    instance the event names when it carries its aggregate's identity (``order-o1``, as the
    command that recorded it was sent there), else instance 1 of its aggregate
    (``loan-1``); an external system's event in ``<system>-1``; any other event in
    ``<event snake_case>-1``. Policy and read-model scenarios both follow this rule."""
    if owner is None:
        return f"{emitter or snake_case(event)}-1"
    spec = fields.get(owner.id) if owner.id is not None else None
    value = payload.get(owner.id) if owner.id is not None else None
    if spec is not None and spec.type in ID_TYPES and isinstance(value, str | int) and (
            not isinstance(value, bool)):
        return actor_id(owner, value, spec.type)
    return f"{id_prefix(owner)}-1"


def identity_problems(model: Model) -> Iterator[Problem]:
    for c, context in enumerate(model.contexts):
        for a, aggregate in enumerate(context.aggregates):
            path: Path = ("contexts", c, "aggregates", a)
            yield from _aggregate_problems(path, aggregate)
    yield from _shared_prefix_problems(model)


def _shared_prefix_problems(model: Model) -> Iterator[Problem]:
    """Two aggregate types with one prefix would record in the same streams, each failing
    on the other's events at run time. Reported at the explicit ``id_prefix``: two default
    prefixes (snake_case names) that clash are already refused as clashing module names."""
    owners: dict[str, list[tuple[Path, Aggregate]]] = {}
    for c, context in enumerate(model.contexts):
        for a, aggregate in enumerate(context.aggregates):
            path: Path = ("contexts", c, "aggregates", a)
            owners.setdefault(id_prefix(aggregate), []).append((path, aggregate))
    taken = set(owners)
    for prefix, sharing in owners.items():
        for i, (path, aggregate) in enumerate(sharing):
            if aggregate.id_prefix is None or not ID_PREFIX.fullmatch(prefix):
                continue
            # The first explicit prefix of a group keeps it when it stands beside defaults
            # only; a default prefix cannot be written differently, so it always keeps it.
            other = next((o for j, (_, o) in enumerate(sharing)
                          if o.id_prefix is None or j < i), None)
            if other is None:
                continue
            how = ("its snake_case name" if other.id_prefix is None
                   else "its id_prefix")
            yield ((*path, "id_prefix"),
                   f"id_prefix {shown(prefix)} of aggregate {short(aggregate.name)} is also "
                   f"the actor id prefix of aggregate {short(other.name)} ({how}): their "
                   f"instances would share actor ids and streams; write "
                   f"`id_prefix: {_free_prefix(aggregate, taken)}`", "duplicate")


def _free_prefix(aggregate: Aggregate, taken: set[str]) -> str:
    base = snake_case(aggregate.name)[:56] or "item"
    if base not in taken:
        return base
    return next(f"{base}_{n}" for n in range(2, len(taken) + 3) if f"{base}_{n}" not in taken)


def _aggregate_problems(path: Path, aggregate: Aggregate) -> Iterator[Problem]:
    name = short(aggregate.name)
    if aggregate.id_prefix is not None and not ID_PREFIX.fullmatch(aggregate.id_prefix):
        yield ((*path, "id_prefix"),
               f"id_prefix {shown(aggregate.id_prefix)} of aggregate {name} must be 1 to 63 "
               f"lowercase letters, digits or underscores, starting with a letter: write e.g. "
               f"`id_prefix: {snake_case(aggregate.name)[:63] or 'item'}`", "bad-identity")
    if aggregate.id_prefix is not None and aggregate.id is None:
        yield ((*path, "id_prefix"),
               f"aggregate {name} has an id_prefix but no id: add `id: <field>` naming the "
               f"field every command of {name} carries", "bad-identity")
    field = aggregate.id
    if field is None:
        return
    unfit = field_name_problem(field, f"aggregate {name}'s id")
    if unfit is not None:  # else each command would be told to add a field it may not have
        yield (*path, "id"), unfit, "bad-identity"
        return
    if not aggregate.commands:
        yield ((*path, "id"),
               f"aggregate {name} declares id {shown(field)} but has no commands to carry "
               f"it: add commands, or remove `id:`", "bad-identity")
    for i, command in enumerate(aggregate.commands):
        spec = command.fields.get(field)
        where: Path = (*path, "commands", i, "name")
        if spec is None:
            yield (where,
                   f"command {short(command.name)} of aggregate {name} lacks the id field "
                   f"{shown(field)}: add `{field}: str` to its fields (every command of "
                   f"{name} names the instance it is for)", "bad-identity")
        elif spec.type not in ID_TYPES or spec.has_default:
            yield ((*path, "commands", i, "fields", field),
                   f"id field {shown(field)} of command {short(command.name)} is "
                   f"{shown(spec.type)}{' with a default' if spec.has_default else ''}; an "
                   f"identity is a required {', '.join(ID_TYPES)}: write `{field}: str`",
                   "bad-identity")
