"""A model against its lock: located changes, the errors validate and generate report, and
the lock generate writes (the pieces of modeling/contract.py and modeling/changes.py that
need a loaded model and its source map)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from modeling.changes import Change, Locator, Where, compare
from modeling.context_map import consumers
from modeling.contract import Lock, contract, lock_path, merged_lock, read_lock, render_lock
from modeling.index import Kind as IndexKind
from modeling.index import index_model
from modeling.loader import LoadedModel
from modeling.source import Diagnostic, Location

_KINDS: dict[str, tuple[IndexKind, ...]] = {
    "event": ("event",), "type": ("value_object", "enum"), "context": ("context",)}


def locator(loaded: LoadedModel) -> Locator:
    """Where (in the loaded model's file) a change is: the field, value or element named,
    else its nearest enclosing element, else the top of the file."""
    index = index_model(loaded.model)
    source = loaded.source

    def locate(where: Where) -> Location:
        kind, name, *rest = where
        kinds = _KINDS[kind]
        entry = index.named(name, *kinds)
        if entry is None:
            return Location(source.file, 1, 1)
        if rest[:1] == ["values"] and entry.kind == "enum":
            enum = next(e for c in loaded.model.contexts for e in c.enums if e.name == name)
            if rest[1] in enum.values:
                return source.locate((*entry.path, "values", enum.values.index(rest[1])))
            return source.locate((*entry.path, "values"), at_key=True)
        if rest[:1] == ["fields"]:
            return source.locate((*entry.path, "fields", rest[1]), at_key=True)
        if rest[:1] == ["description"]:
            return source.locate((*entry.path, "description"))
        return source.locate(entry.path)

    return locate


def changes_against(loaded: LoadedModel, old: Lock) -> list[Change]:
    """The changes, each breaking one marked with the other contexts that consume its event
    (the context map says which of them rely on it as a published language)."""
    used = consumers(loaded.model, index_model(loaded.model))
    return [replace(change, consumers=tuple(c for c, _ in used[change.event]),
                    published_to=tuple(c for c, published in used[change.event] if published))
            if change.breaking and change.event in used else change
            for change in compare(old, contract(loaded.model), locator(loaded),
                                  {a.name for c in loaded.model.contexts for a in c.aggregates})]


def breaking_diagnostics(loaded: LoadedModel) -> list[Diagnostic]:
    """Errors for every breaking change since the lock beside the model that the model did
    not declare with a version bump (none when there is no lock yet)."""
    old = read_lock(lock_path(loaded.path))
    if old is None:
        return []
    lock = lock_path(loaded.path).name
    return [Diagnostic(change.location, "error",
                       f"breaking change since {lock}{_consumed(change)}: {change.kind}: "
                       f"{change.message}", "breaking-change")
            for change in changes_against(loaded, old) if change.failing]


def _consumed(change: Change) -> str:
    return f" (consumed by {', '.join(change.consumers)})" if change.consumers else ""


@dataclass(frozen=True)
class LockUpdate:
    path: str
    text: str
    state: Literal["missing", "stale", "fresh"]


def new_lock(loaded: LoadedModel) -> Lock:
    """The lock generate writes beside the model: the one there plus the model's changes."""
    return merged_lock(read_lock(lock_path(loaded.path)), contract(loaded.model))


def lock_update(loaded: LoadedModel) -> LockUpdate:
    """The lock generate writes beside the model, and whether the one there is current."""
    path = lock_path(loaded.path)
    previous = read_lock(path)
    text = render_lock(merged_lock(previous, contract(loaded.model)))
    if previous is None:
        return LockUpdate(str(path), text, "missing")
    fresh = path.read_text(encoding="utf-8") == text
    return LockUpdate(str(path), text, "fresh" if fresh else "stale")
