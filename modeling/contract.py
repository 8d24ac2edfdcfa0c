"""The published contract of a model: each event's schema per ``schema_version``, and its lock.

Stored events live for ever, so what an event looked like when it was written matters as
much as what it looks like now. ``aether-gen generate`` writes ``<model stem>.lock.json``
beside the model: for every event, the schema of every ``schema_version`` it has had
(older versions are kept when the version is bumped, so an upcaster knows what it reads).

An event schema is kept in the model's own notation (field types as written in the model,
``required`` when the field has no default), with every value object and enum it reaches
copied in, so each version stands alone even after a shared value object changes later.
The lock is plain JSON with sorted keys and no timestamps: the same model and the same
previous lock always give the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from modeling.index import index_model
from modeling.typeexpr import TypeSyntaxError, named_types, parse_type
from modeling.types import EnumType, EventDef, FieldSpec, Model, ValueObject
from modeling.values import DeclaredTypes, value_problem
from modeling.yaml_source import load_yaml

LOCK_FORMAT: Final = 1
LOCK_SUFFIX: Final = ".lock.json"

Schema = dict[str, Any]
"""One event version: {"description", "fields": {name: field}, "types": {name: type}}."""
Lock = dict[str, Any]
"""{"aether_lock", "model", "model_version", "events": {name: {"context", "aggregate",
"schema_version", "versions": {"1": Schema, ...}}}}"""


class LockError(ValueError):
    """A lock file that cannot be read; says which file and what to do."""


def lock_path(model_file: Path) -> Path:
    """``orders/model.yaml`` -> ``orders/model.lock.json``."""
    return model_file.with_name(model_file.stem + LOCK_SUFFIX)


def field_schema(spec: FieldSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"type": _canonical(spec.type), "required": not spec.has_default}
    if spec.has_default:
        out["default"] = spec.default
    if spec.description:
        out["description"] = spec.description
    return out


def _canonical(text: str) -> str:
    try:
        return str(parse_type(text))
    except TypeSyntaxError:  # validation reports it; the contract keeps the text as written
        return text


def _declared_types(model: Model) -> dict[str, ValueObject | EnumType]:
    found: dict[str, ValueObject | EnumType] = {}
    for context in model.contexts:
        for value_object in context.value_objects:
            found.setdefault(value_object.name, value_object)
        for enum in context.enums:
            found.setdefault(enum.name, enum)
    return found


def _referenced(fields: dict[str, FieldSpec]) -> list[str]:
    names: list[str] = []
    for spec in fields.values():
        try:
            names += named_types(parse_type(spec.type))
        except TypeSyntaxError:
            continue
    return names


def event_schema(event: EventDef, declared: dict[str, ValueObject | EnumType]) -> Schema:
    """The schema of one event as it is now, with the types it reaches copied in."""
    types: dict[str, Any] = {}
    pending = _referenced(event.fields)
    while pending:  # iterative: value objects may refer to each other (validate bounds depth)
        name = pending.pop()
        if name in types or name not in declared:
            continue
        declared_type = declared[name]
        if isinstance(declared_type, EnumType):
            types[name] = {"enum": list(declared_type.values)}
        else:
            types[name] = {"fields": {n: field_schema(s)
                                      for n, s in declared_type.fields.items()}}
            pending += _referenced(declared_type.fields)
    schema: Schema = {"fields": {n: field_schema(s) for n, s in event.fields.items()}}
    if event.description:
        schema["description"] = event.description
    if types:
        schema["types"] = dict(sorted(types.items()))
    return schema


def contract(model: Model) -> Lock:
    """The model's current contract: every event at its current ``schema_version`` only."""
    index = index_model(model)
    declared = _declared_types(model)
    events: dict[str, Any] = {}
    for entry in index.entries:
        if entry.kind != "event" or entry.name in events:
            continue
        event, _owner = index.events[entry.name]
        events[entry.name] = {
            "context": entry.context,
            "aggregate": entry.aggregate,
            "schema_version": event.schema_version,
            "versions": {str(event.schema_version): event_schema(event, declared)},
        }
    return {"aether_lock": LOCK_FORMAT, "model": model.name, "model_version": model.version,
            "events": events}


