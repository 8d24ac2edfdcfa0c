"""What a lock must hold before anything reads it, and how text from it is shown.

A lock is committed, merged and sometimes edited by hand, so every value in it is checked
against the shape the readers (modeling/changes.py, modeling/contract.py's merge, the
upcaster views) rely on: a damaged lock is a located error naming the fix, never a crash
further on. Version keys are canonical ASCII numbers (``"01"``, an Arabic-Indic one or a
superscript two all pass ``str.isdigit()`` but name no version, or another than they spell).

Names and values from a lock reach messages through :func:`printable`: a plain name as
written, anything else quoted like ``repr`` (modeling/names.py's ``shown``), so a line
break in a field name cannot split one message into two (the second forging a summary),
nor a bidi control reorder what the terminal shows.
"""

from __future__ import annotations

import json
import re
from typing import Any

from modeling.names import printable, shown
from modeling.typeexpr import TypeSyntaxError, named_types, parse_type
from modeling.types import MAX_VERSION, EnumType, FieldSpec, ValueObject
from modeling.values import DeclaredTypes, value_problem

Where = tuple[str, ...]
Problem = tuple[Where, str]
"""(where in the lock's JSON, what is wrong with it)"""

_VERSION_KEY = re.compile(r"[1-9][0-9]{0,9}")


def version_key(key: str) -> int | None:
    """The version a ``versions`` key names, or None when it is not a canonical number."""
    if _VERSION_KEY.fullmatch(key) is None or int(key) > MAX_VERSION:
        return None
    return int(key)


def same_default(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether two locked fields' defaults are one JSON value (``1``, ``1.0`` and ``true``
    are not: each reads back as its own type)."""
    return json.dumps(old.get("default"), sort_keys=True) == json.dumps(
        new.get("default"), sort_keys=True)


def went_and_came(old: dict[str, Any], new: dict[str, Any]
                  ) -> dict[str, tuple[list[str], list[str]]]:
    """Type -> (the fields of it that went, those of it that came), between two schemas'
    fields, in their order."""
    moved: dict[str, tuple[list[str], list[str]]] = {}
    for name, spec in old.items():
        if name not in new:
            moved.setdefault(spec["type"], ([], []))[0].append(name)
    for name, spec in new.items():
        if name not in old:
            moved.setdefault(spec["type"], ([], []))[1].append(name)
    return moved


def paired_renames(old: dict[str, Any], new: dict[str, Any]) -> dict[str, str]:
    """Old field -> new field, for each field that went while one of its type came: a rename,
    as far as two schemas tell. Only where the type is unambiguous (one field of it went, one
    came): two of one type renamed at once could be paired either way, and pairing them wrong
    would swap stored values without a word (see ambiguous_renames)."""
    return {gone[0]: came[0] for gone, came in went_and_came(old, new).values()
            if len(gone) == 1 and len(came) == 1}


def ambiguous_renames(old: dict[str, Any], new: dict[str, Any]
                      ) -> dict[str, tuple[list[str], list[str]]]:
    """Type -> (fields that went, fields that came), where fields of one type both went and
    came, more than one of them on a side: renames perhaps, but which is which is a
    person's to say."""
    return {kind: (gone, came) for kind, (gone, came) in went_and_came(old, new).items()
            if gone and came and (len(gone) > 1 or len(came) > 1)}


def _is_version(value: Any) -> bool:
    return type(value) is int and 1 <= value <= MAX_VERSION


def structure_problem(data: Any, lock_format: int) -> Problem | None:
    """The first value of a parsed lock that is not where or what a lock has it."""
    if not isinstance(data, dict) or type(data.get("aether_lock")) is not int \
            or data["aether_lock"] != lock_format:
        return (), f"not an aether-gen lock (format {lock_format})"
    if not isinstance(data.get("model", ""), str):
        return ("model",), "`model` is not text"
    if not _is_version(data.get("model_version", 1)):
        return ("model_version",), (f"`model_version` is not a whole number from 1 to "
                                    f"{MAX_VERSION:_}")
    if "events" not in data:
        return (), "it has no `events`"
    for group in ("events", "removed_events"):
        entries = data.get(group, {})
        if not isinstance(entries, dict):
            return (group,), f"`{group}` is not a mapping of events"
        for event, entry in entries.items():
            problem = _entry_problem(entry)
            if problem is not None:
                where, what = problem
                return (group, event, *where), f"event {printable(event)}: {what}"
    return None


