"""Does a JSON value (a default, a scenario payload) fit a field type of the model?"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation

from pydantic import JsonValue

from modeling.names import shown
from modeling.typeexpr import DictOf, ListOf, Named, Optional, Primitive, TypeExpr, parse_type
from modeling.types import EnumType, FieldSpec, ValueObject
from modeling.value_texts import FORMS, text_problem

MAX_INT = 2**53 - 1
"""Integers in defaults and scenarios stay within what every JSON reader keeps exact."""
MAX_DEPTH = 15
"""Deepest nesting of lists and mappings in a default or scenario value: each level
indents the generated code by four columns, and at 15 the deepest entry of a generated
test still fits ruff's 100 (tests/codegen/test_line_limits.py). A value in a mapping that
generated code may put in parentheses of its own counts one level more (WRAPPED)."""
WRAPPED = ("in a mapping, a value object, an enum, a number, a decimal, a date, a datetime "
           "or a uuid counts one level more")
MAX_DECIMAL_TEXT = 64


def json_problem(value: object) -> str | None:
    """None when ``value`` is JSON that generated code and every event store keep exactly:
    finite floats, integers within +-MAX_INT, text that encodes as UTF-8, nesting within
    MAX_DEPTH. Iterative, so hostile depth cannot exhaust the stack."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"values nest deeper than {MAX_DEPTH} levels; flatten the value"
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, float) and not math.isfinite(item):
            return f"{item!r} has no JSON form; write a finite number"
        if isinstance(item, int) and not -MAX_INT <= item <= MAX_INT:
            return (f"integer out of range: integers stay within +-{MAX_INT} (2**53 - 1) so "
                    f"every JSON reader keeps them exact; use a decimal (written as text) for "
                    f"bigger numbers")
        if isinstance(item, str) and not _encodes(item):
            return "text with a lone surrogate cannot be encoded as UTF-8; remove it"
        if isinstance(item, list):
            stack += [(child, depth + 1) for child in item]
        elif isinstance(item, dict):
            for key, child in item.items():
                if not _encodes(str(key)):
                    return "a key with a lone surrogate cannot be encoded as UTF-8; remove it"
                stack.append((child, depth + 1))
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class DeclaredTypes:
    """Value objects and enums by name, for checking values of named types."""

    def __init__(self, value_objects: Mapping[str, ValueObject],
                 enums: Mapping[str, EnumType]) -> None:
        self.value_objects = value_objects
        self.enums = enums


def value_problem(value: JsonValue, expr: TypeExpr, types: DeclaredTypes) -> str | None:
    """None when ``value`` fits ``expr`` as a field's default, else what is wrong. A
    ``bytes`` field's own default is its text (generated as ``b"..."``); bytes anywhere
    else (in a list, a value object, a scenario) are JSON, so base64 text."""
    inner = expr.inner if isinstance(expr, Optional) else expr
    if isinstance(inner, Primitive) and inner.name == "bytes" and isinstance(value, str):
        return json_problem(value)
    # A list or value-object default is generated as JSON that pydantic validates as
    # written (kit.Field(default=..., validate_default=True)): nothing fills in a left-out
    # optional field there, unlike scenario values, which become constructor calls.
    return json_problem(value) or _value_problem(value, expr, types, as_written=True)


def wrapped(value: JsonValue, expr: TypeExpr | None) -> bool:
    """Whether generated code may put this value of a mapping in parentheses of its own
    (codegen.pysource.entry), so that it counts one level of nesting more (WRAPPED): its
    code starts with a name or a number. Written as JSON (``expr`` None: a default), only
    numbers do; as typed code (a scenario value of type ``expr``), every value but text,
    bytes, true/false and null. Generated code and validate both ask this one rule."""
    if value is None or isinstance(value, bool):
        return False
    if expr is None:
        return isinstance(value, int | float)
    inner = expr.inner if isinstance(expr, Optional) else expr
    if isinstance(inner, Primitive):
        return inner.name not in ("str", "bytes", "bool")
    return isinstance(inner, Named)


