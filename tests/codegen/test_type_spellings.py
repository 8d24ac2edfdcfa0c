"""One type, any spacing: ``str|None``, ``str  |  None`` and ``str | None`` are one type, so
the pre-filled stubs (command handlers, apply methods, read models, policies) copy a field
whichever spelling each element uses, and the generated scenario tests pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from codegen.generator import generate
from codegen.writer import write
from modeling import load_model
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
