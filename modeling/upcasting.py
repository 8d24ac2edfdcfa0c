"""What an upcaster from one locked schema version of an event to the next must do.

The mechanical part of a step (a rename, a field added with a default, a field dropped, a
field that lost or changed its default: payloads without it meant the old one) is derived
from the two schemas the lock keeps; what cannot be derived (a type change, a required
field added without a default) is listed as ``manual`` for a person to write.
This is the plan an upcaster stub is pre-filled from (codegen/upcasters.py); the runtime
applies the stubs when it decodes older events (aether/upcasting.py, docs/evolution.md).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from pydantic import JsonValue

from modeling.contract import Schema
from modeling.lock_checks import ambiguous_renames, paired_renames, same_default
from modeling.typeexpr import (
    Optional,
    Primitive,
    TypeSyntaxError,
    named_types,
    parse_type,
)


@dataclass(frozen=True)
class UpcastStep:
    event: str
    from_version: int
    to_version: int
    renames: dict[str, str] = field(default_factory=dict)  # old field -> new field
    defaults: dict[str, JsonValue] = field(default_factory=dict)  # field -> value if missing
    # A renamed old field that had a default: payloads stored before it was added lack it,
    # and meant its default (the lock keeps one schema per version, so it may be missing).
    rename_defaults: dict[str, JsonValue] = field(default_factory=dict)  # old field -> it
    dropped: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)  # what a person must write, in words

    def apply(self, data: dict[str, Any]) -> dict[str, Any]:
        """The mechanical part of the step on one payload (the manual part is not done)."""
        out = {self.renames.get(k, k): v for k, v in data.items() if k not in self.dropped}
        for old, default in self.rename_defaults.items():
            if old not in data:
                out[self.renames[old]] = default
        for name, default in self.defaults.items():
            out.setdefault(name, default)
        return out


def upcast_steps(event: str, versions: dict[str, Schema]) -> list[UpcastStep]:
    """One step per pair of consecutive locked versions of ``event``, oldest first."""
    ordered = sorted(((int(v), schema) for v, schema in versions.items()), key=lambda p: p[0])
    return [_step(event, a, old, b, new) for (a, old), (b, new) in pairwise(ordered)]


def _step(event: str, a: int, old_schema: Schema, b: int, new_schema: Schema) -> UpcastStep:
    old: dict[str, Any] = old_schema["fields"]
    new: dict[str, Any] = new_schema["fields"]
    old_types: dict[str, Any] = old_schema.get("types", {})
    new_types: dict[str, Any] = new_schema.get("types", {})
    defaults: dict[str, JsonValue] = {}
    rename_defaults: dict[str, JsonValue] = {}
    dropped: list[str] = []
    manual: list[str] = []
    renames = paired_renames(old, new)
    unsure = ambiguous_renames(old, new)
    for kind, (gone, came) in unsure.items():
        # Left for a person: neither dropped nor set from a default (see paired_renames).
        # "went ... came", not "map a, b to c, d": listed side by side, they read as pairs.
        manual.append(f"set {', '.join(came)} from what {', '.join(gone)} held (all {kind}): "
                      f"fields of one type went and came, and which became which only you "
                      f"know")
    undecided = {name for gone, came in unsure.values() for name in (*gone, *came)}
    for name in (f for f in old if f not in new and f not in undecided):
        if name not in renames:
            dropped.append(name)
        elif not old[name]["required"]:
            rename_defaults[name] = stored_default(old[name]["type"], old[name].get("default"))
    added = [f for f in new if f not in old and f not in undecided
             and f not in renames.values()]
    for name in added:
        if new[name]["required"]:
            manual.append(f"set {name} ({new[name]['type']}): it has no default")
        else:
            defaults[name] = stored_default(new[name]["type"], new[name].get("default"))
    for name in (f for f in old if f in new):
        if old[name]["type"] != new[name]["type"]:
            manual.append(f"convert {name} from {old[name]['type']} to {new[name]['type']}")
            continue
        if not old[name]["required"] and (new[name]["required"]
                                           or not same_default(old[name], new[name])):
            # A payload without it meant the old default, not the new one (or none).
            defaults[name] = stored_default(old[name]["type"], old[name].get("default"))
    # Kept or renamed, a field whose type is written the same may reach a value object or
    # enum whose shape changed: stored values no longer fit it.
    for was, now in [*((f, f) for f in old if f in new), *renames.items()]:
        reached = _reached(new_types, new[now]["type"])
        changed = [t for t, shape in _reached(old_types, old[was]["type"]).items()
                   if _breaks(shape, reached.get(t))]
        if changed and old[was]["type"] == new[now]["type"]:
            manual.append(f"convert {now} ({new[now]['type']}): "
                          f"{', '.join(changed)} changed since version {a}")
    return UpcastStep(event, a, b, renames, defaults, rename_defaults, dropped, manual)


def _reached(types: dict[str, Any], type_text: str) -> dict[str, Any]:
    """The locked value objects and enums a field's type reaches, by name."""
    found: dict[str, Any] = {}
    todo = [type_text]
    while todo:
        try:
            names = named_types(parse_type(todo.pop()))
        except TypeSyntaxError:
            continue
        for name in names:
            if name in found or name not in types:
                continue
            found[name] = types[name]
            todo += [spec.get("type", "") for spec in types[name].get("fields", {}).values()]
    return found


def _breaks(old: dict[str, Any], new: dict[str, Any] | None) -> bool:
    """Would a value stored with the ``old`` shape of a type fail the ``new`` one? An enum
    value gone; a value object's field gone (extra fields are refused), retyped, or added
    without a default. (Types it reaches are compared on their own.)"""
    if new is None:
        return True
    if "enum" in old or "enum" in new:
        return not set(old.get("enum", [None])) <= set(new.get("enum", []))
    was, now = old.get("fields", {}), new.get("fields", {})
    return any(field not in now or now[field].get("type") != spec.get("type")
               for field, spec in was.items()) or any(
        spec.get("required") and not was.get(field, {}).get("required", False)
        for field, spec in now.items())


def stored_default(type_text: str, default: JsonValue) -> JsonValue:
    """A default as the payload stores it. A ``bytes`` field's own default is its text
    (``b"..."`` in the class), but payloads carry bytes as base64, which ``kit.JsonBytes``
    decodes: the raw text there would fail to decode, or decode to other bytes."""
    try:
        expr = parse_type(type_text)
    except TypeSyntaxError:
        return default
    inner = expr.inner if isinstance(expr, Optional) else expr
    if isinstance(inner, Primitive) and inner.name == "bytes" and isinstance(default, str):
        return base64.b64encode(default.encode()).decode("ascii")
    return default
