"""A damaged lock is refused where validate and check read it, at its line and column, so
generate never meets a lock it cannot compile (its upcaster tests build payloads from it)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import JsonValue

from codegen.pysource import literal
from codegen.upcasters import example_payload
from modeling.contract import LockError, parse_lock
from modeling.upcasting import upcast_steps


def lock(field: dict[str, Any], types: dict[str, Any] | None = None) -> str:
    old: dict[str, Any] = {"fields": {"patron_id": {"required": True, "type": "str"},
                                      "x": field}}
    if types is not None:
        old["types"] = types
    data = {"aether_lock": 1, "model": "shelf", "model_version": 1, "events": {"HoldPlaced": {
        "aggregate": "Book", "context": "Lending", "schema_version": 2, "versions": {
            "1": old, "2": {"fields": {"patron_id": {"required": True, "type": "str"}}}}}}}
    return json.dumps(data, indent=2, sort_keys=True).replace('"INF"', "1e999")


@pytest.mark.parametrize(("field", "line", "said"), [
    ({"required": True, "type": "list["}, "17:23",
     "field 'x': type 'list[' ends early"),
    ({"required": True, "type": "Ghost"}, "17:23",
     "field 'x' has type 'Ghost', which the version does not carry under `types`"),
    ({"required": False, "type": "float", "default": "INF"}, "16:26",
     "default of field 'x': inf has no JSON form; write a finite number"),
    ({"required": False, "type": "list[date]", "default": ["20260131"]}, "16:26",
     "default of field 'x': item 1: '20260131' is not a valid date"),
])
def test_a_damaged_version_is_refused_at_its_place(field: dict[str, Any], line: str,
                                                    said: str) -> None:
    with pytest.raises(LockError) as caught:
        parse_lock(lock(field), "shelf.lock.json")
    message = str(caught.value)
    assert message.startswith(f"shelf.lock.json:{line}: version 1 of event 'HoldPlaced' in "
                              f"the lock: {said}")
    assert message.endswith("; restore the lock from version control")


_types = st.sampled_from(["str", "int", "float", "date", "datetime", "uuid", "bytes",
                          "decimal", "list[", "list[str]", "dict[str, int]", "Ghost",
                          "Money", "Money | None", "list[Money]", "Level", "int | None",
                          "", "dict[int, str]"])
_defaults: st.SearchStrategy[JsonValue] = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**60), 2**60), st.just("INF"),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "x", "20260131", "2026-01-31", "AAEC/w==", "low", "1.5",
                     "2026-01-31T12:00:00+00:00", "2026-01-31T12:00:00+00:00:30",
                     "00000000-0000-4000-8000-000000000001"]),
    st.lists(st.sampled_from(["a", "2026-01-31", 1]), max_size=2),
    st.sampled_from([{}, {"amount": "1"}, {"amount": "1", "note": None}, {"x": 1}]))
_money = {"Money": {"fields": {"amount": {"required": True, "type": "decimal"},
                               "note": {"required": False, "type": "str | None",
                                        "default": None}}},
          "Level": {"enum": ["low", "high"]}}


@given(_types, st.booleans(), _defaults)
def test_a_lock_that_parses_is_a_lock_generate_compiles(type_: str, required: bool,
                                                        default: JsonValue) -> None:
    field: dict[str, Any] = {"required": required, "type": type_}
    if not required:
        field["default"] = default
    try:
        data = parse_lock(lock(field, _money), "shelf.lock.json")
    except LockError:
        return
    versions = data["events"]["HoldPlaced"]["versions"]
    payload = example_payload(versions["1"], "HoldPlaced", 1)  # raises nothing
    json.dumps(payload, allow_nan=False)
    for step in upcast_steps("HoldPlaced", versions):
        for value in step.defaults.values():
            literal(value)
