"""Which names a model may use: everything generated code turns a name into must compile.

Each check yields (path, message, code); names become classes, modules, methods, enum
members and the generated package, so the rules here are the ones aether-gen's output
needs (see ``modeling.names`` for why the list is this short).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Iterator

from modeling.index import Entry, Kind, ModelIndex
from modeling.names import (
    AMBIGUOUS,
    BUILTIN_CLASSES,
    DERIVED_SUFFIXES,
    MAX_NAME_LENGTH,
    MAX_SNAKE_LENGTH,
    PASCAL,
    SNAKE,
    is_reserved_field,
    module_name,
    shadowing,
    short,
    shown,
    snake_case,
)
from modeling.source import Path
from modeling.types import Model

Problem = tuple[Path, str, str]

KIND_WORD: dict[Kind, str] = {
    "context": "context", "actor": "actor", "value_object": "value object", "enum": "enum",
    "aggregate": "aggregate", "command": "command", "event": "event", "policy": "policy",
    "read_model": "read model", "external_system": "external system",
}
_DERIVED_WHAT = {"State": "state class", "Base": "base class", "Row": "row class"}
_MODULE_FIELDS = frozenset({
    "str", "int", "float", "bool", "bytes", "list", "dict", "date", "datetime", "uuid",
    "decimal", "kit", "typing", "abc", "enum", "collections", "asyncio", "pydantic"})
_ENUM_VALUE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def _too_long(what: str, name: str) -> str | None:
    if len(name) <= MAX_NAME_LENGTH:
        return None
    return (f"{what} {shown(name)} is too long: names have at most {MAX_NAME_LENGTH} "
            f"characters (they become class, module and method names in 100-column code); "
            f"shorten it")


def model_name_problems(model: Model) -> Iterator[Problem]:
    name = model.name
    long = _too_long("model name", name)
    if long:
        yield ("model",), long, "bad-name"
    elif not SNAKE.fullmatch(name) or keyword.iskeyword(name):
        suggestion = snake_identifier(name) or "my_model"
        yield (("model",), f"model name {shown(name)} must be a snake_case Python identifier "
               f"(it names the generated package); write {shown(suggestion)}", "bad-name")
    elif (user := shadowing(name)) is not None:
        yield (("model",), f"model name {shown(name)} would name a generated package that "
               f"shadows the module {name!r} {user}; write {shown(unshadowed(name))} or "
               f"another name", "bad-name")


def package_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a generated package (``--package``), or None."""
    if not SNAKE.fullmatch(name) or keyword.iskeyword(name) or len(name) > MAX_NAME_LENGTH:
        return f"package name {shown(name)} is not a lowercase Python identifier"
    user = shadowing(name)
    if user is not None:
        return f"package name {shown(name)} would shadow the module {name!r} {user}"
    return None


def unshadowed(name: str) -> str:
    """A package name like ``name`` that shadows nothing: ``json`` -> ``json_model``."""
    better = f"{name[:MAX_NAME_LENGTH - 6]}_model"
    return better if shadowing(better) is None else "my_model"


