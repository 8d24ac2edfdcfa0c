"""Write a model back out: canonical YAML (for Python models) and the JSON Schema of the
YAML format (for editors)."""

from __future__ import annotations

import json
from typing import Any

import yaml
from pydantic import BaseModel

from modeling.types import Actor, FieldSpec, Model, Scenario
from modeling.yaml_source import YAML12_BASED, YAML12_FLOAT

SCHEMA_ID = "https://aether.dev/schemas/model.json"


_BREAKS = frozenset("\x85\u2028\u2029\ufeff")


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, quoting the text that aether-gen's reader takes as another
    type than PyYAML's (YAML 1.1) does: ``1e300`` is a float to it and ``0o17`` an
    integer, as in YAML 1.2."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = None
    if _BREAKS.intersection(value) or not value.replace("\n", "").isprintable():
        style = '"'  # escaped there: YAML reads NEL, LS, PS as line breaks, drops a BOM
    elif YAML12_FLOAT.fullmatch(value) or YAML12_BASED.fullmatch(value):
        style = "'"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def to_yaml(model: Model) -> str:
    """The model in the YAML format, shorthands used where they say the same thing."""
    data = _plain(model)
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                          width=100)
    return text


def _plain(value: Any) -> Any:
    if isinstance(value, Actor) and not value.description:
        return value.name
    if isinstance(value, FieldSpec):
        if not value.has_default and not value.description:
            return value.type
        spec: dict[str, Any] = {"type": value.type}
        if value.has_default:
            spec["default"] = value.default
        if value.description:
            spec["description"] = value.description
        return spec
    if isinstance(value, BaseModel):
        out: dict[str, Any] = {}
        for name, info in type(value).model_fields.items():
            item = getattr(value, name)
            default = info.get_default(call_default_factory=True)
            # `then: []` says "emits nothing" and differs from no `then` (see validate).
            kept = name == "version" or (isinstance(value, Scenario) and name == "then"
                                         and name in value.model_fields_set)
            if item == default and not kept:
                continue
            out[info.alias or name] = _plain(item)
        return out
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def json_schema() -> str:
    """JSON Schema (draft 2020-12) of the YAML model format."""
    schema = Model.model_json_schema(by_alias=True, mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
              "title": "Aether EventStorming model", **schema}
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"
