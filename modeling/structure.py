"""Plain data -> a Model, with pydantic's structural errors turned into located diagnostics."""

from __future__ import annotations

import base64
import datetime as dt
import difflib
import enum
import types
import typing
import uuid
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from modeling.names import shown
from modeling.source import Diagnostic, Path, SourceMap
from modeling.typeexpr import Optional, Primitive, TypeSyntaxError, parse_type
from modeling.types import Model


def build_model(data: Any, source: SourceMap) -> tuple[Model | None, list[Diagnostic]]:
    if not isinstance(data, dict):
        return None, [Diagnostic(source.locate(()), "error",
                                 "a model file is a mapping that starts with `model: <name>`",
                                 "structure")]
    try:
        return Model.model_validate(data), []
    except ValidationError as exc:
        return None, [_diagnostic(error, data, source) for error in exc.errors()]


def _diagnostic(error: Any, data: Any, source: SourceMap) -> Diagnostic:
    path = error_path(error)
    kind = error["type"]
    where = describe(path, data)
    if kind == "extra_forbidden":
        key = str(path[-1])
        allowed = _allowed_keys(path[:-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = (f"did you mean {shown(close[0])}?" if close
                else f"allowed: {', '.join(allowed)}")
        return Diagnostic(source.locate(path, at_key=True), "error",
                          f"unknown key {shown(key)} in {describe(path[:-1], data)}; {hint}",
                          "unknown-key")
    if kind == "missing":
        return Diagnostic(source.locate(path[:-1]), "error",
                          f"{describe(path[:-1], data)} needs a {shown(str(path[-1]))} key",
                          "missing-key")
    message = error["msg"].removeprefix("Value error, ")  # our own validators' words
    if kind == "invalid-json-value":  # a Python model's default or scenario value
        hint = json_hint(error.get("input"), _own_bytes_default(path, data))
        message = f"not a JSON value; {hint}"
    if len(path) >= 2 and path[-2] in ("fields", "state") and kind in ("model_type", "dict_type"):
        return Diagnostic(source.locate(path), "error",
                          f"{where}: write a type such as str, or a mapping with type, default "
                          f"and description, got {_kind_of(error.get('input'))}", "structure")
    if kind in ("string_type", "list_type", "dict_type", "int_type", "int_parsing",
                "model_type"):
        message = f"{message}, got {_kind_of(error.get('input'))}"
    return Diagnostic(source.locate(path), "error", f"{where}: {message}", "structure")


def json_hint(value: object, own_bytes_default: bool = False) -> str:
    """What to write instead of a Python value that is not JSON (``own_bytes_default``: it
    is the default of a field of type bytes, which generated code takes as text, not base64:
    typemap turns its text into ``b"..."``)."""
    if isinstance(value, dt.datetime):
        return f"write the datetime as ISO text, {shown(value.isoformat())}"
    if isinstance(value, dt.date):
        return f"write the date as ISO text, {shown(value.isoformat())}"
    if isinstance(value, Decimal | uuid.UUID | enum.Enum):
        text = str(value.value if isinstance(value, enum.Enum) else value)
        return f"write the {type(value).__name__} as text, {shown(text)}"
    if isinstance(value, bytes | bytearray):
        if not own_bytes_default:  # in a list, a value object, a scenario: JSON
            encoded = base64.b64encode(value).decode("ascii")
            return f"write bytes here as base64 text, {shown(encoded)}"
        try:
            text = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return ("a bytes field's own default is written as text and stored as its UTF-8 "
                    "encoding, which these bytes are not: give no default, or one that is "
                    "UTF-8 text")
        return f"a bytes field's own default is written as its text, {shown(text)}"
    if isinstance(value, tuple | set | frozenset):
        return f"write the {type(value).__name__} as a list, [...]"
    return (f"got {type(value).__name__}; write text, a number, true/false, None, a list or "
            f"a dict with str keys")


def _own_bytes_default(path: Path, data: Any) -> bool:
    if len(path) < 3 or path[-1] != "default" or path[-3] not in ("fields", "state"):
        return False
    spec = _node_at(path[:-1], data)
    try:
        expr = parse_type(spec["type"]) if isinstance(spec, dict) else None
    except (TypeSyntaxError, TypeError):
        return False
    inner = expr.inner if isinstance(expr, Optional) else expr
    return inner == Primitive("bytes")


def _node_at(path: Path, data: Any) -> Any:
    for part in path:
        data = _child(data, part)
    return data


def error_path(error: Any) -> Path:
    """The data path of a pydantic error, without the tags pydantic inserts for
    annotated validators (such as "function-before[...]")."""
    return tuple(part for part in error["loc"]
                 if not (isinstance(part, str) and ("[" in part or part.startswith("function-"))))


def _kind_of(value: object) -> str:
    if value is None:
        return "nothing (null)"
    names = {str: "text", int: "a number", float: "a number", bool: "true/false",
             list: "a list", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


MAX_SHOWN_STEPS = 8
"""Most steps below the named element that a location shows."""

_SINGULAR = {
    "contexts": "context", "actors": "actor", "value_objects": "value object",
    "enums": "enum", "aggregates": "aggregate", "commands": "command", "events": "event",
    "scenarios": "scenario", "policies": "policy", "read_models": "read model",
    "external_systems": "external system", "hot_spots": "hot spot",
    "context_map": "relationship",
}


def describe(path: Path, data: Any) -> str:
    """Name the element at ``path`` as a modeler would: "command 'PlaceOrder'",
    "field 'sku' of value object 'OrderLine'"."""
    named = "the model"
    rest: list[str] = []
    node = data
    parent_key: str | int | None = None
    for part in path:
        node = _child(node, part)
        if isinstance(part, int) and isinstance(node, dict) and isinstance(node.get("name"), str):
            kind = _SINGULAR.get(str(parent_key), "element")
            named, rest = f"{kind} {shown(node['name'])}", []
        elif isinstance(part, int) and rest and rest[-1] == parent_key:
            rest[-1] = f"{_SINGULAR.get(str(parent_key), 'item')} {part + 1}"
        elif isinstance(part, int):
            rest.append(f"item {part + 1}")
        else:
            rest.append(str(part))
        parent_key = part
    if not rest:
        return named
    if len(rest) > MAX_SHOWN_STEPS:
        # A value nested 30 levels deep would make a line of "item 1." steps: say how deep.
        rest = [*rest[:MAX_SHOWN_STEPS - 1], f"({len(rest) - MAX_SHOWN_STEPS + 1} levels deeper)"]
    if named == "the model" and len(rest) == 1:
        # A top-level key in backticks; an item of a top-level list ("relationship 1") as is.
        return rest[0] if isinstance(path[-1], int) else f"`{rest[0]}`"
    if len(rest) >= 2 and rest[-2] in ("fields", "state"):
        return (f"field {shown(rest[-1])} of {named}"
                + (" state" if rest[-2] == "state" else ""))
    return f"{'.'.join(rest)} of {named}"


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _allowed_keys(path: Path) -> list[str]:
    cls = class_at(path)
    if cls is None:
        return []
    return [field.alias or name for name, field in cls.model_fields.items()]


def class_at(path: Path) -> type[BaseModel] | None:
    """The pydantic class describing the mapping at ``path`` (None if not a model)."""
    current: Any = Model
    for part in path:
        current = unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else None
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items()
                          if (f.alias or n) == part), None)
            current = field.annotation if field else None
        else:
            args = typing.get_args(current)
            current = args[-1] if args else None  # dict[str, X]: a key selects an X
        if current is None:
            return None
    current = unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def unwrap(annotation: Any) -> Any:
    """The type inside Annotated[...] and optional unions (a model member preferred)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else members[0]
        else:
            return annotation