def merged_lock(previous: Lock | None, current: Lock) -> Lock:
    """The lock to write: the current contract plus every older version the previous lock
    recorded below each event's current ``schema_version`` (events the model no longer has
    are dropped: removing one is a breaking change that check and validate report first)."""
    merged: Lock = json.loads(json.dumps(current))
    old_events = (previous or {}).get("events", {})
    for name, entry in merged["events"].items():
        old = old_events.get(name)
        if not isinstance(old, dict):
            continue
        for version, schema in old.get("versions", {}).items():
            if version.isdigit() and int(version) < entry["schema_version"]:
                entry["versions"].setdefault(version, schema)
        entry["versions"] = dict(sorted(entry["versions"].items(), key=lambda kv: int(kv[0])))
    return merged


def render_lock(lock: Lock) -> str:
    """Readable and deterministic: two-space indent, sorted keys, a final newline."""
    return json.dumps(lock, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def parse_lock(text: str, name: str) -> Lock:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise LockError(f"{name}:{error.lineno}:{error.colno}: not a valid lock ({error.msg}); "
                        f"restore it from version control, or delete it and run "
                        f"aether-gen generate to write a new one") from None
    if not isinstance(data, dict) or data.get("aether_lock") != LOCK_FORMAT or not isinstance(
            data.get("events"), dict):
        raise LockError(f"{name}:1:1: not an aether-gen lock (format {LOCK_FORMAT}); restore it "
                        f"from version control, or delete it and run aether-gen generate")
    for event, entry in data["events"].items():
        versions = entry.get("versions") if isinstance(entry, dict) else None
        if (not isinstance(versions, dict) or not versions
                or not all(k.isdigit() and _schema_ok(v) for k, v in versions.items())):
            raise LockError(f"{name}:1:1: the lock's entry for event {str(event)[:80]!r} is "
                            f"damaged; restore the lock from version control")
        for version, schema in versions.items():
            found = _schema_problem(schema)
            if found is not None:
                where, problem = found
                raise LockError(
                    f"{_locate(text, name, ('events', event, 'versions', version, *where))}: "
                    f"version {version} of event {str(event)[:80]!r} in the lock: {problem}; "
                    f"restore the lock from version control")
    return data


def _schema_problem(schema: Schema) -> tuple[tuple[str, ...], str] | None:
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
        return ("types",), f"a type is damaged ({str(error).splitlines()[0]})"
    groups = [(("fields",), schema["fields"])] + [
        (("types", n, "fields"), t["fields"]) for n, t in locked.items() if "enum" not in t]
    for base, fields in groups:
        for field, spec in fields.items():
            try:
                expr = parse_type(spec["type"])
            except TypeSyntaxError as error:
                return (*base, field, "type"), f"field {field!r}: {error}"
            unknown = [t for t in named_types(expr) if t not in locked]
            if unknown:
                return ((*base, field, "type"),
                        f"field {field!r} has type {unknown[0]!r}, which the version does not "
                        f"carry under `types`")
            problem = None if spec["required"] else value_problem(spec.get("default"), expr,
                                                                  types)
            if problem is not None:
                return (*base, field, "default"), f"default of field {field!r}: {problem}"
    return None


def _spec(field: dict[str, Any]) -> FieldSpec:
    if field["required"]:
        return FieldSpec(type=field["type"])
    return FieldSpec(type=field["type"], default=field.get("default"))


def _locate(text: str, name: str, path: tuple[str, ...]) -> str:
    """file:line:col of a value in the lock's JSON (JSON is YAML), or of the nearest value
    around it that can be found."""
    _, source, _ = load_yaml(text, name)
    return str(source.locate(path))


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


def read_lock(path: Path) -> Lock | None:
    """The lock at ``path``, or None when there is none yet."""
    if not path.exists():
        return None
    return parse_lock(path.read_text(encoding="utf-8"), str(path))


def latest(entry: dict[str, Any]) -> tuple[int, Schema]:
    """An event's newest locked version and its schema."""
    version = max(int(v) for v in entry["versions"])
    schema: Schema = entry["versions"][str(version)]
    return version, schema
