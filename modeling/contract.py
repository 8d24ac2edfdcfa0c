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

from modeling.identity import id_prefix
from modeling.index import index_model
from modeling.lock_checks import field_groups, schema_problem, structure_problem, version_key
from modeling.names import printable, shown
from modeling.typeexpr import TypeSyntaxError, named_types, parse_type
from modeling.types import EnumType, EventDef, FieldSpec, Model, ValueObject, one_spelling
from modeling.yaml_source import load_yaml

LOCK_FORMAT: Final = 1
LOCK_SUFFIX: Final = ".lock.json"

Schema = dict[str, Any]
"""One event version: {"description", "fields": {name: field}, "types": {name: type}}."""
Lock = dict[str, Any]
"""{"aether_lock", "model", "model_version", "events": {name: {"context", "aggregate",
"schema_version", "versions": {"1": Schema, ...}, and "actor_prefix" and "actor_id_field"
where the model fixes the streams the event is stored in}}, "removed_events": {the same,
for events the model had and no longer has}}"""


class LockError(ValueError):
    """A lock file that cannot be read; says which file and what to do."""


def lock_path(model_file: Path) -> Path:
    """``orders/model.yaml`` -> ``orders/model.lock.json``."""
    return model_file.with_name(model_file.stem + LOCK_SUFFIX)


def field_schema(spec: FieldSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"type": spec.type, "required": not spec.has_default}
    if spec.has_default:
        out["default"] = spec.default
    if spec.description:
        out["description"] = spec.description
    return out


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
        event, owner = index.events[entry.name]
        events[entry.name] = {
            "context": entry.context,
            "aggregate": entry.aggregate,
            "schema_version": event.schema_version,
            "versions": {str(event.schema_version): event_schema(event, declared)},
        }
        # Stored events stay in the streams they were written to, and an aggregate loads
        # its history from them: the lock remembers where the model puts an aggregate's
        # events, so a rename that moves them is found (changes.py). (An external system's
        # streams are never loaded as a history: a renamed one starts new streams, losing
        # nothing.)
        if owner is not None and owner.id is not None:
            events[entry.name]["actor_prefix"] = id_prefix(owner)
            events[entry.name]["actor_id_field"] = owner.id
    return {"aether_lock": LOCK_FORMAT, "model": model.name, "model_version": model.version,
            "events": events}


def merged_lock(previous: Lock | None, current: Lock) -> Lock:
    """The lock to write: the current contract plus every older version the previous lock
    recorded below each event's current ``schema_version``. An event the model no longer
    has (removing one is a breaking change that check and validate report first) keeps its
    versions under ``removed_events``: its events are still stored, so adding it back is
    checked against them, and its older versions are there for the upcasters."""
    merged: Lock = json.loads(json.dumps(current))
    before = previous or {}
    old_events: dict[str, Any] = {**before.get("removed_events", {}), **before.get("events", {})}
    for name, entry in merged["events"].items():
        old = old_events.get(name)
        if not isinstance(old, dict):
            continue
        for version, schema in old.get("versions", {}).items():
            number = version_key(version)
            if number is not None and number < entry["schema_version"]:
                entry["versions"].setdefault(version, schema)
        entry["versions"] = dict(sorted(entry["versions"].items(), key=lambda kv: int(kv[0])))
    removed = {name: json.loads(json.dumps(entry)) for name, entry in old_events.items()
               if name not in merged["events"]}
    if removed:
        merged["removed_events"] = removed
    return merged


def render_lock(lock: Lock) -> str:
    """Readable and deterministic: two-space indent, sorted keys, a final newline."""
    return json.dumps(lock, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def parse_lock(text: str, name: str) -> Lock:
    """The lock in ``text`` (read from ``name``), checked so that nothing reading it later
    can fail on it: any damage is a LockError at its place in the file."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise _damaged(f"{name}:{error.lineno}:{error.colno}", error.msg) from None
    except (ValueError, RecursionError) as error:  # NaN, a 5000-digit number, deep nesting
        what = str(error) if isinstance(error, ValueError) else "nested too deeply"
        raise _damaged(f"{name}:1:1", printable(what)) from None
    try:  # "\ud800" is valid JSON, but no text: the lock could not be written back
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise _damaged(f"{name}:1:1", "a \\u escape of half a surrogate pair") from None
    found = structure_problem(data, LOCK_FORMAT)
    if found is not None:
        where, what = found
        raise _damaged(_locate(text, name, where), what)
    for group in ("events", "removed_events"):
        for event, entry in data.get(group, {}).items():
            for version, schema in entry["versions"].items():
                problem = schema_problem(schema)
                if problem is not None:
                    where, what = problem
                    at = _locate(text, name, (group, event, "versions", version, *where))
                    raise LockError(f"{at}: version {version} of event {shown(event, 80)} in "
                                    f"the lock: {what}; restore the lock from version control")
                # Types in the one spelling the model's are in: a hand-edited `str|None`
                # is no change from `str | None`.
                for _, fields in field_groups(schema):
                    for spec in fields.values():
                        spec["type"] = one_spelling(spec["type"])
    lock: Lock = data
    return lock


def _refuse_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _damaged(where: str, what: str) -> LockError:
    return LockError(f"{where}: not a valid lock ({what}); restore it from version control, "
                     f"or delete it and run aether-gen generate to write a new one")


def _locate(text: str, name: str, path: tuple[str, ...]) -> str:
    """file:line:col of a value in the lock's JSON (JSON is YAML), or of the nearest value
    around it that can be found."""
    _, source, _ = load_yaml(text, name)
    return str(source.locate(path))


def read_lock(path: Path) -> Lock | None:
    """The lock at ``path``, or None when there is none yet."""
    if not path.exists():
        return None
    return parse_lock(read_lock_text(path, str(path)), str(path))


def read_lock_text(path: Path, name: str) -> str:
    """The text of a lock file; bytes that are not UTF-8 are a LockError at their place."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise _damaged(f"{name}:{line}:{column}", "a byte that is not UTF-8") from None


def latest(entry: dict[str, Any]) -> tuple[int, Schema]:
    """An event's newest locked version and its schema."""
    version = max(int(v) for v in entry["versions"])
    schema: Schema = entry["versions"][str(version)]
    return version, schema
