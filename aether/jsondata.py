"""JSON data as events and snapshots hold it: checked against the limits, deeply immutable.

``freeze_json`` is the one validator of ``Event.data``, ``Event.metadata`` and
``ActorSnapshot.state``: it refuses what would not read back exactly (see aether/limits.py)
and returns ``FrozenDict``/``FrozenList`` copies. They are ``dict`` and ``list`` subclasses
(equal to, serialized and validated like plain ones) whose mutating methods raise
``TypeError``, so no one can rewrite stored history through an event they saved or read,
and a store need not copy anything. ``model_dump()`` gives plain, mutable copies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn

from pydantic import JsonValue
from pydantic_core import SchemaSerializer, core_schema

from aether.errors import InvalidEventError
from aether.limits import MAX_JSON_DEPTH, MAX_JSON_INT, MIN_JSON_INT, utf8_size


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(
        f"{type(self).__name__} is immutable: events and snapshots are history; "
        f"build new data (model_dump() gives a mutable copy)"
    )


class FrozenDict(dict[str, JsonValue]):
    """A ``dict`` that cannot change after it is built."""

    __slots__ = ()
    __pydantic_serializer__: ClassVar[SchemaSerializer]
    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, JsonValue]]]:
        return (type(self), (dict(self),))  # pickle and deepcopy rebuild, never mutate


class FrozenList(list[JsonValue]):
    """A ``list`` that cannot change after it is built."""

    __slots__ = ()
    __pydantic_serializer__: ClassVar[SchemaSerializer]
    __setitem__ = __delitem__ = append = extend = insert = pop = remove = clear = _refuse
    sort = reverse = __iadd__ = __imul__ = _refuse

    def __reduce__(self) -> tuple[type[FrozenList], tuple[list[JsonValue]]]:
        return (type(self), (list(self),))


# pydantic_core serializes a dict or list subclass it meets where a value's type is not
# declared (what an event's data nests, a snapshot's state) by a slow path: about 2 us a
# container, three quarters of an event's encoding. A class that carries its own serializer
# is serialized by it instead (the way pydantic models nested in Any are), here as a plain
# dict or list: the same JSON, and model_dump() still gives plain, mutable copies.
FrozenDict.__pydantic_serializer__ = SchemaSerializer(
    core_schema.dict_schema(core_schema.str_schema(), core_schema.any_schema()))
FrozenList.__pydantic_serializer__ = SchemaSerializer(
    core_schema.list_schema(core_schema.any_schema()))

_Path = tuple["_Path", object] | None
"""Where a value sits: (parent path, key), built per container at the cost of one tuple."""

_fill_dict: Callable[[FrozenDict, str, JsonValue], None] = dict.__setitem__
_fill_list: Callable[[FrozenList, JsonValue], None] = list.append


def freeze_json(value: object, where: str, check: bool = True) -> FrozenDict:
    """A frozen copy of the JSON mapping ``value``, refusing (InvalidEventError) anything
    that is not JSON or, with ``check``, breaks a limit: nesting deeper than
    MAX_JSON_DEPTH, integers beyond 64 bits, non-finite floats, lone surrogates.

    ``check=False`` is for data read back from storage, which must stay readable whatever
    limits were added after it was written.
    """
    if type(value) is dict or type(value) is FrozenDict:
        try:
            return _quick_dict(value, 1, check)
        except _Unsure:
            pass
    return _freeze_exactly(value, where, check)


class _Unsure(Exception):
    """The quick walk met something it leaves to the exact one: an error to describe, a
    subclass to convert (StrEnum, IntEnum), nesting at the depth limit."""


# The quick walk: plain JSON of exact built-in types within the limits, the common case.
# It copies each container in one C call, then checks its items inline (no call per item)
# and replaces the nested containers by their frozen copies; it recurses (bounded by
# MAX_JSON_DEPTH) and keeps no path. Anything else raises _Unsure and the exact walk below
# decides, so both accept and refuse exactly the same data.
def _quick_dict(source: dict[Any, Any], depth: int, check: bool) -> FrozenDict:
    frozen = FrozenDict(source)
    for key, child in source.items():
        if type(key) is not str or not (key.isascii() or _encodes(key)):
            raise _Unsure
        kind = type(child)
        if kind is str:
            if child.isascii() or _encodes(child):
                continue
        elif kind is int:
            if not check or MIN_JSON_INT <= child <= MAX_JSON_INT:
                continue
        elif kind is float:
            if _isfinite(child):
                continue
        elif child is None or kind is bool:
            continue
        elif kind in _CONTAINERS and depth < MAX_JSON_DEPTH:
            _fill_dict(frozen, key, _quick_dict(child, depth + 1, check)
                       if kind is dict or kind is FrozenDict
                       else _quick_list(child, depth + 1, check))
            continue
        # Anything else (a subclass to convert, an error to describe, nesting at the limit,
        # where the exact walk says where or, unchecked, walks on iteratively).
        raise _Unsure
    return frozen


def _quick_list(source: list[Any], depth: int, check: bool) -> FrozenList:
    frozen = FrozenList(source)
    for index, child in enumerate(source):
        kind = type(child)
        if kind is str:
            if child.isascii() or _encodes(child):
                continue
        elif kind is int:
            if not check or MIN_JSON_INT <= child <= MAX_JSON_INT:
                continue
        elif kind is float:
            if _isfinite(child):
                continue
        elif child is None or kind is bool:
            continue
        elif kind in _CONTAINERS and depth < MAX_JSON_DEPTH:
            _set_list(frozen, index, _quick_dict(child, depth + 1, check)
                      if kind is dict or kind is FrozenDict
                      else _quick_list(child, depth + 1, check))
            continue
        raise _Unsure
    return frozen


_CONTAINERS = frozenset({dict, FrozenDict, list, FrozenList})
# For a builder that knows its value is an exact dict (aether/records.py): freeze_json's
# quick walk without the call to freeze_json; on _Unsure, call freeze_json.
freeze_quick = _quick_dict
Unsure = _Unsure

_set_list: Callable[[FrozenList, int, JsonValue], None] = list.__setitem__
_isfinite = math.isfinite


def freeze_parsed(value: dict[str, Any], check: bool) -> FrozenDict | None:
    """``freeze_json`` of a mapping the JSON parser (pydantic_core.from_json) just built and
    no one else holds, or None when the exact walk must decide (the caller then leaves the
    whole record to pydantic's validation).

    Parsed JSON holds only exact dict, list, str, int, float, bool and None, every key is
    text, and the parser refuses lone surrogates and bytes that are not UTF-8
    (tests/runtime/test_records_hostile.py proves it), so only numbers (1e400 parses as
    infinity) and depth are checked here; the nested containers are frozen in place (the
    parsed ones are ours to change) and each is copied once. ``value`` is left
    half-converted when this returns None: parse again.
    """
    try:
        return _parsed_dict(value, 1, check)
    except _Unsure:
        return None


def _parsed_dict(source: dict[str, Any], depth: int, check: bool) -> FrozenDict:
    for key, child in source.items():
        kind = type(child)
        if kind is str:
            continue
        if kind is int:
            if check and not MIN_JSON_INT <= child <= MAX_JSON_INT:
                raise _Unsure
        elif kind is float:
            if not _isfinite(child):  # 1e400 parses as infinity
                raise _Unsure
        elif kind is dict:
            if depth >= MAX_JSON_DEPTH:
                raise _Unsure
            source[key] = _parsed_dict(child, depth + 1, check)
        elif kind is list:
            if depth >= MAX_JSON_DEPTH:
                raise _Unsure
            source[key] = _parsed_list(child, depth + 1, check)
        # else: bool or None
    return FrozenDict(source)


def _parsed_list(source: list[Any], depth: int, check: bool) -> FrozenList:
    for index, child in enumerate(source):
        kind = type(child)
        if kind is str:
            continue
        if kind is int:
            if check and not MIN_JSON_INT <= child <= MAX_JSON_INT:
                raise _Unsure
        elif kind is float:
            if not _isfinite(child):
                raise _Unsure
        elif kind is dict:
            if depth >= MAX_JSON_DEPTH:
                raise _Unsure
            source[index] = _parsed_dict(child, depth + 1, check)
        elif kind is list:
            if depth >= MAX_JSON_DEPTH:
                raise _Unsure
            source[index] = _parsed_list(child, depth + 1, check)
    return FrozenList(source)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False  # a lone surrogate
    return True


def _freeze_exactly(value: object, where: str, check: bool) -> FrozenDict:
    """freeze_json, deciding every case and naming where a problem is.

    Iterative, so hostile nesting costs a clear error, never a RecursionError; paths are
    rendered only for an error.
    """
    if not isinstance(value, dict):
        raise InvalidEventError(
            f"{where} must be a mapping of text to JSON values, got {type(value).__name__}"
        )
    root = FrozenDict()
    stack: list[tuple[Any, FrozenDict | FrozenList, int, _Path]] = [(value, root, 1, None)]
    while stack:
        source, target, depth, path = stack.pop()
        if check and depth > MAX_JSON_DEPTH:
            raise InvalidEventError(
                f"{where} is nested deeper than {MAX_JSON_DEPTH} levels (at "
                f"{_render(where, path)[:200]}): flatten it"
            )
        if isinstance(target, FrozenDict):
            for key, child in source.items():
                text = _text(key, where, path)
                _fill_dict(target, text, _copy(child, where, (path, text), depth, check, stack))
        else:
            for index, child in enumerate(source):
                _fill_list(target, _copy(child, where, (path, index), depth, check, stack))
    return root


def _copy(
    child: object,
    where: str,
    path: _Path,
    depth: int,
    check: bool,
    stack: list[tuple[Any, FrozenDict | FrozenList, int, _Path]],
) -> JsonValue:
    """The frozen copy of ``child``: scalars now, containers empty and queued to fill."""
    if isinstance(child, dict):
        frozen_map = FrozenDict()
        stack.append((child, frozen_map, depth + 1, path))
        return frozen_map
    if isinstance(child, list):
        frozen_list = FrozenList()
        stack.append((child, frozen_list, depth + 1, path))
        return frozen_list
    return _scalar(child, where, path, check)


def freeze_text_map(value: object, where: str) -> FrozenDict:
    """A frozen copy of a flat mapping of text to text (event metadata)."""
    if type(value) is dict or type(value) is FrozenDict:
        # The common case, one save's metadata: ASCII text only, copied in one C call.
        for key, text in value.items():
            if (type(key) is not str or type(text) is not str or not key.isascii()
                    or not text.isascii()):
                break
        else:
            return FrozenDict(value)
    if not isinstance(value, dict):
        raise InvalidEventError(f"{where} must be a mapping of text to text, got "
                                f"{type(value).__name__}")
    frozen = FrozenDict()
    for key, text in value.items():
        if not isinstance(text, str):
            raise InvalidEventError(
                f"{where}[{key!r:.40}] is {type(text).__name__}, not text: metadata values "
                f"are strings (write str(value))"
            )
        _fill_dict(frozen, _text(key, where, None), _text(text, where, (None, key)))
    return frozen


def _text(value: object, where: str, path: _Path) -> str:
    if type(value) is not str:
        if not isinstance(value, str):
            raise InvalidEventError(
                f"key {value!r:.40} ({type(value).__name__}) at {_render(where, path)} is not "
                f"text: JSON keys are strings, so it would read back as another key"
            )
        value = value[:]  # a str subclass (StrEnum) becomes the plain str JSON gives back
    if not value.isascii():
        utf8_size(value, f"text at {_render(where, path)}", InvalidEventError)
    return value


def _scalar(item: object, where: str, path: _Path, check: bool) -> JsonValue:
    if item is None or isinstance(item, bool):
        return item
    if isinstance(item, str):
        return _text(item, where, path)
    if isinstance(item, int):
        number = int(item)  # an IntEnum becomes the plain int JSON gives back
        if check and not MIN_JSON_INT <= number <= MAX_JSON_INT:
            raise InvalidEventError(
                f"integer at {_render(where, path)} is outside the 64-bit range "
                f"{MIN_JSON_INT} .. {MAX_JSON_INT} that JSON keeps exact; store it as a string"
            )
        return number
    if isinstance(item, float):
        real = float(item)
        if not math.isfinite(real):
            raise InvalidEventError(
                f"{real} at {_render(where, path)} is not a finite number and has no JSON "
                f"form (it would read back as null): store None or a string instead"
            )
        return real
    raise InvalidEventError(
        f"{type(item).__name__} at {_render(where, path)} is not a JSON value: use dict, list, "
        f"str, int, float, bool or None (model_dump(mode='json') converts most things)"
    )


def _render(where: str, path: _Path) -> str:
    keys: list[object] = []
    while path is not None:
        path, key = path
        keys.append(key)
    return where + "".join(f"[{key!r:.40}]" for key in reversed(keys))


# freeze_parsed without the call to it, for the decoder (aether/records.py), which
# catches Unsure itself.
freeze_parsed_quick = _parsed_dict
