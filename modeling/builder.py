"""The Python way to write a model: a small typed builder, no metaclasses.

    from modeling.builder import ModelBuilder, field

    model = ModelBuilder("orders")
    sales = model.context("Sales")
    sales.actor("Customer")
    order = sales.aggregate("Order", state={"total": "decimal"})
    order.command("PlaceOrder", actor="Customer", fields={"customer_id": "str"},
                  emits=["OrderPlaced"])
    order.event("OrderPlaced", fields={"customer_id": "str", "total": field("decimal")})

A module that defines ``model`` (a ModelBuilder or a Model) can be passed to
aether-gen like a YAML file. The builder records where each call was made, so
errors point at the line that caused them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path as FilePath
from typing import Any

from pydantic import JsonValue

from modeling.source import Location, Path, SourceMap

FieldInput = str | dict[str, JsonValue]
Fields = dict[str, FieldInput]
# Scenario payloads are checked against the model when it loads, so any values go here.
Message = dict[str, dict[str, Any] | None]

_UNSET: Any = object()


def field(type: str, *, default: JsonValue = _UNSET, description: str = "") -> dict[str, JsonValue]:
    """A field with a default or a description (plain fields are just their type text)."""
    spec: dict[str, JsonValue] = {"type": type}
    if default is not _UNSET:
        spec["default"] = default
    if description:
        spec["description"] = description
    return spec


def _caller(depth: int = 2) -> Location:
    """Where the modeler's call stands: its line, and the column where the call's
    expression starts (Python 3.11 records it per instruction), so diagnostics on a
    Python model point as exactly as on a YAML one."""
    frame = sys._getframe(depth)
    line, column = frame.f_lineno, 1
    positions = list(frame.f_code.co_positions())
    if 0 <= frame.f_lasti // 2 < len(positions):
        start_line, _, start_column, _ = positions[frame.f_lasti // 2]
        if start_line is not None and start_column is not None:
            line, column = start_line, start_column + 1
    return Location(frame.f_code.co_filename, line, column)


@dataclass
class _Node:
    data: dict[str, Any]
    location: Location
    children: dict[str, list[_Node]] = dataclass_field(default_factory=dict)

    def child(self, key: str, node: _Node) -> None:
        self.children.setdefault(key, []).append(node)

    def emit(self, path: Path, source: SourceMap) -> dict[str, Any]:
        source.values[path] = self.location
        out = dict(self.data)
        for key, nodes in self.children.items():
            out[key] = [node.emit((*path, key, i), source) for i, node in enumerate(nodes)]
        return out


def _element(name: str, description: str, **rest: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": name}
    if description:
        data["description"] = description
    data.update({key: value for key, value in rest.items() if value is not None})
    return data


class AggregateBuilder:
    def __init__(self, node: _Node) -> None:
        self._node = node

    def command(self, name: str, *, actor: str | None = None, fields: Fields | None = None,
                emits: list[str] | None = None, description: str = "",
                ignore: list[str] | None = None) -> AggregateBuilder:
        self._node.child("commands", _Node(
            _element(name, description, actor=actor, fields=fields, emits=emits,
                     ignore=ignore), _caller()))
        return self

    def event(self, name: str, *, fields: Fields | None = None, schema_version: int | None = None,
              description: str = "", ignore: list[str] | None = None) -> AggregateBuilder:
        self._node.child("events", _Node(
            _element(name, description, fields=fields, schema_version=schema_version,
                     ignore=ignore), _caller()))
        return self

    def scenario(self, name: str, *, when: Message, given: list[Message] | None = None,
                 then: list[Message] | None = None, error: str | None = None) -> AggregateBuilder:
        data: dict[str, Any] = {"name": name}
        data.update({k: v for k, v in (("given", given), ("when", when), ("then", then),
                                       ("error", error)) if v is not None})
        self._node.child("scenarios", _Node(data, _caller()))
        return self


class PolicyBuilder:
    def __init__(self, node: _Node) -> None:
        self._node = node

    def scenario(self, name: str, *, when: dict[str, Any], then: list[dict[str, Any]],
                 given: list[dict[str, Any]] | None = None) -> PolicyBuilder:
        """Given events (``{"BookBorrowed": {...}, "actor": "loan-1"}``), when one event the
        policy reacts to, then exactly these commands (``{"Cmd": {...}, "to": "loan-1"}``)."""
        data: dict[str, Any] = {"name": name}
        if given is not None:
            data["given"] = given
        data.update({"when": when, "then": then})
        self._node.child("scenarios", _Node(data, _caller()))
        return self


class ReadModelBuilder:
    def __init__(self, node: _Node) -> None:
        self._node = node

    def scenario(self, name: str, *, then: list[dict[str, Any]],
                 given: list[dict[str, Any]] | None = None) -> ReadModelBuilder:
        """Given these events (``{"BookBorrowed": {...}, "actor": "loan-1"}`` names the
        stream), ``all()`` returns exactly the rows of ``then``."""
        data: dict[str, Any] = {"name": name}
        if given is not None:
            data["given"] = given
        data["then"] = then
        self._node.child("scenarios", _Node(data, _caller()))
        return self


class ContextBuilder:
    def __init__(self, node: _Node) -> None:
        self._node = node

    def _add(self, key: str, data: dict[str, Any]) -> _Node:
        node = _Node(data, _caller(3))
        self._node.child(key, node)
        return node

    def actor(self, name: str, *, description: str = "",
              ignore: list[str] | None = None) -> ContextBuilder:
        self._add("actors", _element(name, description, ignore=ignore))
        return self

    def value_object(self, name: str, *, fields: Fields, description: str = "",
                     ignore: list[str] | None = None) -> ContextBuilder:
        self._add("value_objects", _element(name, description, fields=fields, ignore=ignore))
        return self

    def enum(self, name: str, values: list[str], *, description: str = "",
             ignore: list[str] | None = None) -> ContextBuilder:
        self._add("enums", _element(name, description, values=values, ignore=ignore))
        return self

    def aggregate(self, name: str, *, state: Fields | None = None, id: str | None = None,
                  id_prefix: str | None = None, description: str = "",
                  ignore: list[str] | None = None) -> AggregateBuilder:
        """``id`` names the field every command carries that identifies the instance."""
        return AggregateBuilder(self._add("aggregates", _element(
            name, description, id=id, id_prefix=id_prefix, state=state, ignore=ignore)))

    def event(self, name: str, *, fields: Fields | None = None, schema_version: int | None = None,
              description: str = "", ignore: list[str] | None = None) -> ContextBuilder:
        """An event no aggregate owns (e.g. one an external system emits)."""
        self._add("events", _element(name, description, fields=fields,
                                     schema_version=schema_version, ignore=ignore))
        return self

    def policy(self, name: str, *, on: list[str], issues: list[str], description: str = "",
               reads: list[str] | None = None,
               ignore: list[str] | None = None) -> PolicyBuilder:
        """``reads`` names read models the policy consults (its constructor gets them)."""
        return PolicyBuilder(self._add("policies", _element(
            name, description, on=on, issues=issues, reads=reads, ignore=ignore)))

    def read_model(self, name: str, *, from_: list[str], key: str | None = None,
                   single: bool = False, fields: Fields | None = None,
                   description: str = "", ignore: list[str] | None = None) -> ReadModelBuilder:
        """One row per ``key`` value, one row in all (``single=True``), or one row per
        actor id when neither is given; add scenarios on what it returns."""
        data = _element(name, description, ignore=ignore)
        data["from"] = from_
        if key is not None:
            data["key"] = key
        if single:
            data["single"] = True
        if fields is not None:
            data["fields"] = fields
        return ReadModelBuilder(self._add("read_models", data))

    def external_system(self, name: str, *, emits: list[str] | None = None,
                        receives: list[str] | None = None,
                        description: str = "",
                        ignore: list[str] | None = None) -> ContextBuilder:
        self._add("external_systems", _element(name, description, emits=emits,
                                               receives=receives, ignore=ignore))
        return self

    def hot_spot(self, text: str, *, about: str | None = None) -> ContextBuilder:
        data: dict[str, Any] = {"text": text}
        if about is not None:
            data["about"] = about
        self._add("hot_spots", data)
        return self


class ModelBuilder:
    """The root of a Python model; expose it as ``model`` in your module."""

    def __init__(self, name: str, *, version: int = 1, description: str = "") -> None:
        data: dict[str, Any] = {"model": name, "version": version}
        if description:
            data["description"] = description
        self._node = _Node(data, _caller())

    def context(self, name: str, *, description: str = "",
                ignore: list[str] | None = None) -> ContextBuilder:
        node = _Node(_element(name, description, ignore=ignore), _caller())
        self._node.child("contexts", node)
        return ContextBuilder(node)

    def relationship(self, *, upstream: str | None = None, downstream: str | None = None,
                     kind: str | None = None, upstream_roles: list[str] | None = None,
                     downstream_roles: list[str] | None = None,
                     shared_kernel: list[str] | None = None,
                     partnership: list[str] | None = None,
                     description: str = "") -> ModelBuilder:
        """One entry of the context map, with the keys the YAML ``context_map`` takes:
        ``relationship(upstream="Sales", downstream="Shipping",
        downstream_roles=["anticorruption_layer"])`` or
        ``relationship(shared_kernel=["Sales", "Billing"])``."""
        data = {key: value for key, value in (
            ("upstream", upstream), ("downstream", downstream), ("kind", kind),
            ("upstream_roles", upstream_roles), ("downstream_roles", downstream_roles),
            ("shared_kernel", shared_kernel), ("partnership", partnership),
            ("description", description or None)) if value is not None}
        self._node.child("context_map", _Node(data, _caller()))
        return self

    def to_data(self, file: str) -> tuple[dict[str, Any], SourceMap]:
        """The model as YAML-shaped data, and where each element was declared."""
        source = SourceMap(file)
        data = self._node.emit((), source)
        source.values[("model",)] = self._node.location
        # Report the model file as the user named it, not as Python resolved it.
        target = FilePath(file).resolve()
        for path, location in source.values.items():
            if FilePath(location.file).resolve() == target:
                source.values[path] = Location(file, location.line, location.column)
        return data, source