def element_name_problems(index: ModelIndex,
                          line_of: Callable[[Path], int]) -> Iterator[Problem]:
    first_seen: dict[str, Entry] = {}
    by_snake: dict[str, Entry] = {}
    derived = {f"{entry.name}{suffix}": (entry, suffix) for entry in index.entries
               for suffix in DERIVED_SUFFIXES.get(entry.kind, ())}
    for entry in index.entries:
        path, what = (*entry.path, "name"), f"{KIND_WORD[entry.kind]} name"
        long = _too_long(what, entry.name)
        if long:
            yield path, long, "bad-name"
            continue
        snake = snake_case(entry.name)
        if entry.kind != "actor" and len(snake) > MAX_SNAKE_LENGTH:
            yield (path, f"{what} {shown(entry.name)} is too long as a module and method "
                   f"name: its snake_case form has {len(snake)} characters, and at most "
                   f"{MAX_SNAKE_LENGTH} keep generated lines within 100 columns; use fewer "
                   f"words", "bad-name")
            continue
        if entry.name in BUILTIN_CLASSES:
            yield (path, f"{what} {shown(entry.name)} is a Python builtin, which generated "
                   f"code (and yours) needs; write a name of your domain, e.g. "
                   f"{shown(entry.name + 'Event' if entry.kind == 'event' else 'My' + entry.name)}",
                   "reserved-name")
            continue
        if entry.name in AMBIGUOUS:
            yield (path, f"{what} {shown(entry.name)} reads like a digit; write a longer "
                   f"name", "bad-name")
            continue
        if not PASCAL.fullmatch(entry.name) or keyword.iskeyword(entry.name):
            yield (path, f"{what} {shown(entry.name)} must be a PascalCase identifier; write "
                   f"{shown(pascal_identifier(entry.name))}", "bad-name")
            continue
        if entry.kind == "actor":
            # Actors become no Python name (a command only records who issues it), so the
            # person `Patron` and the aggregate `Patron` may share a name, and an actor may
            # recur in every context it works in.
            continue
        earlier = first_seen.setdefault(entry.name, entry)
        if earlier is not entry:
            yield (path, f"{what} {shown(entry.name)} is already used by the "
                   f"{KIND_WORD[earlier.kind]} at line {line_of((*earlier.path, 'name'))}; "
                   f"names of everything but actors are unique across the model (they become "
                   f"classes of one package)", "duplicate-name")
            continue
        twin = by_snake.setdefault(snake_case(entry.name), entry)
        if twin is not entry:
            yield (path, f"{what} {shown(entry.name)} and the {KIND_WORD[twin.kind]} "
                   f"{shown(twin.name)} both become `{module_name(entry.name)}` in module and "
                   f"method names; names must differ in more than letter case: rename one",
                   "duplicate-name")
        owner = derived.get(entry.name)
        if owner is not None:
            element, suffix = owner
            yield (path, f"{what} {shown(entry.name)} is the name aether-gen gives the "
                   f"{_DERIVED_WHAT[suffix]} of {KIND_WORD[element.kind]} {short(element.name)}; "
                   f"rename this {KIND_WORD[entry.kind]} (or {short(element.name)})",
                   "reserved-name")


def enum_value_problems(model: Model) -> Iterator[Problem]:
    for c, context in enumerate(model.contexts):
        for e, enum in enumerate(context.enums):
            members: dict[str, str] = {}
            for v, value in enumerate(enum.values):
                path: Path = ("contexts", c, "enums", e, "values", v)
                what = f"enum value {shown(value)} of {short(enum.name)}"
                long = _too_long("enum value", value)
                if long:
                    yield path, long, "bad-name"
                elif not _ENUM_VALUE.fullmatch(value):
                    better = snake_identifier(value).strip("_") or "value"
                    yield (path, f"{what} must be an ASCII identifier that starts with a "
                           f"letter (the member is its upper case, and Python's enum reserves "
                           f"names that start with _); write {shown(better)}", "bad-name")
                elif value.upper() in AMBIGUOUS:
                    yield (path, f"{what} becomes the member {value.upper()}, which reads "
                           f"like a digit; write a longer value", "bad-name")
                elif value.upper() in members:
                    other = members[value.upper()]
                    same = "repeats" if other == value else f"and {shown(other)} both become member"
                    yield (path, f"{what} {same} {value.upper()}; keep one", "duplicate-name")
                else:
                    members[value.upper()] = value
            if not enum.values:
                yield (("contexts", c, "enums", e),
                       f"enum {short(enum.name)} needs at least one value", "empty-enum")


def field_name_problem(name: str, owner: str) -> str | None:
    if len(name) > MAX_NAME_LENGTH:
        return (f"field name {shown(name)} of {owner} is too long: names have at most "
                f"{MAX_NAME_LENGTH} characters; shorten it")
    if not SNAKE.fullmatch(name):
        return (f"field name {shown(name)} of {owner} must be snake_case; write "
                f"{shown(snake_identifier(name) or 'value')}")
    if not is_reserved_field(name):
        return None
    why = ("a Python keyword" if keyword.iskeyword(name) else
           "it reads like the digit 1" if name in AMBIGUOUS else
           "generated code needs it" if name in {"self", "cls"} or (name.islower() and
           name in _MODULE_FIELDS) else "pydantic or aether defines it on generated classes")
    better = name.removeprefix("model_") or "value"
    while is_reserved_field(better):
        better += "_"
    return f"field name {shown(name)} of {owner} is reserved ({why}); write {shown(better)}"


def pascal_identifier(name: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+|_", name)
    result = "".join(part[:1].upper() + part[1:] for part in parts if part)
    return result if result[:1].isalpha() else f"X{result}"


def snake_identifier(name: str) -> str:
    """A snake_case identifier made from ``name`` ("" from nothing usable): never a
    keyword, so what a message suggests is accepted (``class`` -> ``class_``)."""
    text = snake_case(name)
    text = text if text[:1].isalpha() else f"x_{text}" if text else ""
    return f"{text}_" if keyword.iskeyword(text) else text