def _value_problem(value: JsonValue, expr: TypeExpr, types: DeclaredTypes,
                   as_written: bool = False, depth: int = 0) -> str | None:
    if depth > MAX_DEPTH:
        return f"values nest deeper than {MAX_DEPTH} levels ({WRAPPED}); flatten the value"
    if isinstance(expr, Optional):
        return None if value is None else _value_problem(value, expr.inner, types, as_written,
                                                         depth)
    if value is None:
        return f"null does not fit {expr}; make the type `{expr} | None` or give a value"
    if isinstance(expr, Primitive):
        return _primitive_problem(value, expr.name)
    if isinstance(expr, ListOf):
        if not isinstance(value, list):
            return f"expected a list for {expr}"
        for index, item in enumerate(value):
            problem = _value_problem(item, expr.item, types, as_written, depth + 1)
            if problem:
                return f"item {index + 1}: {problem}"
        return None
    if isinstance(expr, DictOf):
        if not isinstance(value, dict):
            return f"expected a mapping for {expr}"
        for key, item in value.items():
            problem = _value_problem(item, expr.value, types, as_written,
                                     depth + 1 + wrapped(item, None if as_written
                                                         else expr.value))
            if problem:
                return f"key {shown(key)}: {problem}"
        return None
    assert isinstance(expr, Named)
    if expr.name in types.enums:
        allowed = types.enums[expr.name].values
        if value not in allowed:
            return f"{shown(str(value))} is not a {expr.name}; use one of {', '.join(allowed)}"
        return None
    value_object = types.value_objects.get(expr.name)
    if value_object is None:
        return None  # the unknown type itself is reported elsewhere
    if not isinstance(value, dict):
        return f"expected a mapping of {expr.name}'s fields"
    return _payload_problem(value, value_object.fields, types, expr.name, as_written, depth)


def payload_problems(payload: Mapping[str, JsonValue], fields: Mapping[str, FieldSpec],
                     types: DeclaredTypes, owner: str) -> list[tuple[str | None, str]]:
    """Everything wrong with a scenario payload for the fields of ``owner``, one problem
    per field, each as (the field it is about, or None for the payload as a whole, what is
    wrong): a bad enum value never hides a bad datetime beside it."""
    problem = json_problem(dict(payload))
    if problem:
        return [(None, problem)]
    problems: list[tuple[str | None, str]] = []
    known = ", ".join(fields) or "none"
    for key in payload:
        if key not in fields:
            problems.append((key, f"{owner} has no field {shown(key)} (fields: {known})"))
    for name, spec in fields.items():
        problem = _field_problem(payload, name, spec, types, owner)
        if problem:
            problems.append((name if name in payload else None, problem))
    return problems


def _payload_problem(payload: Mapping[str, JsonValue], fields: Mapping[str, FieldSpec],
                     types: DeclaredTypes, owner: str, as_written: bool,
                     depth: int) -> str | None:
    unknown = [key for key in payload if key not in fields]
    if unknown:
        known = ", ".join(fields) or "none"
        return f"{owner} has no field {shown(unknown[0])} (fields: {known})"
    for name, spec in fields.items():
        problem = _field_problem(payload, name, spec, types, owner, as_written, depth + 1)
        if problem:
            return problem
    return None


def _field_problem(payload: Mapping[str, JsonValue], name: str, spec: FieldSpec,
                   types: DeclaredTypes, owner: str, as_written: bool = False,
                   depth: int = 1) -> str | None:
    try:
        expr = parse_type(spec.type)
    except ValueError:
        return None  # reported where the field is declared
    if name not in payload:
        if spec.has_default:
            return None
        if not isinstance(expr, Optional):
            return f"{owner} needs a value for field {shown(name)} ({spec.type})"
        if as_written:
            written = f"`{name}: null`" if len(name) <= 60 else "null"
            return (f"{owner} needs a value for field {shown(name)} ({spec.type}) in a "
                    f"default: a default is read as written, so write {written} for none")
        return None
    problem = _value_problem(payload[name], expr, types, as_written, depth)
    return f"field {shown(name)} of {owner}: {problem}" if problem else None


