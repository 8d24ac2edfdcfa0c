"""Read models: which row an event updates (``key`` / ``single``), and their scenarios.

A read model without ``key`` or ``single`` keeps one row per actor id (the events'
envelopes name it). ``key: order_id`` keeps one row per value of a field every event of
``from`` carries with one type; the row then carries that field too. ``single: true``
keeps one row for the whole view. A scenario gives events and says exactly which rows
``all()`` then returns; its payloads are checked like aggregate scenarios' (values.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from pydantic import JsonValue

from modeling.identity import id_value_problem
from modeling.names import short, shown
from modeling.policy_checks import ACTOR_KEY, split_message
from modeling.source import Path
from modeling.typeexpr import PRIMITIVES, Named, Primitive, TypeSyntaxError, parse_type
from modeling.types import Aggregate, FieldSpec, Model, ReadModel, ReadModelScenario
from modeling.values import DeclaredTypes, payload_problems

Problem = tuple[Path, str, str, bool]
"""(where, what is wrong and what to write, code, whether it is about the key at path)."""
Hint = Callable[[str, str, list[str]], str]
"""(name, expected kind, candidates) -> " (it is a command)" / "; did you mean ..."."""

KEY_PRIMITIVES = tuple(name for name in PRIMITIVES if name != "float")
"""Field types a key may have: compared by value, never NaN; enums too."""


@dataclass(frozen=True)
class RowShape:
    """What a row of a read model holds: its key (name, type) if keyed, and its fields."""

    key: tuple[str, str] | None
    fields: dict[str, FieldSpec]


def key_type(read_model: ReadModel, events: Mapping[str, Mapping[str, FieldSpec]]) -> str | None:
    """The type of the key field, as the first event of ``from`` declaring it says."""
    if read_model.key is None:
        return None
    for event in read_model.from_:
        spec = events.get(event, {}).get(read_model.key)
        if spec is not None:
            return spec.type
    declared = read_model.fields.get(read_model.key)
    return declared.type if declared is not None else None


def row_shape(read_model: ReadModel,
              events: Mapping[str, Mapping[str, FieldSpec]]) -> RowShape:
    """The row's key and its other fields (the key first, in codegen and in scenarios)."""
    kind = key_type(read_model, events)
    if read_model.key is None or kind is None:
        return RowShape(None, dict(read_model.fields))
    rest = {name: spec for name, spec in read_model.fields.items() if name != read_model.key}
    return RowShape((read_model.key, kind), rest)


def read_model_problems(model: Model, types: DeclaredTypes, hint: Hint) -> Iterator[Problem]:
    events = {e.name: e.fields for c in model.contexts
              for e in [*(e for a in c.aggregates for e in a.events), *c.events]}
    owners = {e.name: a for c in model.contexts for a in c.aggregates for e in a.events}
    for c, context in enumerate(model.contexts):
        for i, read_model in enumerate(context.read_models):
            path: Path = ("contexts", c, "read_models", i)
            if not read_model.from_:
                yield ((*path, "from"), f"read model {short(read_model.name)} reads no events: "
                       f"list the events it is kept from, e.g. `from: [OrderPlaced]`",
                       "bad-read-model", False)
                continue
            yield from _key_problems(path, read_model, events, types)
            for s, scenario in enumerate(read_model.scenarios):
                yield from _scenario_problems((*path, "scenarios", s), read_model, scenario,
                                              events, types, hint, owners)


def _key_problems(path: Path, read_model: ReadModel,
                  events: Mapping[str, Mapping[str, FieldSpec]],
                  types: DeclaredTypes) -> Iterator[Problem]:
    name, key = short(read_model.name), read_model.key
    if key is None:
        return
    if read_model.single:
        yield ((*path, "single"), f"read model {name} has both `key` and `single: true`; a "
               f"single-row view has no key: keep `key: {key}` for a row per {key}, or "
               f"`single: true` for one row", "bad-key", False)
        return
    kind = key_type(read_model, events)
    if kind is None:
        if read_model.from_ and all(event in events for event in read_model.from_):
            first = read_model.from_[0]
            yield ((*path, "key"), f"read model {name} is keyed by {shown(key)}, but no event "
                   f"of `from` has that field: add `{key}: str` to the fields of {short(first)}"
                   f" (and of every other event it reads), or key by one of their fields",
                   "bad-key", False)
        return
    problem = _key_type_problem(kind, types)
    if problem:
        yield ((*path, "key"), f"key {shown(key)} of read model {name} is {shown(kind)}; "
               f"{problem}: key by another field, or write `single: true` for one row",
               "bad-key", False)
    elif len(key) + len(kind) > 90 and key not in read_model.fields:  # fields: validate.py
        # The row's evolve(...) takes the key as `        <key>: <type> | ...`, one line.
        yield ((*path, "key"), f"key {shown(key)} of read model {name} and its type "
               f"{shown(kind)} have {len(key) + len(kind)} characters together; at most 90 "
               f"fit the generated `{key}: {kind} ...` line within 100 columns: shorten "
               f"the field name or the type name", "bad-key", False)
    for e, event in enumerate(read_model.from_):
        fields = events.get(event)
        if fields is None:
            continue  # reported as an unknown reference
        spec = fields.get(key)
        if spec is None:
            yield ((*path, "from", e), f"read model {name} is keyed by {shown(key)}, but event "
                   f"{short(event)} has no field {shown(key)}: add `{key}: {kind}` to "
                   f"{short(event)}'s fields, or remove {short(event)} from `from`",
                   "bad-key", False)
        elif spec.type != kind:
            yield ((*path, "from", e), f"read model {name} is keyed by {shown(key)}, a "
                   f"{kind} in the first event that has it, but {short(event)}'s "
                   f"{shown(key)} is {shown(spec.type)}: give every event of `from` the same "
                   f"key type ({kind})", "bad-key", False)
    declared = read_model.fields.get(key)
    if declared is not None and declared.type != kind:
        yield ((*path, "fields", key), f"field {shown(key)} of read model {name} is "
               f"{shown(declared.type)}, but its key {shown(key)} is {kind} in the events: "
               f"write `{key}: {kind}`, or leave the field out (the row carries its key "
               f"anyway)", "bad-key", True)


