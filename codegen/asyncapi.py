"""Publish a model's contract: JSON Schemas of its event payloads, and an AsyncAPI 3 document
of its events as messages on the subjects the runtime uses (docs/jetstream.md for the store,
docs/runtime.md "Event bus across nodes" for the bus), so AsyncAPI tools (EventCatalog and
others) can import it.

Both are built from the contract (modeling/contract.py), not from the model directly, so
what is exported is exactly what the lock records. Every text from the model goes through
``json.dumps``: descriptions and defaults are data in the document, never structure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from modeling.contract import Lock, Schema, contract, latest
from modeling.typeexpr import DictOf, ListOf, Named, Optional, Primitive, TypeExpr, parse_type
from modeling.types import Model
from modeling.upcasting import stored_default

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION: Final = "3.0.0"
BUS_PREFIX: Final = "aether.bus"

# How the generated payload classes write each primitive in JSON (pydantic's JSON mode).
_PRIMITIVES: Final[dict[str, dict[str, Any]]] = {
    "str": {"type": "string"}, "int": {"type": "integer"}, "float": {"type": "number"},
    "bool": {"type": "boolean"}, "decimal": {"type": "string", "format": "decimal"},
    "datetime": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"}, "uuid": {"type": "string", "format": "uuid"},
    "bytes": {"type": "string", "contentEncoding": "base64"},
}
Ref = Callable[[str], str]


def _type_schema(expr: TypeExpr, ref: Ref) -> dict[str, Any]:
    if isinstance(expr, Primitive):
        return dict(_PRIMITIVES[expr.name])
    if isinstance(expr, ListOf):
        return {"type": "array", "items": _type_schema(expr.item, ref)}
    if isinstance(expr, DictOf):
        return {"type": "object", "additionalProperties": _type_schema(expr.value, ref)}
    if isinstance(expr, Optional):
        return {"anyOf": [_type_schema(expr.inner, ref), {"type": "null"}]}
    assert isinstance(expr, Named)
    return {"$ref": ref(expr.name)}


def _object(fields: dict[str, Any], ref: Ref) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, spec in fields.items():
        prop = _type_schema(parse_type(spec["type"]), ref)
        if "default" in spec:  # as payloads carry it (a bytes default: base64)
            prop["default"] = stored_default(spec["type"], spec["default"])
        if spec.get("description"):
            prop["description"] = spec["description"]
        properties[name] = prop
    required = sorted(name for name, spec in fields.items() if spec["required"])
    # Payload classes refuse unknown fields, so the schema does too.
    out: dict[str, Any] = {"type": "object", "properties": properties,
                           "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def payload_schema(name: str, version: int, schema: Schema, ref: Ref) -> dict[str, Any]:
    """The JSON Schema of one event's ``data`` at one schema version."""
    out = {"title": name, **_object(schema["fields"], ref)}
    if schema.get("description"):
        out["description"] = schema["description"]
    out["x-aether-schema-version"] = version
    return out


def type_schemas(lock: Lock, ref: Ref) -> dict[str, dict[str, Any]]:
    """Every value object and enum the events reach (as the newest version of each sees it)."""
    found: dict[str, dict[str, Any]] = {}
    for name in sorted(lock["events"]):
        for type_name, spec in latest(lock["events"][name])[1].get("types", {}).items():
            if "enum" in spec:
                found[type_name] = {"type": "string", "enum": list(spec["enum"])}
            else:
                found[type_name] = {"title": type_name, **_object(spec["fields"], ref)}
    return dict(sorted(found.items()))