def _primitive_problem(value: JsonValue, name: str) -> str | None:
    ok: bool
    if name == "str":
        ok = isinstance(value, str)
    elif name == "bytes":  # generated code decodes it: kit.JsonBytes, typemap.value_expression
        ok = isinstance(value, str) and _parses(
            lambda: base64.b64decode(str(value).encode("ascii"), validate=True), value,
            (ValueError, UnicodeEncodeError))
    elif name == "bool":
        ok = isinstance(value, bool)
    elif name == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif name == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif name == "decimal":
        ok = len(str(value)) <= MAX_DECIMAL_TEXT and _parses(
            lambda: Decimal(str(value)).is_finite() or _not_finite(), value, (InvalidOperation,))
    elif name in FORMS:  # date, datetime, uuid: read alike by Python and by pydantic
        if isinstance(value, str):
            return text_problem(value, name)
        ok = False
    else:
        raise AssertionError(f"unknown primitive {name}")
    if ok:
        return None
    if name == "bytes":
        return (f"{shown(str(value)) if isinstance(value, str) else shown(repr(value))} is "
                f"not base64 text; bytes in scenarios and in lists or value objects are "
                f"written as base64 (\"AAEC/w==\" is the bytes 0, 1, 2, 255; \"\" is none)")
    said = shown(str(value)) if isinstance(value, str) else shown(repr(value))
    if name in FORMS:
        return f"{said} is not a valid {name}; write {FORMS[name]} (as text)"
    hint = ' such as "12.50"' if name == "decimal" else ""
    article = "an" if name == "int" else "a"
    return f"{said} is not a valid {name}; write {article} {name}{hint}"


def _not_finite() -> bool:
    raise InvalidOperation("not finite")


def _parses(parse: Callable[[], object], value: JsonValue,
            errors: tuple[type[Exception], ...]) -> bool:
    if isinstance(value, bool | list | dict) or value is None:
        return False
    try:
        parse()
    except errors:
        return False
    return True


MAX_NESTING = 16
"""Deepest chain of value objects that require one another (A needs a B needs a C...)."""


def value_object_nesting(types: DeclaredTypes) -> tuple[dict[str, str], dict[str, int]]:
    """(unending, depth). ``unending``: value objects no finite value can fill (``Node``
    requiring a ``Node``), each with a required field that makes it so; ``depth``: for the
    others, how deep their required value objects nest. Optional, list and dict fields
    and fields with a default always end; a value object ends when all its required
    fields do. Linear in the model (a topological order), never recursive."""
    needs: dict[str, list[tuple[str, str]]] = {}  # value object -> (field, value object)
    for name, value_object in types.value_objects.items():
        needs[name] = []
        for field, spec in value_object.fields.items():
            try:
                expr = parse_type(spec.type)
            except ValueError:
                continue  # reported where the field is declared
            if not spec.has_default and isinstance(expr, Named) \
                    and expr.name in types.value_objects:
                needs[name].append((field, expr.name))
    waiting = {name: len({other for _, other in pairs}) for name, pairs in needs.items()}
    needed_by: dict[str, set[str]] = {}
    for name, pairs in needs.items():
        for _, other in pairs:
            needed_by.setdefault(other, set()).add(name)
    depth: dict[str, int] = {}
    ready = [name for name, count in waiting.items() if count == 0]
    while ready:
        name = ready.pop()
        depth[name] = 1 + max((depth[other] for _, other in needs[name]), default=0)
        for user in sorted(needed_by.get(name, ())):
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    unending = {name: next(field for field, other in pairs if other not in depth)
                for name, pairs in needs.items() if name not in depth}
    return unending, depth