def _key_type_problem(kind: str, types: DeclaredTypes) -> str | None:
    try:
        expr = parse_type(kind)
    except TypeSyntaxError:
        return None  # reported where the field is declared
    if isinstance(expr, Primitive) and expr.name in KEY_PRIMITIVES:
        return None
    if isinstance(expr, Named) and expr.name in types.enums:
        return None
    return (f"a key picks one row by its value, so it is one of {', '.join(KEY_PRIMITIVES)} "
            f"or an enum, and never empty (not optional)")


def _scenario_problems(path: Path, read_model: ReadModel, scenario: ReadModelScenario,
                       events: Mapping[str, Mapping[str, FieldSpec]], types: DeclaredTypes,
                       hint: Hint, owners: Mapping[str, Aggregate]) -> Iterator[Problem]:
    name = short(read_model.name)
    for g, message in enumerate(scenario.given):
        where: Path = (*path, "given", g)
        # Written as a policy scenario's given event: `actor:` beside it names the stream.
        split = split_message(message, ACTOR_KEY)
        if isinstance(split, tuple):
            key, said = split
            yield (where if key is None else (*where, key)), said, "bad-scenario", key is not None
            continue
        event, payload = split.name, split.payload
        if event not in events:
            yield (where, f"{shown(event)} is not an event{hint(event, 'event', list(events))}",
                   "unknown-reference", True)
        elif event not in read_model.from_:
            yield (where, f"read model {name} does not read {short(event)}: add it to "
                   f"`from`, or remove it from the scenario", "unknown-reference", True)
        else:
            problems = payload_problems(payload, events[event], types, event)
            for field, problem in problems:
                yield ((*where, event) if field is None else (*where, event, field), problem,
                       "bad-scenario", False)
            owner = owners.get(event)
            too_long = None if problems else id_value_problem(owner, payload, events[event])
            if too_long is not None and owner is not None:
                yield (*where, event, str(owner.id)), too_long, "bad-scenario", False
    if read_model.single and len(scenario.then) != 1:
        yield ((*path, "then"), f"read model {name} is a single row: `then` is exactly that "
               f"one row, as `[{{field: value}}]`", "bad-scenario", False)
    shape = row_shape(read_model, events)
    row_fields = _row_specs(shape)
    seen: dict[object, int] = {}
    for r, row in enumerate(scenario.then):
        for field, problem in payload_problems(row, row_fields, types, f"{read_model.name}Row"):
            yield ((*path, "then", r) if field is None else (*path, "then", r, field), problem,
                   "bad-scenario", False)
        if shape.key is not None and _hashable(row.get(shape.key[0])):
            raw = row.get(shape.key[0])
            value = _key_value(raw, shape.key[1])
            if value in seen:
                yield ((*path, "then", r), f"rows {seen[value] + 1} and {r + 1} have the same "
                       f"{shape.key[0]} {shown(str(raw))}; {name} keeps one row per "
                       f"{shape.key[0]}: merge them", "bad-scenario", False)
            seen.setdefault(value, r)


def _row_specs(shape: RowShape) -> dict[str, FieldSpec]:
    """A scenario row may leave out any field but the key: the row's starting value."""
    specs: dict[str, FieldSpec] = {}
    if shape.key is not None:
        specs[shape.key[0]] = FieldSpec(type=shape.key[1])
    for field, spec in shape.fields.items():
        specs[field] = FieldSpec(type=spec.type, default=spec.default)
    return specs


_KEY_PARSERS: dict[str, Callable[[str], object]] = {
    "decimal": Decimal, "datetime": dt.datetime.fromisoformat, "date": dt.date.fromisoformat,
    "uuid": uuid.UUID}


def _key_value(value: JsonValue, kind: str) -> object:
    """The key as the row holds it: "1.0" and "1" are one decimal, "...Z" and "...+00:00"
    one instant, so two rows written with them are one row."""
    parse = _KEY_PARSERS.get(kind)
    if parse is None or not isinstance(value, str):
        return value
    try:
        parsed = parse(value)
    except (ValueError, ArithmeticError):
        return value  # reported as a value that does not fit
    # A NaN is no key (and a signalling one cannot be hashed): reported as not finite.
    return value if isinstance(parsed, Decimal) and not parsed.is_finite() else parsed


def _hashable(value: JsonValue) -> bool:
    return not isinstance(value, list | dict)