def json_schemas(model: Model) -> dict[str, Any]:
    """One JSON Schema document: ``#/$defs/<Event>`` is each event's payload schema (and its
    value objects and enums are beside them); the document itself accepts any of them."""
    lock = contract(model)

    def ref(name: str) -> str:
        return f"#/$defs/{name}"

    defs: dict[str, Any] = type_schemas(lock, ref)
    for name in sorted(lock["events"]):
        version, schema = latest(lock["events"][name])
        defs[name] = payload_schema(name, version, schema, ref)
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": f"urn:aether:{model.name}:events",
            "title": f"{model.name} event payloads",
            # anyOf, not oneOf: a payload does not name its event, and two events may share
            # a shape (PaymentReceived and OrderPaid in the orders example).
            "anyOf": [{"$ref": ref(name)} for name in sorted(lock["events"])],
            "$defs": dict(sorted(defs.items()))}


def _envelope(name: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    """aether.Event as the stores and the bus write it, with this event's payload as data."""
    return {
        "type": "object",
        "required": ["id", "event_type", "actor_id", "version", "data", "timestamp"],
        "properties": {
            "id": {"type": "string", "description": "unique event id (JetStream Nats-Msg-Id)"},
            "event_type": {"type": "string", "const": name},
            "actor_id": {"type": "string"},
            "version": {"type": "integer", "minimum": 1, "description": "the actor's version"},
            "data": payload,
            "timestamp": {"type": "string", "format": "date-time"},
            "metadata": {
                "type": "object", "additionalProperties": {"type": "string"},
                "properties": {"schema_version": {"type": "string", "const": str(version)}},
            },
        },
    }


_STORE = ("Every event of one actor, in order: JetStream stream {stream}, subject "
          "{stream}.events.{actorId} (docs/jetstream.md).")
_BUS = ("Events fanned out to live subscribers on every node by NATSEventBus "
        "(docs/runtime.md, Event bus across nodes); fire and forget.")


def asyncapi(model: Model) -> dict[str, Any]:
    """The AsyncAPI 3 document of the model's events."""
    lock = contract(model)

    def ref(name: str) -> str:
        return f"#/components/schemas/{name}"

    names = sorted(lock["events"])
    messages: dict[str, Any] = {}
    for name in names:
        version, schema = latest(lock["events"][name])
        entry = lock["events"][name]
        message: dict[str, Any] = {
            "name": name, "title": name, "contentType": "application/json",
            "payload": _envelope(name, version, payload_schema(name, version, schema, ref)),
            "x-aether-schema-version": version,
            "x-aether-context": entry["context"],
        }
        if schema.get("description"):
            message["summary"] = schema["description"]
        if entry.get("aggregate"):
            message["x-aether-aggregate"] = entry["aggregate"]
        messages[name] = message
    refs = {name: {"$ref": f"#/components/messages/{name}"} for name in names}
    info: dict[str, Any] = {"title": f"{model.name} events", "version": str(model.version)}
    if model.description:
        info["description"] = model.description
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": info,
        "defaultContentType": "application/json",
        "channels": {
            "store": {
                "address": "{stream}.events.{actorId}", "title": "Event store",
                "description": _STORE, "messages": refs,
                "parameters": {
                    "stream": {"description": "<sanitized namespace>_<store name>, or the store "
                                              "name alone without a namespace"},
                    "actorId": {"description": "the actor id, encoded as one subject token "
                                               "(aether/store/naming.py)"},
                },
            },
            "bus": {
                "address": f"{BUS_PREFIX}.{{namespace}}", "title": "Event bus",
                "description": _BUS, "messages": refs,
                "parameters": {"namespace": {"description": "the namespace, encoded as one "
                                                            "subject token"}},
            },
        },
        "operations": {
            "appendEvent": _operation("send", "store", names),
            "readEvents": _operation("receive", "store", names),
            "publishEvent": _operation("send", "bus", names),
            "subscribeEvents": _operation("receive", "bus", names),
        },
        "components": {"messages": messages, "schemas": type_schemas(lock, ref)},
    }


def _operation(action: str, channel: str, names: list[str]) -> dict[str, Any]:
    return {"action": action, "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in names]}


def export(model: Model, fmt: str) -> str:
    """``aether-gen export --format asyncapi|jsonschema``: deterministic JSON text."""
    document = asyncapi(model) if fmt == "asyncapi" else json_schemas(model)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
