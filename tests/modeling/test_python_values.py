"""A Python model's value that is not JSON is refused saying what to write instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from modeling import ModelError, load_model

MODEL = """\
import datetime, decimal, uuid
from modeling import ModelBuilder
from modeling.builder import field
model = ModelBuilder("shop")
sales = model.context("Sales")
sales.actor("User")
order = sales.aggregate("Order", state={"x": field(%r, default=%s)})
order.command("PlaceOrder", actor="User", emits=["OrderPlaced"])
order.event("OrderPlaced")
"""


@pytest.mark.parametrize(("type_", "default", "said"), [
    ("date", "datetime.date(2026, 1, 31)", "write the date as ISO text, '2026-01-31'"),
    ("datetime", "datetime.datetime(2026, 1, 31, 12, tzinfo=datetime.UTC)",
     "write the datetime as ISO text, '2026-01-31T12:00:00+00:00'"),
    ("decimal", "decimal.Decimal('1.5')", "write the Decimal as text, '1.5'"),
    ("uuid", "uuid.UUID(int=1)", "write the UUID as text, '00000000-0000-0000-0000-000000000001'"),
    ("bytes", "b'hi'", "write bytes as text: a bytes field's own default is its text, bytes in "
                     "lists, value objects and scenarios are base64 ('aGk=')"),
    ("list[int]", "(1, 2)", "write the tuple as a list, [...]"),
    ("list[int]", "{1, 2}", "write the set as a list, [...]"),
])
def test_a_value_that_is_not_json_says_what_to_write(tmp_path: Path, type_: str,
                                                      default: str, said: str) -> None:
    file = tmp_path / "m.py"
    file.write_text(MODEL % (type_, default))
    with pytest.raises(ModelError) as caught:
        load_model(file)
    assert [str(d).removeprefix(f"{file}:") for d in caught.value.diagnostics] == [
        f"7:9: error: state.x.default of aggregate 'Order': not a JSON value; {said}"]
