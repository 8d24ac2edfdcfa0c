"""Model field types -> Python annotations, defaults and sample values for generated code.

Each function returns ``Code``: the text and the imports it needs, nothing else changes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from pydantic import JsonValue

from codegen.imports import Code
from codegen.pysource import (
    bytes_literal,
    entry,
    entry_depth,
    literal,
    member,
    string,
)
from modeling.typeexpr import DictOf, ListOf, Named, Optional, Primitive, TypeExpr, parse_type
from modeling.types import EnumType, FieldSpec, ValueObject
from modeling.values import wrapped

# name -> (annotation, the standard-library module it needs or "kit", or None)
_PRIMITIVES: dict[str, tuple[str, str | None]] = {
    "str": ("str", None), "int": ("int", None), "float": ("float", None),
    "bool": ("bool", None), "decimal": ("decimal.Decimal", "decimal"),
    "datetime": ("datetime.datetime", "datetime"), "date": ("datetime.date", "datetime"),
    "uuid": ("uuid.UUID", "uuid"), "bytes": ("kit.JsonBytes", "kit"),
}
_SAMPLES: dict[str, JsonValue] = {
    "str": "text", "int": 1, "float": 1.5, "bool": True, "decimal": "12.50",
    "datetime": "2026-01-31T12:00:00+00:00", "date": "2026-01-31",
    "uuid": "00000000-0000-4000-8000-000000000001", "bytes": "AAEC/w==",
}
# State fields start at these values when the model gives no default: the Python source,
# and the value as JSON data (what the catalog shows).
_ZEROS: dict[str, tuple[Code, JsonValue]] = {
    "str": (Code('""'), ""), "int": (Code("0"), 0), "float": (Code("0.0"), 0.0),
    "bool": (Code("False"), False),
    "decimal": (Code("decimal.Decimal(0)", frozenset({"decimal"})), "0"),
    "bytes": (Code('b""'), ""),
}
SAMPLE_DEPTH = 4


@dataclass(frozen=True)
class Types:
    """The model's declared value objects and enums, for mapping named types."""

    value_objects: dict[str, ValueObject]
    enums: dict[str, EnumType]


def _needs(module: str | None, text: str) -> Code:
    if module == "kit":
        return Code(text, kit=True)
    return Code(text, frozenset({module}) if module else frozenset())


def _join(text: str, *parts: Code) -> Code:
    return Code(text, frozenset().union(*(p.modules for p in parts)),
                any(p.kit for p in parts), frozenset().union(*(p.types for p in parts)))


def annotation(expr: TypeExpr) -> Code:
    if isinstance(expr, Primitive):
        text, module = _PRIMITIVES[expr.name]
        return _needs(module, text)
    if isinstance(expr, ListOf):
        item = annotation(expr.item)
        return _join(f"list[{item.text}]", item)
    if isinstance(expr, DictOf):
        value = annotation(expr.value)
        return _join(f"dict[str, {value.text}]", value)
    if isinstance(expr, Optional):
        inner = annotation(expr.inner)
        return _join(f"{inner.text} | None", inner)
    assert isinstance(expr, Named)
    return Code(expr.name, types=frozenset({expr.name}))


def default_expression(spec: FieldSpec, expr: TypeExpr, types: Types) -> Code:
    """Python source for a declared default, typed exactly (no validation needed)."""
    value = spec.default
    if value is None:
        return Code("None")
    if isinstance(expr, Optional):
        expr = expr.inner
    if isinstance(expr, Primitive):
        return _primitive_default(expr.name, value)
    if isinstance(expr, Named) and expr.name in types.enums:
        return Code(member(expr.name, str(value)), types=frozenset({expr.name}))
    # Containers and value objects: pydantic validates (and copies) the JSON default.
    return Code(f"kit.Field(default={literal(value)}, validate_default=True)", kit=True)


def _primitive_default(name: str, value: JsonValue) -> Code:
    text = str(value)
    if name == "decimal":
        return Code(f"decimal.Decimal({string(text)})", frozenset({"decimal"}))
    if name == "datetime":
        return Code(f"datetime.datetime.fromisoformat({string(text)})", frozenset({"datetime"}))
    if name == "date":
        return Code(f"datetime.date.fromisoformat({string(text)})", frozenset({"datetime"}))
    if name == "uuid":
        return Code(f"uuid.UUID({string(text)})", frozenset({"uuid"}))
    if name == "bytes":
        return Code(bytes_literal(text.encode()))
    if name == "float" and isinstance(value, int):
        return Code(repr(float(value)))
    return Code(literal(value))


