"""One type, any spacing: ``str|None``, ``str  |  None`` and ``str | None`` are one type, so
the pre-filled stubs (command handlers, apply methods, read models, policies) copy a field
whichever spelling each element uses, and the generated scenario tests pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from codegen.generator import generate
from codegen.writer import write
from modeling import load_model
from modeling.changes import compare
from modeling.contract import contract, parse_lock, render_lock
from modeling.source import Location
from modeling.typeexpr import parse_type
from modeling.types import FieldSpec, Model
from tests.codegen.test_read_models import pytest_in

# Each type in three spellings the grammar accepts; the canonical one first.
SPELLINGS = {
    "note": ["str | None", "str|None", "str  |  None"],
    "tags": ["list[str]", "list[ str ]", "list[str ]"],
    "counts": ["dict[str, int]", "dict[str,int]", "dict[ str ,  int ]"],
}
PLACES = ["state", "command", "event", "row", "follow-up"]


def spelled(case: int, place: str) -> dict[str, str]:
    # Every place gets a different spelling from its neighbours, and over the cases each
    # place meets every spelling.
    shift = case + PLACES.index(place)
    return {name: texts[shift % 3] for name, texts in SPELLINGS.items()}


def model(case: int) -> dict[str, object]:
    payload = {"note": "hello", "tags": ["a", "b"], "counts": {"a": 1}}
    opened = {"order_id": "o1", **payload}
    return {"model": "spelled", "contexts": [{
        "name": "Sales",
        "aggregates": [
            {"name": "Order", "id": "order_id", "state": spelled(case, "state"),
             "commands": [{"name": "Open", "emits": ["Opened"],
                           "fields": {"order_id": "str", **spelled(case, "command")}}],
             "events": [{"name": "Opened",
                         "fields": {"order_id": "str", **spelled(case, "event")}}],
             "scenarios": [{"name": "opens", "when": {"Open": opened},
                            "then": [{"Opened": opened}]}]},
            {"name": "Shipment", "id": "order_id",
             "commands": [{"name": "Ship", "emits": ["Shipped"],
                           "fields": {"order_id": "str", **spelled(case, "follow-up")}}],
             "events": [{"name": "Shipped", "fields": {"order_id": "str"}}]},
        ],
        "read_models": [{"name": "Orders", "from": ["Opened"], "key": "order_id",
                         "fields": spelled(case, "row"),
                         "scenarios": [{"name": "one row", "given": [{"Opened": opened}],
                                        "then": [opened]}]}],
        "policies": [{"name": "ShipOpened", "on": ["Opened"], "issues": ["Ship"],
                      "scenarios": [{"name": "ships", "when": {"Opened": opened},
                                     "then": [{"Ship": opened}]}]}],
    }]}


@pytest.mark.parametrize("case", range(3))
def test_stubs_copy_fields_whatever_the_spacing_of_their_types(tmp_path: Path,
                                                               case: int) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(model(case), sort_keys=False), encoding="utf-8")
    write(generate(load_model(path).model, "spelled"), tmp_path / "out")
    order = (tmp_path / "out" / "spelled" / "aggregates" / "order.py").read_text()
    # The apply method copies every field into the state (no scenario looks at the state).
    assert "note=event.note" in order and "counts=event.counts" in order, order
    result = pytest_in(tmp_path / "out", "-p", "no:cacheprovider", "-q", "spelled/tests")
    assert result.returncode == 0, result.stdout + result.stderr


def _spaced(draw: Callable[[st.SearchStrategy[str]], str], parts: list[str]) -> str:
    """``parts`` joined with any spacing the grammar allows (none between a name and its
    ``[``)."""
    gaps = [draw(st.sampled_from(["", " ", "  "])) if after != "[" else ""
            for after in [*parts[1:], ""]]
    return "".join(part + gap for part, gap in zip(parts, gaps, strict=True)).strip()


@st.composite
def type_parts(draw: st.DrawFn, depth: int = 0) -> list[str]:
    """The tokens of a type expression the grammar accepts."""
    primitive = st.sampled_from(["str", "int", "float", "bool", "decimal", "date",
                                 "datetime", "uuid", "bytes"])
    if depth >= 2:
        return [draw(primitive)]
    form = draw(st.sampled_from(["primitive", "list", "dict", "optional"]))
    if form == "list":
        return ["list", "[", *draw(type_parts(depth + 1)), "]"]
    if form == "dict":
        return ["dict", "[", "str", ",", *draw(type_parts(depth + 1)), "]"]
    if form == "optional":
        inner = draw(type_parts(depth + 1))
        if "|" in inner:
            return inner
        return [*inner, "|", "None"]
    return [draw(primitive)]


@settings(max_examples=200, deadline=None)
@given(parts=type_parts(), data=st.data())
def test_any_spelling_of_a_type_is_one_field_type_and_no_lock_change(
        parts: list[str], data: st.DataObject) -> None:
    """Whatever the spacing, a model keeps one spelling of a type (what codegen compares),
    and a lock that spells it otherwise reads back as no change."""
    one, other = _spaced(data.draw, parts), _spaced(data.draw, parts)
    assert FieldSpec(type=one).type == FieldSpec(type=other).type == str(parse_type(one))
    event = {"name": "Opened", "fields": {"x": one}}
    loaded = Model.model_validate({"model": "m", "contexts": [{"name": "C", "aggregates": [
        {"name": "Order", "commands": [{"name": "Open", "emits": ["Opened"]}],
         "events": [event]}]}]})
    written = render_lock(contract(loaded))
    respelled = written.replace(json.dumps(FieldSpec(type=one).type), json.dumps(other))
    nowhere = Location("m.yaml", 1, 1)
    assert compare(parse_lock(respelled, "m.lock.json"), contract(loaded),
                   lambda _: nowhere) == []
