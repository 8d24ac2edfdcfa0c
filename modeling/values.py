"""Does a JSON value (a default, a scenario payload) fit a field type of the model?"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation

from pydantic import JsonValue

from modeling.typeexpr import DictOf, ListOf, Named, Optional, Primitive, TypeExpr, parse_type
from modeling.types import EnumType, FieldSpec, ValueObject


class DeclaredTypes:
    """Value objects and enums by name, for checking values of named types."""

    def __init__(self, value_objects: Mapping[str, ValueObject],
                 enums: Mapping[str, EnumType]) -> None:
        self.value_objects = value_objects
        self.enums = enums


def value_problem(value: JsonValue, expr: TypeExpr, types: DeclaredTypes) -> str | None:
    """None when ``value`` fits ``expr``, else what is wrong."""
    if isinstance(expr, Optional):
        return None if value is None else value_problem(value, expr.inner, types)
    if value is None:
        return f"null does not fit {expr}; make the type `{expr} | None` or give a value"
    if isinstance(expr, Primitive):
        return _primitive_problem(value, expr.name)
    if isinstance(expr, ListOf):
        if not isinstance(value, list):
            return f"expected a list for {expr}"
        for index, item in enumerate(value):
            problem = value_problem(item, expr.item, types)
            if problem:
                return f"item {index + 1}: {problem}"
        return None
    if isinstance(expr, DictOf):
        if not isinstance(value, dict):
            return f"expected a mapping for {expr}"
        for key, item in value.items():
            problem = value_problem(item, expr.value, types)
            if problem:
                return f"key {key!r}: {problem}"
        return None
    assert isinstance(expr, Named)
    if expr.name in types.enums:
        allowed = types.enums[expr.name].values
        if value not in allowed:
            return f"{value!r} is not a {expr.name}; use one of {', '.join(allowed)}"
        return None
    value_object = types.value_objects.get(expr.name)
    if value_object is None:
        return None  # the unknown type itself is reported elsewhere
    if not isinstance(value, dict):
        return f"expected a mapping of {expr.name}'s fields"
    return payload_problem(value, value_object.fields, types, expr.name)


def payload_problem(payload: Mapping[str, JsonValue], fields: Mapping[str, FieldSpec],
                    types: DeclaredTypes, owner: str) -> str | None:
    unknown = [key for key in payload if key not in fields]
    if unknown:
        known = ", ".join(fields) or "none"
        return f"{owner} has no field {unknown[0]!r} (fields: {known})"
    for name, spec in fields.items():
        try:
            expr = parse_type(spec.type)
        except ValueError:
            continue  # reported where the field is declared
        if name not in payload:
            if not spec.has_default and not isinstance(expr, Optional):
                return f"{owner} needs a value for field {name!r} ({spec.type})"
            continue
        problem = value_problem(payload[name], expr, types)
        if problem:
            return f"field {name!r} of {owner}: {problem}"
    return None


def _primitive_problem(value: JsonValue, name: str) -> str | None:
    ok: bool
    if name == "str" or name == "bytes":
        ok = isinstance(value, str)
    elif name == "bool":
        ok = isinstance(value, bool)
    elif name == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif name == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif name == "decimal":
        ok = _parses(lambda: Decimal(str(value)), value, (InvalidOperation,))
    elif name == "datetime":
        ok = isinstance(value, str) and _parses(lambda: dt.datetime.fromisoformat(str(value)),
                                                value, (ValueError,))
    elif name == "date":
        ok = isinstance(value, str) and _parses(lambda: dt.date.fromisoformat(str(value)),
                                                value, (ValueError,))
    else:  # uuid
        ok = isinstance(value, str) and _parses(lambda: uuid.UUID(str(value)), value,
                                                (ValueError,))
    if ok:
        return None
    examples = {"datetime": '"2026-01-31T12:00:00+00:00"', "date": '"2026-01-31"',
                "uuid": '"5f0c…" (a UUID)', "decimal": '"12.50"', "bytes": "text"}
    hint = f" such as {examples[name]}" if name in examples else ""
    return f"{value!r} is not a valid {name}; write a {name}{hint}"


def _parses(parse: Callable[[], object], value: JsonValue,
            errors: tuple[type[Exception], ...]) -> bool:
    if isinstance(value, bool | list | dict) or value is None:
        return False
    try:
        parse()
    except errors:
        return False
    return True
