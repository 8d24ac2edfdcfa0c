"""aether-gen export: the AsyncAPI 3 document and the JSON Schemas of a model's events, checked
against the official AsyncAPI 3 schema (npm's @asyncapi/specs, fetched by scripts/setup.sh)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from aether import Event
from codegen.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / ".cache" / "asyncapi-specs" / "package" / "schemas" / "3.0.0.json"
MODELS = {
    "orders": ROOT / "examples" / "orders" / "model.yaml",
    "library": ROOT / "examples" / "library" / "model.py",
    "hostile": ROOT / "tests" / "codegen" / "models" / "hostile.yaml",
}


@pytest.fixture(scope="module")
def asyncapi_schema() -> jsonschema.Draft7Validator:
    if not SPEC.is_file():
        pytest.fail(f"{SPEC} is missing: run `bash scripts/setup.sh` (it fetches "
                    f"@asyncapi/specs with npm)")
    return jsonschema.Draft7Validator(json.loads(SPEC.read_text()))


def _export(model: Path, fmt: str, out: Path) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["export", str(model), "-f", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return document


def _errors(validator: jsonschema.Draft7Validator, document: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in
            validator.iter_errors(document)]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_asyncapi_export_is_valid_asyncapi_3(
    name: str, tmp_path: Path, asyncapi_schema: jsonschema.Draft7Validator
) -> None:
    document = _export(MODELS[name], "asyncapi", tmp_path / "asyncapi.json")
    assert _errors(asyncapi_schema, document) == []
    assert document["channels"]["store"]["address"] == "{stream}.events.{actorId}"
    assert document["channels"]["bus"]["address"] == "aether.bus.{namespace}"
    again = _export(MODELS[name], "asyncapi", tmp_path / "again.json")
    assert again == document


def test_the_asyncapi_schema_refuses_what_is_not_asyncapi_3(
    tmp_path: Path, asyncapi_schema: jsonschema.Draft7Validator
) -> None:
    document = _export(MODELS["orders"], "asyncapi", tmp_path / "asyncapi.json")
    document["operations"]["appendEvent"]["action"] = "publish"  # AsyncAPI 2's word
    assert _errors(asyncapi_schema, document)


def _payload_validator(document: dict[str, Any], event: str) -> jsonschema.Draft7Validator:
    root = {"$ref": f"#/components/messages/{event}/payload", **document}
    return jsonschema.Draft7Validator(root)


def test_an_event_as_the_store_writes_it_matches_its_message(tmp_path: Path) -> None:
    document = _export(MODELS["orders"], "asyncapi", tmp_path / "asyncapi.json")
    event = Event(id="e-1", event_type="OrderPlaced", actor_id="order-1", version=1,
                  data={"customer_id": "c1", "total": "9.00",
                        "lines": [{"sku": "A-1", "quantity": 2, "price": "4.50"}]},
                  timestamp=datetime(2026, 1, 31, tzinfo=UTC),
                  metadata={"schema_version": "1"})
    wire = json.loads(event.model_dump_json())
    placed = _payload_validator(document, "OrderPlaced")
    assert list(placed.iter_errors(wire)) == []
    renamed = {**wire, "data": {**wire["data"], "customer": "c1"}}
    del renamed["data"]["customer_id"]
    assert {e.validator for e in placed.iter_errors(renamed)} == {"required",
                                                                  "additionalProperties"}
    assert list(_payload_validator(document, "OrderPaid").iter_errors(wire))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_jsonschema_export_has_a_valid_schema_per_event(name: str, tmp_path: Path) -> None:
    document = _export(MODELS[name], "jsonschema", tmp_path / "events.schema.json")
    jsonschema.Draft202012Validator.check_schema(document)
    events = [ref["$ref"].removeprefix("#/$defs/") for ref in document["anyOf"]]
    assert events and all("x-aether-schema-version" in document["$defs"][e] for e in events)


def test_jsonschema_export_accepts_a_payload_and_refuses_a_renamed_field(tmp_path: Path) -> None:
    document = _export(MODELS["orders"], "jsonschema", tmp_path / "events.schema.json")
    paid = jsonschema.Draft202012Validator({**document, "$ref": "#/$defs/OrderPaid"})
    assert list(paid.iter_errors({"order_id": "o1", "payment_id": "p1", "amount": "9.50"})) == []
    assert list(paid.iter_errors({"order_id": "o1", "payment": "p1", "amount": "9.50"}))


BYTES_MODEL = '''\
model: blobs
contexts:
  - name: Store
    value_objects:
      - name: Part
        fields: {chunk: {type: bytes, default: "hi"}}
    aggregates:
      - name: Blob
        id: blob_id
        commands:
          - {name: Put, actor: Owner, fields: {blob_id: str}, emits: [Stored]}
        events:
          - name: Stored
            fields:
              blob_id: str
              data: {type: bytes, default: "plain text, not base64"}
              part: {type: Part, default: {chunk: "aGk="}}
    actors: [Owner]
'''


def test_exported_defaults_are_what_payloads_carry(tmp_path: Path) -> None:
    # A bytes field's own default is its text (b"..." in the class); payloads carry bytes as
    # base64, so the contract's default is the base64 of that text, as the event writes it.
    model = tmp_path / "blobs.yaml"
    model.write_text(BYTES_MODEL, encoding="utf-8")
    document = _export(model, "jsonschema", tmp_path / "events.schema.json")
    properties = document["$defs"]["Stored"]["properties"]
    assert properties["data"]["default"] == "cGxhaW4gdGV4dCwgbm90IGJhc2U2NA=="
    assert properties["part"]["default"] == {"chunk": "aGk="}  # JSON already: base64
    assert document["$defs"]["Part"]["properties"]["chunk"]["default"] == "aGk="
    generated = tmp_path / "out"
    result = CliRunner().invoke(main, ["generate", str(model), "-o", str(generated)])
    assert result.exit_code == 0, result.output
    written = subprocess.run(
        [sys.executable, "-c", "from blobs.events import Stored; "
         "print(Stored(blob_id='b').model_dump_json())"],
        cwd=generated, capture_output=True, text=True, check=True).stdout
    data = json.loads(written)
    assert data["data"] == properties["data"]["default"]
    assert data["part"] == properties["part"]["default"]
