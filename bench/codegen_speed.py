"""aether-gen vs datamodel-code-generator on the same event payloads.

For N events (each with a field of every type), ours reads the model YAML,
validates it and writes the whole package (events, commands, bases, stubs,
tests); the baseline reads the equivalent JSON Schema of the event payloads and
writes pydantic models. Both run in this process, best of three.
"""

from __future__ import annotations

import json
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import datamodel_code_generator as dcg
import yaml
from datamodel_code_generator.enums import DataModelType, InputFileType

from bench.table import Row, print_table
from codegen.generator import generate
from codegen.writer import write
from modeling import load_model

SIZES = (50, 500, 2000)
PER_AGGREGATE = 10
FIELDS: dict[str, Any] = {
    "name": "str", "count": "int", "ratio": "float", "flag": "bool", "price": "decimal",
    "at": "datetime", "day": "date", "ref": "uuid", "blob": "bytes", "tags": "list[str]",
    "scores": "dict[str, int]", "note": "str | None", "colour": "Colour", "point": "Point",
}
SCHEMA_TYPES: dict[str, Any] = {
    "str": {"type": "string"}, "int": {"type": "integer"}, "float": {"type": "number"},
    "bool": {"type": "boolean"}, "decimal": {"type": "string", "format": "decimal"},
    "datetime": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"}, "uuid": {"type": "string", "format": "uuid"},
    "bytes": {"type": "string", "format": "binary"},
    "list[str]": {"type": "array", "items": {"type": "string"}},
    "dict[str, int]": {"type": "object", "additionalProperties": {"type": "integer"}},
    "str | None": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    "Colour": {"$ref": "#/$defs/Colour"}, "Point": {"$ref": "#/$defs/Point"},
}


def model_yaml(events: int) -> str:
    aggregates = []
    for a in range(events // PER_AGGREGATE):
        names = [f"Thing{a}Event{e}" for e in range(PER_AGGREGATE)]
        aggregates.append({
            "name": f"Thing{a}",
            "state": {"name": "str"},
            "commands": [{"name": f"Thing{a}Do{e}", "actor": "User", "fields": FIELDS,
                          "emits": [names[e]]} for e in range(PER_AGGREGATE)],
            "events": [{"name": name, "fields": FIELDS} for name in names],
        })
    model = {"model": "synthetic", "contexts": [{
        "name": "Synthetic", "actors": ["User"],
        "enums": [{"name": "Colour", "values": ["red", "green"]}],
        "value_objects": [{"name": "Point", "fields": {"x": "float", "y": "float"}}],
        "aggregates": aggregates,
    }]}
    return yaml.safe_dump(model, sort_keys=False)


def payload_schema(events: int) -> str:
    defs: dict[str, Any] = {
        "Colour": {"type": "string", "enum": ["red", "green"]},
        "Point": {"type": "object", "properties": {"x": {"type": "number"},
                                                   "y": {"type": "number"}},
                  "required": ["x", "y"], "additionalProperties": False},
    }
    for a in range(events // PER_AGGREGATE):
        for e in range(PER_AGGREGATE):
            defs[f"Thing{a}Event{e}"] = {
                "type": "object", "additionalProperties": False,
                "properties": {name: SCHEMA_TYPES[kind] for name, kind in FIELDS.items()},
                "required": [name for name, kind in FIELDS.items() if "None" not in kind],
            }
    return json.dumps({"$schema": "https://json-schema.org/draft/2020-12/schema",
                       "title": "Payloads", "$defs": defs,
                       "anyOf": [{"$ref": f"#/$defs/{name}"} for name in defs]})


def ours(events: int, work: Path) -> float:
    source = work / f"model_{events}.yaml"
    source.write_text(model_yaml(events))

    def run(out: Path) -> None:
        loaded = load_model(source)
        write(generate(loaded.model, "synthetic"), out)

    return _best(run, work / f"ours_{events}")


def baseline(events: int, work: Path) -> float:
    schema = payload_schema(events)

    def run(out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        dcg.generate(schema, input_file_type=InputFileType.JsonSchema,
                     output=out / "models.py",
                     output_model_type=DataModelType.PydanticV2BaseModel)

    return _best(run, work / f"theirs_{events}")


def _best(run: Any, prefix: Path, repeats: int = 3) -> float:
    timings = []
    for attempt in range(repeats):
        start = time.perf_counter()
        run(prefix.with_name(f"{prefix.name}_{attempt}"))
        timings.append(time.perf_counter() - start)
    return min(timings)


def main(argv: list[str] | None = None) -> None:
    warnings.filterwarnings("ignore", module="datamodel_code_generator")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for events in SIZES:
            rows.append(Row(f"{events:,} events (seconds)", ours(events, work),
                            baseline(events, work), unit="s"))
    print_table("Code generation: model -> package, best of 3",
                "datamodel-code-generator on the JSON Schema of the same event payloads "
                "(pydantic v2 output), same run", rows)
    per_event = [f"{row.ours / int(row.operation.split()[0].replace(',', '')) * 1000:.2f} ms"
                 for row in rows]
    print(f"\nours per event at {', '.join(str(s) for s in SIZES)} events: "
          f"{', '.join(per_event)} (flat = linear growth)")
