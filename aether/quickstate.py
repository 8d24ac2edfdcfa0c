"""Changing a validated pydantic state without validating it all again.

``aether.aggregate.evolve`` (what generated ``evolve`` methods call) used to rebuild the
whole state through ``model_validate`` for every applied event, which cost about as much as
building the Event itself. For a change whose value already has its field's exact type
(a ``str`` for ``str``, a member of the field's enum, a finite ``Decimal``, ``None`` for an
optional field, an instance of the field's model class...) pydantic's validation returns
the value as it is; so does this module, without calling it. Anything else (a list, a
subclass, a number of another type, a class with validators, constraints, aliases or
unusual config) is left to pydantic's validation, which decides alone: the same values
are accepted and refused (tests/runtime/test_quickstate.py checks it against pydantic).
"""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound=BaseModel)

_EXACT: dict[object, tuple[type, ...]] = {
    str: (str,), int: (int,), bool: (bool,), float: (float,), Decimal: (Decimal,),
    type(None): (type(None),),
}
# Config keys that do not change how a value of its field's exact type validates.
_HARMLESS_CONFIG = frozenset({"frozen", "extra", "title", "json_schema_extra"})


class _Plan(NamedTuple):
    quick: dict[str, tuple[type, ...]]  # field -> the exact types validation passes through
    # Every field: what model_validate of a whole state marks as set. One set shared by
    # the states built here (one object fewer kept per applied event): pydantic copies it
    # before changing it (model_copy), and setting a field adds only a name it holds.
    names: set[str]


_plans: dict[type[BaseModel], _Plan | None] = {}


def quick_fields(model: type[BaseModel]) -> dict[str, tuple[type, ...]] | None:
    """Field name -> the exact value types validation passes through unchanged, or None
    when the class validates in ways this module does not follow (then always pydantic)."""
    plan = _plan_of(model)
    return None if plan is None else plan.quick


def evolved(state: ModelT, changes: Mapping[str, object], skip: object) -> ModelT | None:
    """``state`` with ``changes`` (but those that are ``skip``), built as ``model_validate``
    builds a state from all its fields; None when pydantic's validation must decide."""
    try:
        plan = _plans[type(state)]
    except KeyError:
        plan = _plan_of(type(state))
    if plan is None:
        return None
    quick = plan.quick
    data = state.__dict__.copy()
    for name, value in changes.items():
        if value is skip:
            continue
        kind = type(value)
        if kind not in quick.get(name, ()):
            return None
        if kind is Decimal and not value.is_finite():  # type: ignore[attr-defined]
            return None  # pydantic refuses NaN and infinity in a Decimal field
        data[name] = value
    new = object.__new__(type(state))
    _set(new, "__dict__", data)
    _set(new, "__pydantic_fields_set__", plan.names)
    _set(new, "__pydantic_extra__", None)
    _set(new, "__pydantic_private__", None)
    return new


def _plan_of(model: type[BaseModel]) -> _Plan | None:
    try:
        return _plans[model]
    except KeyError:
        plan = _plans[model] = _inspect(model)
        return plan


def _inspect(model: type[BaseModel]) -> _Plan | None:
    decorators = model.__pydantic_decorators__
    if (not set(model.model_config) <= _HARMLESS_CONFIG
            or model.model_config.get("extra") == "allow"
            or decorators.validators or decorators.field_validators
            or decorators.root_validators or decorators.model_validators
            or model.__private_attributes__
            or model.__pydantic_post_init__ is not None
            or model.__pydantic_generic_metadata__["parameters"]):
        return None
    quick: dict[str, tuple[type, ...]] = {}
    for name, field in model.__pydantic_fields__.items():
        if field.alias is not None or field.validation_alias is not None:
            return None  # model_validate by field name would refuse: pydantic decides
        if field.metadata:
            continue  # constraints (max_length, ge, strict...): pydantic checks them
        kinds = _exact_types(field.annotation)
        if kinds:
            quick[name] = kinds
    return _Plan(quick, set(model.__pydantic_fields__))


def _exact_types(annotation: Any) -> tuple[type, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        parts = [_exact_types(arg) for arg in get_args(annotation)]
        if all(parts):  # X | None: both sides passed through, else neither
            return tuple(kind for part in parts for kind in part)
        return ()
    if annotation in _EXACT:
        return _EXACT[annotation]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return (annotation,)
    return ()


_set = object.__setattr__
