"""Changes between two contracts (see modeling/contract.py), each compatible or breaking.

Breaking means an event already stored (or already published to a consumer) no longer
decodes as the new model says: a field removed or renamed, a type changed, a required
field added without a default, an event removed or renamed, an enum value removed.
An event whose streams move is breaking too: its aggregate renamed (or given another
``id_prefix``) records it under new actor ids, and the stored histories under the old ones
are no longer loaded. Compatible: an optional field (one with a default) added, a
description changed, an event or enum value added, a default changed (stored events all
decode; those written without the field read the new default, which is reported so a
person can judge it).

A field losing its default is breaking even when it was in the schema from the start: a
compatible change keeps the event's ``schema_version``, so the lock overwrites that
version's schema in place and cannot tell a field that was always there from one added
with a default later, which events written before lack. An event removed keeps its
versions in the lock (``removed_events``); adding it back is compared with them.

A breaking change to an event is *versioned* when the new model bumped that event's
``schema_version`` past the locked one (old events are then upcast, not mis-read); an
event removed, renamed or moved to other streams is versioned when the model's own
``version`` was bumped (the histories were moved, or are given up, on purpose). Only
unversioned breaking changes fail ``check``, ``validate`` and ``generate``.

A breaking change to an event other contexts consume (see modeling/context_map.py) says
so: ``breaking (consumed by Shipping)``. When a consumer relies on it as the upstream's
published language or open host service, even a versioned change stays flagged (``check``
fails): an upcaster mends stored events, not the other team's reading of the contract.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from modeling.contract import Lock, Schema, latest
from modeling.identity import ID_PREFIX
from modeling.lock_checks import paired_renames, same_default
from modeling.names import printable as _n
from modeling.names import shown
from modeling.source import Location

Kind = Literal[
    "optional-field-added", "description-changed", "event-added", "enum-value-added",
    "schema-version-bumped", "default-changed",
    "field-removed", "field-renamed", "type-changed", "required-field-added",
    "default-removed",
    "event-removed", "event-renamed", "enum-value-removed", "schema-version-lowered",
    "streams-moved",
]
BREAKING: frozenset[str] = frozenset({
    "field-removed", "field-renamed", "type-changed", "required-field-added",
    "default-removed",
    "event-removed", "event-renamed", "enum-value-removed", "schema-version-lowered",
    "streams-moved",
})

Where = tuple[str, ...]
"""Where a change is, in the new model: ("event", E) / ("event", E, "fields", F) /
("event", E, "description") / ("type", T, "fields", F) / ("type", T, "values", V) /
("context", C)."""
Locator = Callable[[Where], Location]


@dataclass(frozen=True, order=True)
class Change:
    location: Location
    event: str
    kind: Kind
    message: str
    versioned: bool = False  # a breaking change the new model declared by a version bump
    consumers: tuple[str, ...] = ()  # other contexts that react to or read the event
    published_to: tuple[str, ...] = ()  # those of them relying on a published language

    @property
    def breaking(self) -> bool:
        return self.kind in BREAKING

    @property
    def failing(self) -> bool:
        return self.breaking and not self.versioned

    @property
    def flagged(self) -> bool:
        """What ``check`` fails on: an unversioned breaking change, or any breaking change
        to an event another context relies on as a published language."""
        return self.failing or (self.breaking and bool(self.published_to))

    def __str__(self) -> str:
        if not self.breaking:
            return f"{self.location}: compatible: {self.kind}: {self.message}"
        notes = ["versioned"] if self.versioned else []
        if self.consumers:
            plain = [c for c in self.consumers if c not in self.published_to]
            parts = [", ".join(plain)] if plain else []
            if self.published_to:
                parts.append(f"{', '.join(self.published_to)} as a published language")
            notes.append(f"consumed by {', and by '.join(parts)}")
        severity = f"breaking ({', '.join(notes)})" if notes else "breaking"
        return f"{self.location}: {severity}: {self.kind}: {self.message}"


def compare(old: Lock, new: Lock, locate: Locator,
            aggregates: set[str] | None = None) -> list[Change]:
    """Every change from ``old`` (a lock, or another model's contract) to ``new`` (the
    current model's contract), located in the new model; ``aggregates``: the names of the
    new model's aggregates (else those that own an event of ``new``)."""
    changes: list[Change] = []
    old_events: dict[str, Any] = old["events"]
    new_events: dict[str, Any] = new["events"]
    model_bumped = int(new.get("model_version", 1)) > int(old.get("model_version", 1))
    if aggregates is None:
        aggregates = {str(entry["aggregate"]) for entry in new_events.values()
                      if entry.get("aggregate") is not None}
    old_aggregates = {str(entry["aggregate"]) for group in ("events", "removed_events")
                      for entry in old.get(group, {}).values()
                      if entry.get("aggregate") is not None}
    for name in sorted(set(old_events) & set(new_events)):
        changes += _event_changes(name, old_events[name], new_events[name], locate)
        changes += _streams_moved(name, old_events[name], new_events[name], locate,
                                  model_bumped, (old_aggregates, aggregates))
    removed = sorted(set(old_events) - set(new_events))
    added = [n for n in sorted(set(new_events) - set(old_events))]
    gone: dict[str, Any] = old.get("removed_events", {})
    for name in [n for n in added if n in gone]:
        added.remove(name)
        version, _schema = latest(gone[name])
        changes.append(Change(
            locate(("event", name)), name, "event-added",
            f"event {name} added back: it was removed, and its stored events (up to "
            f"schema_version {version}) must decode as it is now"))
        changes += _event_changes(name, gone[name], new_events[name], locate)
        changes += _streams_moved(name, gone[name], new_events[name], locate, model_bumped,
                                  (old_aggregates, aggregates))
    for name in removed:
        _version, schema = latest(old_events[name])
        twin = next((a for a in added if _same_shape(schema, latest(new_events[a])[1])), None)
        if twin is not None:
            added.remove(twin)
            changes.append(Change(
                locate(("event", twin)), name, "event-renamed",
                f"event {_n(name)} renamed to {twin}: stored {_n(name)} events no longer "
                f"decode; keep {_n(name)} (and add {twin} beside it), or bump the model's "
                f"version once no {_n(name)} event is stored (a new store, or the histories "
                f"migrated): nothing reads them afterwards",
                model_bumped))
            continue
        context = str(old_events[name].get("context", ""))
        changes.append(Change(
            locate(("context", context)), name, "event-removed",
            f"event {_n(name)} removed: stored {_n(name)} events no longer decode; keep it, "
            f"or bump the model's version once no {_n(name)} event is stored (a new store, "
            f"or the histories migrated): nothing reads them afterwards", model_bumped))
    for name in added:
        changes.append(Change(locate(("event", name)), name, "event-added",
                              f"event {name} added"))
    return sorted(changes)


def _streams_moved(name: str, old: dict[str, Any], new: dict[str, Any], locate: Locator,
                   model_bumped: bool, aggregates: tuple[set[str], set[str]]) -> list[Change]:
    """The event's stored instances are where nothing loads them any more: its aggregate
    renamed (the old name gone, the new one new) and recording it under another actor-id
    prefix, or the event moved out of an aggregate whose stored histories hold it.
    ``aggregates``: the old contract's aggregate names, and the new model's."""
    before, after = old.get("actor_prefix"), new.get("actor_prefix")
    was, owner = old.get("aggregate"), new.get("aggregate")
    then, now = aggregates
    bump = "or bump the model's version once they are moved"
    renamed = was is not None and owner is not None and was != owner and (
        was not in now and owner not in then)
    if before is not None and after is not None and (was == owner or renamed):
        if before == after:
            return _id_switched(name, old, new, locate, bump, model_bumped)
        keep = (f"give {owner} `id_prefix: {before}`" if ID_PREFIX.fullmatch(before)
                else f"keep {owner}'s old name")
        return [Change(
            locate(("event", name)), name, "streams-moved",
            f"{name} is now recorded in streams {after}-<id>, and the stored ones are in "
            f"{_n(before)}-<id>, which nothing loads any more; {keep} to keep them, {bump}",
            model_bumped)]
    if was is None or was == owner or (renamed and before is None):
        return []  # not an aggregate's, the same one, or one without an id renamed
    to = f" to {owner}" if owner is not None else ""
    return [Change(
        locate(("event", name)), name, "streams-moved",
        f"{name} moved out of aggregate {_n(was)}{to}: stored {_n(was)} histories hold "
        f"{name} events it no longer applies, so they no longer load; keep {name} in "
        f"{_n(was)}, {bump}", model_bumped)]


def _id_switched(name: str, old: dict[str, Any], new: dict[str, Any], locate: Locator,
                 bump: str, model_bumped: bool) -> list[Change]:
    """Same prefix, but the aggregate's id is another field that the event had before too:
    its values, not its name, changed, and new events go to other actor ids. (An id field
    renamed keeps its values: the old name is gone from the event then, and nothing moved.)"""
    was, now = old.get("actor_id_field"), new.get("actor_id_field")
    if was is None or now is None or was == now:
        return []
    if was not in latest(new)[1]["fields"]:
        return []  # renamed (or dropped from the event): the same values, as far as told
    prefix = new["actor_prefix"]
    return [Change(
        locate(("event", name)), name, "streams-moved",
        f"{name} is now recorded in streams {prefix}-<{now}>, and the stored ones are in "
        f"{prefix}-<{_n(was)}>, which nothing loads any more; keep `id: {_n(was)}` to keep "
        f"them, {bump}", model_bumped)]


def _same_shape(a: Schema, b: Schema) -> bool:
    return bool(a["fields"]) and a["fields"] == b["fields"] and a.get("types") == b.get("types")


def _event_changes(name: str, old: dict[str, Any], new: dict[str, Any],
                   locate: Locator) -> list[Change]:
    old_version, old_schema = latest(old)
    new_version, new_schema = latest(new)
    here = ("event", name)
    if new_version < old_version:
        return [Change(locate(here), name, "schema-version-lowered",
                       f"{name}'s schema_version went down from {old_version} to "
                       f"{new_version}: versions only grow; set it to {old_version} or more")]
    bumped = new_version > old_version
    found: list[tuple[Where, Kind, str]] = []
    if old_schema.get("description", "") != new_schema.get("description", ""):
        found.append(((*here, "description"), "description-changed",
                      f"{name}'s description changed"))
    found += _field_changes(name, here, old_schema["fields"], new_schema["fields"])
    found += _type_changes(name, old_schema.get("types", {}), new_schema.get("types", {}))
    if bumped:  # the bump is the fix the messages suggest: say what it asks for instead
        found = [(where, kind, f"{message.split('; ')[0]}; upcast old events v{old_version} -> "
                  f"v{new_version}" if kind in BREAKING else message)
                 for where, kind, message in found]
    changes = [Change(locate(where), name, kind, message, bumped and kind in BREAKING)
               for where, kind, message in found]
    if bumped:
        changes.append(Change(locate(here), name, "schema-version-bumped",
                              f"{name}'s schema_version bumped from {old_version} to "
                              f"{new_version}: old events need an upcaster v{old_version} -> "
                              f"v{new_version}"))
    return changes


def _field_changes(owner: str, at: Where, old: dict[str, Any],
                   new: dict[str, Any]) -> list[tuple[Where, Kind, str]]:
    found: list[tuple[Where, Kind, str]] = []
    # A rename is a removal and an addition of the same type in one step, where that type
    # tells which field became which (else each is reported as removed or added).
    renames = paired_renames(old, new)
    added = [f for f in new if f not in old and f not in renames.values()]
    for field in (f for f in old if f not in new):
        twin = renames.get(field)
        if twin is not None:
            found.append(((*at, "fields", twin), "field-renamed",
                          f"{owner}.{_n(field)} renamed to {twin}: stored events carry "
                          f"{_n(field)}{_fix(owner, at)}"))
        else:
            found.append(((*at,), "field-removed",
                          f"{owner}.{_n(field)} removed: stored events carry it"
                          f"{_fix(owner, at)}"))
    for field in added:
        if new[field]["required"]:
            found.append(((*at, "fields", field), "required-field-added",
                          f"{owner}.{field} added without a default: stored events lack it; "
                          f"give it a default{_fix(owner, at, 'or ')}"))
        else:
            found.append(((*at, "fields", field), "optional-field-added",
                          f"{owner}.{field} added (with a default)"))
    for field in old:
        if field not in new:
            continue
        before, after = old[field], new[field]
        if before["type"] != after["type"]:
            found.append(((*at, "fields", field), "type-changed",
                          f"{owner}.{field} changed type from {_n(before['type'])} to "
                          f"{after['type']}{_fix(owner, at)}"))
        elif not before["required"] and after["required"]:
            found.append(((*at, "fields", field), "default-removed",
                          f"{owner}.{field} lost its default: stored events may lack it "
                          f"(those written before it was added with the default); keep a "
                          f"default{_fix(owner, at, 'or ')}"))
        elif not before["required"] and not same_default(before, after):
            found.append(((*at, "fields", field), "default-changed",
                          f"{owner}.{field}'s default changed from "
                          f"{_json(before.get('default'))} to {_json(after.get('default'))}: "
                          f"stored events that lack it now read the new default"))
        if before.get("description", "") != after.get("description", ""):
            found.append(((*at, "fields", field), "description-changed",
                          f"{owner}.{field}'s description changed"))
    return found


def _json(value: Any, limit: int = 60) -> str:
    """A default as messages show it: JSON, ASCII only (so no control or bidi character
    from a lock reaches the terminal), cut short."""
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _fix(owner: str, at: Where, joiner: str = "") -> str:
    if at[0] == "event":
        return f"; {joiner}bump {owner}'s schema_version and upcast old events"
    return f"; {joiner}bump the schema_version of the events that use {owner}"


def _type_changes(event: str, old: dict[str, Any],
                  new: dict[str, Any]) -> list[tuple[Where, Kind, str]]:
    found: list[tuple[Where, Kind, str]] = []
    for name in sorted(set(old) & set(new)):
        before, after = old[name], new[name]
        at: Where = ("type", name)
        if ("enum" in before) != ("enum" in after):
            found.append((at, "type-changed", f"{_n(name)} (used by {event}) changed between "
                          f"enum and value object; bump {event}'s schema_version"))
        elif "enum" in before:
            for value in before["enum"]:
                if value not in after["enum"]:
                    found.append(((*at, "values", str(value)), "enum-value-removed",
                                  f"{_n(name)} lost the value {shown(str(value))} that stored "
                                  f"{event} events may hold; bump {event}'s schema_version "
                                  f"and upcast them"))
            for value in after["enum"]:
                if value not in before["enum"]:
                    found.append(((*at, "values", str(value)), "enum-value-added",
                                  f"{_n(name)} gained the value {shown(str(value))}"))
        else:
            found += [(where, kind, f"{message} (in {event})") for where, kind, message in
                      _field_changes(_n(name), at, before["fields"], after["fields"])]
    return found
