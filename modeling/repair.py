"""Mend structurally broken model data just enough to run the semantic checks too.

The structural errors are already reported; the repair only exists so that one run
of ``validate`` can also report the name, reference and type errors of everything
else in the file. Each fix is recorded as a path whose diagnostics are then skipped,
so no error is invented about what was mended:

- an unknown key is dropped;
- a bad value of an optional key is dropped (its default applies);
- a bad entry of a mapping (a field, a scenario payload) is dropped;
- a broken list item becomes a placeholder that keeps its name, so references to it
  still resolve.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from modeling.source import Path
from modeling.structure import class_at, error_path, unwrap
from modeling.types import Model

MAX_ROUNDS = 20
PLACEHOLDER = "__invalid__"


def repair(data: dict[str, Any]) -> tuple[Model | None, list[Path]]:
    """A Model from mended ``data`` (a copy), and the mended paths; (None, ...) if the
    data cannot be mended."""
    mended = _containers_copied(data)
    skipped: list[Path] = []
    for _ in range(MAX_ROUNDS):
        try:
            return Model.model_validate(mended), skipped
        except ValidationError as exc:
            paths = sorted({_error_path(error) for error in exc.errors()},
                           key=lambda item: (-len(item[0]), str(item)))
            progress = False
            for path, kind in paths:
                if any(path[:len(done)] == done for done in skipped):
                    continue  # inside something already mended
                fixed = _fix(mended, path, kind)
                if fixed is None:
                    return None, skipped
                skipped.append(fixed)
                progress = True
            if not progress:
                return None, skipped
    return None, skipped


def _containers_copied(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its dicts and lists copied (the repair changes only those) and every
    other value shared: a Python model's value may be an object that cannot be copied
    (``dict.values()``, a memoryview), which the structure check has already reported."""
    top: dict[str, Any] = {}
    stack: list[tuple[Any, Any]] = [(top, data)]
    while stack:  # iterative: the loader bounded the depth, not the stack
        into, source = stack.pop()
        for key in source.keys() if isinstance(source, dict) else range(len(source)):
            value = source[key]
            if isinstance(value, dict | list):
                copied: Any = {} if isinstance(value, dict) else [None] * len(value)
                stack.append((copied, value))
                value = copied
            into[key] = value
    return top


def _error_path(error: Any) -> tuple[Path, str]:
    path = error_path(error)
    kind = str(error["type"])
    if kind == "missing":
        return path[:-1], kind  # the element that lacks the key is what is broken
    return path, kind


def _fix(data: dict[str, Any], path: Path, kind: str) -> Path | None:
    """Mend the smallest enclosing part of ``path``; returns what to skip, or None."""
    probe = path
    while probe:
        parent, key = probe[:-1], probe[-1]
        container = _get(data, parent)
        owner = class_at(parent)
        droppable = kind == "extra_forbidden" or owner is None or (
            isinstance(key, str) and _has_default(owner, key))
        if isinstance(key, str) and isinstance(container, dict) and key in container \
                and droppable:
            del container[key]
            return probe if owner is not None else parent
        if isinstance(key, int) and isinstance(container, list) and key < len(container):
            item_class = class_at(probe)
            container[key] = (_placeholder(item_class, container[key])
                              if item_class is not None else PLACEHOLDER)
            return probe
        probe = parent
    return None


def _get(data: Any, path: Path) -> Any:
    node = data
    for part in path:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


def _has_default(owner: type[BaseModel], key: str) -> bool:
    for name, info in owner.model_fields.items():
        if (info.alias or name) == key:
            return not info.is_required()
    return False


def _placeholder(item_class: type[BaseModel], original: Any) -> dict[str, Any]:
    """The smallest valid item of ``item_class``, keeping the original name if any."""
    item: dict[str, Any] = {}
    for name, info in item_class.model_fields.items():
        if not info.is_required():
            continue
        key = info.alias or name
        annotation = unwrap(info.annotation)
        base = typing.get_origin(annotation) or annotation
        item[key] = [] if base is list else {} if base is dict else PLACEHOLDER
    if isinstance(original, dict) and isinstance(original.get("name"), str) and "name" in item:
        item["name"] = original["name"]
    return item
