"""Aggregate identity: the field that names an instance, and the actor id derived from it.

An aggregate that declares ``id: order_id`` has every command carry ``order_id``; the
command's target actor is ``<prefix>-<value>``, the prefix being the aggregate's
``id_prefix`` or its snake_case name, so two aggregate types never share an actor id.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from modeling.names import short, shown, snake_case
from modeling.source import Path
from modeling.types import Aggregate, Model

Problem = tuple[Path, str, str]

ID_TYPES = ("str", "int", "uuid")
"""Field types an identity may have: they print as the same text for the same value."""
_PREFIX = re.compile(r"[a-z][a-z0-9_]{0,62}")


def id_prefix(aggregate: Aggregate) -> str:
    """The text before ``-<value>`` in the actor ids of this aggregate's instances."""
    return aggregate.id_prefix or snake_case(aggregate.name)


def identity_problems(model: Model) -> Iterator[Problem]:
    for c, context in enumerate(model.contexts):
        for a, aggregate in enumerate(context.aggregates):
            path: Path = ("contexts", c, "aggregates", a)
            yield from _aggregate_problems(path, aggregate)


def _aggregate_problems(path: Path, aggregate: Aggregate) -> Iterator[Problem]:
    name = short(aggregate.name)
    if aggregate.id_prefix is not None and not _PREFIX.fullmatch(aggregate.id_prefix):
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