def _entry_problem(entry: Any) -> Problem | None:
    if not isinstance(entry, dict):
        return (), "its entry is not a mapping"
    versions = entry.get("versions")
    if not isinstance(versions, dict) or not versions:
        return ("versions",), "`versions` is missing or empty"
    for key, schema in versions.items():
        if version_key(key) is None:
            return ("versions", key), (f"version {shown(key)} is not a version number "
                                       f"(write it as 1, 2, ...)")
        if not _schema_ok(schema):
            return ("versions", key), (f"version {key} is damaged (each field needs a text "
                                       f"`type` and a true/false `required`, each type an "
                                       f"`enum` list or `fields`)")
    for key, kinds in (("context", (str,)), ("aggregate", (str, type(None)))):
        if not isinstance(entry.get(key), kinds):
            return (key,), f"`{key}` is missing or not text"
    for key in ("actor_prefix", "actor_id_field"):
        if not isinstance(entry.get(key, ""), str):
            return (key,), f"`{key}` is not text"
    newest = max(int(key) for key in versions)
    if not _is_version(entry.get("schema_version")) or entry["schema_version"] != newest:
        return ("schema_version",), f"`schema_version` is not its newest version ({newest})"
    return None


def _fields_ok(fields: Any) -> bool:
    return isinstance(fields, dict) and all(
        isinstance(f, dict) and isinstance(f.get("type"), str)
        and isinstance(f.get("required"), bool) for f in fields.values())


def _schema_ok(schema: Any) -> bool:
    """The shape compare() relies on, so a hand-edited lock is an error, not a crash."""
    if not isinstance(schema, dict) or not _fields_ok(schema.get("fields")):
        return False
    types = schema.get("types", {})
    return isinstance(types, dict) and all(
        isinstance(t, dict) and (isinstance(t.get("enum"), list) if "enum" in t
                                 else _fields_ok(t.get("fields")))
        for t in types.values())


def field_groups(schema: dict[str, Any]) -> list[tuple[Where, dict[str, Any]]]:
    """Every mapping of fields in a locked version, with where it is: the event's own,
    then each value object's."""
    return [(("fields",), schema["fields"])] + [
        (("types", name, "fields"), kind["fields"])
        for name, kind in schema.get("types", {}).items() if "enum" not in kind]


def schema_problem(schema: dict[str, Any]) -> Problem | None:
    """(where in the schema, what is wrong) for a locked version generate could not compile
    (its upcaster tests build payloads from it): a type that does not parse or names a type
    the version does not carry, a default that does not fit its type."""
    locked: dict[str, Any] = schema.get("types", {})
    try:
        types = DeclaredTypes(
            {n: ValueObject(name=n, fields={f: _spec(s) for f, s in t["fields"].items()})
             for n, t in locked.items() if "enum" not in t},
            {n: EnumType(name=n, values=t["enum"]) for n, t in locked.items() if "enum" in t})
    except ValueError as error:  # pydantic's ValidationError: a default or value not JSON
        return ("types",), f"a type is damaged ({printable(str(error).splitlines()[0])})"
    for base, fields in field_groups(schema):
        for field, spec in fields.items():
            try:
                expr = parse_type(spec["type"])
            except TypeSyntaxError as error:
                return (*base, field, "type"), f"field {shown(field)}: {error}"
            unknown = [t for t in named_types(expr) if t not in locked]
            if unknown:
                return ((*base, field, "type"),
                        f"field {shown(field)} has type {shown(unknown[0])}, which "
                        f"the version does not carry under `types`")
            problem = None if spec["required"] else value_problem(spec.get("default"), expr,
                                                                  types)
            if problem is not None:
                return ((*base, field, "default"),
                        f"default of field {shown(field)}: {printable(problem)}")
    return None


def _spec(field: dict[str, Any]) -> FieldSpec:
    if field["required"]:
        return FieldSpec(type=field["type"])
    return FieldSpec(type=field["type"], default=field.get("default"))
