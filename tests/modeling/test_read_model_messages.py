"""What validate says about read models, and where: keys, single rows, their scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from modeling import ModelError, load_model
from modeling.export import to_yaml

BROKEN = Path(__file__).parent / "broken"
ORDERS = Path(__file__).resolve().parents[2] / "examples" / "orders" / "model.yaml"


def errors(file: Path) -> list[str]:
    with pytest.raises(ModelError) as caught:
        load_model(file)
    return [str(d).removeprefix(f"{file}:") for d in caught.value.diagnostics
            if d.severity == "error"]


def test_key_problems_say_what_to_write_instead() -> None:
    assert errors(BROKEN / "read_models.yaml")[:5] == [
        "24:17: error: read model Both has both `key` and `single: true`; a single-row view "
        "has no key: keep `key: order_id` for a row per order_id, or `single: true` for one "
        "row",
        "26:29: error: read model Lacking is keyed by 'order_id', but event OrderNoted has no "
        "field 'order_id': add `order_id: str` to OrderNoted's fields, or remove OrderNoted "
        "from `from`",
        "28:18: error: field 'order_id' of read model Lacking is 'int', but its key "
        "'order_id' is str in the events: write `order_id: str`, or leave the field out (the "
        "row carries its key anyway)",
        "30:29: error: read model Mismatch is keyed by 'order_id', a str in the first event "
        "that has it, but OrderPaid's 'order_id' is 'int': give every event of `from` the "
        "same key type (str)",
        "34:14: error: key 'lines' of read model ByLines is 'list[str]'; a key picks one row "
        "by its value, so it is one of str, int, bool, decimal, datetime, date, uuid, bytes "
        "or an enum, and never empty (not optional): key by another field, or write "
        "`single: true` for one row",
    ]


def test_every_scenario_problem_is_reported_in_one_run_at_its_place() -> None:
    assert errors(BROKEN / "read_models.yaml")[5:] == [
        "41:21: error: 'OrderPlacd' is not an event; did you mean 'OrderPlaced'?",
        "41:39: error: read model Summary does not read ItemAdded: add it to `from`, or "
        "remove it from the scenario",
        "41:56: error: 'AddItem' is not an event (it is a command of aggregate Cart)",
        "41:85: error: OrderPlaced needs a value for field 'lines' (list[str])",
        "41:107: error: field 'total' of OrderPlaced: 'x' is not a valid decimal; write a "
        "decimal such as \"12.50\"",
        # Rows are checked against the row type: the key, then the declared fields.
        "43:40: error: field 'status' of SummaryRow: 'sent' is not a Status; use one of new, "
        "paid",
        "44:17: error: rows 1 and 2 have the same order_id 'o1'; Summary keeps one row per "
        "order_id: merge them",
        "44:38: error: SummaryRow has no field 'totl' (fields: order_id, status, total)",
        "45:17: error: SummaryRow needs a value for field 'order_id' (str)",
        "53:19: error: read model Counter is a single row: `then` is exactly that one row, as "
        "`[{field: value}]`",
        "55:15: error: read model Nothing reads no events: list the events it is kept from, "
        "e.g. `from: [OrderPlaced]`",
    ]


def test_a_python_model_reports_read_model_problems_at_the_call() -> None:
    assert errors(BROKEN / "read_models_builder.py") == [
        "13:11: error: read model Summary is keyed by 'order_id', but event OrderNoted has no "
        "field 'order_id': add `order_id: str` to OrderNoted's fields, or remove OrderNoted "
        "from `from`",
        "14:1: error: field 'order_id' of OrderPlaced: '1' is not a valid str; write a str",
        "16:1: error: read model Counter has both `key` and `single: true`; a single-row view "
        "has no key: keep `key: order_id` for a row per order_id, or `single: true` for one "
        "row",
    ]


def test_keys_and_read_model_scenarios_survive_export(tmp_path: Path) -> None:
    model = load_model(ORDERS, strict=True).model
    summary = model.contexts[0].read_models[0]
    assert summary.key == "order_id" and len(summary.scenarios) == 2
    exported = tmp_path / "exported.yaml"
    exported.write_text(to_yaml(model))
    assert load_model(exported, strict=True).model == model