def zero_expression(expr: TypeExpr) -> Code | None:
    """The value a state field starts at when the model gives none (None: make it Optional)."""
    if isinstance(expr, Optional):
        return Code("None")
    if isinstance(expr, Primitive) and expr.name in _ZEROS:
        return _ZEROS[expr.name][0]
    if isinstance(expr, ListOf | DictOf):
        factory = "list" if isinstance(expr, ListOf) else "dict"
        return Code(f"kit.Field(default_factory={factory})", kit=True)
    return None


def zero_data(expr: TypeExpr) -> tuple[JsonValue] | None:
    """``zero_expression``'s value as JSON data, in a 1-tuple (JSON null is a value too);
    None when the type has no natural zero, and the field becomes Optional, starting at
    null."""
    if isinstance(expr, Optional):
        return (None,)
    if isinstance(expr, Primitive) and expr.name in _ZEROS:
        return (_ZEROS[expr.name][1],)
    if isinstance(expr, ListOf | DictOf):
        return ([] if isinstance(expr, ListOf) else {},)
    return None


def sample(expr: TypeExpr, types: Types, depth: int = 0) -> JsonValue:
    """A JSON value that fits ``expr``, for generated round-trip tests. Below
    SAMPLE_DEPTH only what a value needs is filled (no optional parts, empty lists), which
    ends for every value object validate accepts (it refuses ones that require
    themselves)."""
    deep = depth >= SAMPLE_DEPTH
    if isinstance(expr, Optional):
        return None if deep else sample(expr.inner, types, depth)
    if isinstance(expr, Primitive):
        return _SAMPLES[expr.name]
    if isinstance(expr, ListOf):
        return [] if deep else [sample(expr.item, types, depth + 1)]
    if isinstance(expr, DictOf):
        return {} if deep else {"key": sample(expr.value, types, depth + 1)}
    assert isinstance(expr, Named)
    if expr.name in types.enums:
        return types.enums[expr.name].values[0]
    fields = types.value_objects[expr.name].fields
    return {name: sample(parse_type(spec.type), types, depth + 1)
            for name, spec in fields.items() if not (deep and spec.has_default)}


def value_expression(value: JsonValue, expr: TypeExpr, types: Types, depth: int = 0) -> Code:
    """A typed Python expression for a JSON value that fits ``expr`` (validate checked it):
    value objects by their constructors, enums by member, decimals as ``Decimal("...")``,
    so generated tests read like code a person writes and mypy checks them. ``depth``: the
    brackets around it within the value (each one indents what ruff format breaks out)."""
    if value is None:
        return Code("None")
    if isinstance(expr, Optional):
        return value_expression(value, expr.inner, types, depth)
    if isinstance(expr, Primitive):
        if expr.name == "bytes":  # the JSON form of bytes is base64 text (validate checks)
            return Code(bytes_literal(base64.b64decode(str(value).encode("ascii"))))
        return _primitive_default(expr.name, value)
    if isinstance(expr, ListOf) and isinstance(value, list):
        items = [value_expression(item, expr.item, types, depth + 1) for item in value]
        return _join("[" + ", ".join(item.text for item in items) + "]", *items)
    if isinstance(expr, DictOf) and isinstance(value, dict):
        entries = {key: value_expression(item, expr.value, types,
                                         entry_depth(depth, wrapped(item, expr.value)))
                   for key, item in value.items()}
        return _join("{" + ", ".join(entry(key, code.text, depth + 1)
                                     for key, code in entries.items()) + "}",
                     *entries.values())
    assert isinstance(expr, Named)
    if expr.name in types.enums:
        return Code(member(expr.name, str(value)), types=frozenset({expr.name}))
    assert isinstance(value, dict)
    code = constructor(expr.name, value, types.value_objects[expr.name].fields, types, depth)
    return Code(code.text, code.modules, code.kit, code.types | {expr.name})


def constructor(name: str, payload: dict[str, JsonValue], fields: dict[str, FieldSpec],
                types: Types, depth: int = 0) -> Code:
    """``Name(field=value, ...)`` for a payload of a class with ``fields`` (the caller
    imports ``Name`` itself: an event or command is not in the types module)."""
    args = {key: value_expression(item, parse_type(fields[key].type), types, depth + 1)
            for key, item in payload.items()}
    # validate lets a scenario leave out an optional field without a default (it is null),
    # but the generated class requires every field without a default: say None.
    args |= {key: Code("None") for key, spec in fields.items()
             if key not in payload and not spec.has_default
             and isinstance(parse_type(spec.type), Optional)}
    return _join(f"{name}(" + ", ".join(f"{key}={arg.text}" for key, arg in args.items()) + ")",
                 *args.values())
