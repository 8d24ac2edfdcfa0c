"""A Python model's value that is not JSON is refused saying what to write instead."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from pydantic import JsonValue

from codegen.generator import generate
from codegen.writer import write
from modeling import ModelBuilder, ModelError, load_builder, load_model
from modeling.builder import field

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
    ("bytes", "b'hi'", "a bytes field's own default is written as its text, 'hi'"),
    ("bytes | None", "b'\\xff\\x00'", "a bytes field's own default is written as text and "
     "stored as its UTF-8 encoding, which these bytes are not: give no default, or one that "
     "is UTF-8 text"),
    ("list[int]", "(1, 2)", "write the tuple as a list, [...]"),
    ("list[int]", "{1, 2}", "write the set as a list, [...]"),
    # Values no copy can take were an internal error (the repair copied the model's data).
    ("list[int]", "{1: 1}.values()", "got dict_values; write text, a number, true/false, "
     "None, a list or a dict with str keys"),
    ("bytes", "memoryview(b'hi')", "got memoryview; write text, a number, true/false, None, "
     "a list or a dict with str keys"),
])
def test_a_value_that_is_not_json_says_what_to_write(tmp_path: Path, type_: str,
                                                      default: str, said: str) -> None:
    file = tmp_path / "m.py"
    file.write_text(MODEL % (type_, default))
    with pytest.raises(ModelError) as caught:
        load_model(file)
    assert [str(d).removeprefix(f"{file}:") for d in caught.value.diagnostics] == [
        f"7:9: error: state.x.default of aggregate 'Order': not a JSON value; {said}"]


def test_bytes_in_a_list_are_written_as_base64(tmp_path: Path) -> None:
    file = tmp_path / "m.py"
    file.write_text(MODEL % ("list[bytes]", "[b'\\xff\\x00']"))
    with pytest.raises(ModelError) as caught:
        load_model(file)
    assert [str(d).removeprefix(f"{file}:") for d in caught.value.diagnostics] == [
        "7:9: error: state.x.default.item 1 of aggregate 'Order': not a JSON value; write "
        "bytes here as base64 text, '/wA='"]


@pytest.mark.parametrize(("package", "type_", "written", "expected"), [
    ("hint_own", "bytes", "'hi'", b"hi"), ("hint_list", "list[bytes]", "['/wA=']", [b"\xff\x00"])])
def test_following_the_bytes_hint_gives_the_same_bytes(
        tmp_path: Path, package: str, type_: str, written: str, expected: object) -> None:
    file = tmp_path / "m.py"
    file.write_text(MODEL % (type_, written))
    write(generate(load_model(file).model, package), tmp_path / "out")
    sys.path.insert(0, str(tmp_path / "out"))
    try:
        bases = importlib.import_module(f"{package}.bases")
    finally:
        sys.path.remove(str(tmp_path / "out"))
    assert bases.OrderState().x == expected


DEEP = """\
from modeling import ModelBuilder
from modeling.builder import field
x = %s
for _ in range(%d):
    x = %s
model = ModelBuilder("shop")
sales = model.context("Sales")
sales.actor("User")
order = sales.aggregate("Order", state={"x": field("list[str]", default=x)})
"""


@pytest.mark.parametrize(("start", "depth", "nest", "where"), [
    ("[]", 40, "[x]", "default of field 'x' of aggregate Order state"),
    ("[]", 400, "[x]", "state.x.default of aggregate 'Order'"),
    ("[]", 600, "[x]", "state.x.default of aggregate 'Order'"),
    ("[]", 5000, "[x]", "state.x.default of aggregate 'Order'"),
    ("{}", 600, "{'k': x}", "state.x.default.k.k.k.k.(54 levels deeper) of aggregate 'Order'"),
    ("[]; x.append(x)", 0, "x", "state.x.default of aggregate 'Order'"),
])
def test_a_value_nested_too_deep_is_one_short_located_error(
        tmp_path: Path, start: str, depth: int, nest: str, where: str) -> None:
    file = tmp_path / "m.py"
    file.write_text(DEEP % (start, depth, nest))
    with pytest.raises(ModelError) as caught:
        load_model(file)
    errors = [str(d).removeprefix(f"{file}:") for d in caught.value.diagnostics
              if d.severity == "error"]
    assert errors == [f"9:9: error: {where}: values nest deeper than 15 levels"
                      + (" (or contain themselves)" if depth != 40 else "")
                      + "; flatten the value"]


def test_a_value_that_repeats_itself_is_bounded(tmp_path: Path) -> None:
    file = tmp_path / "m.py"
    file.write_text(DEEP % ("[]", 18, "[x, x]"))  # 2**19 values, 18 levels deep
    with pytest.raises(ModelError) as caught:
        load_model(file)
    (error,) = [str(d).removeprefix(f"{file}:") for d in caught.value.diagnostics]
    assert error.startswith("9:9: error: state.x.default of aggregate 'Order': the model "
                            "holds more than 200000 values"), error


def test_a_model_built_right_here_is_bounded_too() -> None:
    x: JsonValue = []
    for _ in range(600):
        x = [x]
    model = ModelBuilder("shop")
    model.context("Sales").aggregate("Order", state={"x": field("list[str]", default=x)})
    with pytest.raises(ModelError) as caught:
        load_builder(model, file="shop.py")
    (error,) = map(str, caught.value.diagnostics)
    assert "values nest deeper than 15 levels" in error and len(error) < 200, error


def test_every_element_of_a_python_model_takes_ignore_as_in_yaml(tmp_path: Path) -> None:
    """model-reference.md says every element takes `ignore`; the builder's actor,
    value_object, enum, read_model, external_system and context did not."""
    file = tmp_path / "m.py"
    file.write_text(
        "from modeling import ModelBuilder\n"
        "model = ModelBuilder('shop')\n"
        "sales = model.context('Sales', ignore=['event-not-emitted'])\n"
        "sales.actor('User', ignore=['event-not-emitted'])\n"
        "sales.value_object('Money', fields={'cents': 'int'}, ignore=['event-not-emitted'])\n"
        "sales.enum('Kind', ['plain'], ignore=['event-not-emitted'])\n"
        "sales.event('Ticked', ignore=['event-not-emitted'])\n"
        "sales.external_system('Clock', emits=['Ticked'], ignore=['event-not-emitted'])\n"
        "order = sales.aggregate('Order')\n"
        "order.command('Place', actor='User', emits=['Placed'])\n"
        "order.event('Placed')\n"
        "sales.read_model('Orders', from_=['Placed'], ignore=['event-not-emitted'])\n")
    context = load_model(file).model.contexts[0]
    elements = [context, context.actors[0], context.value_objects[0], context.enums[0],
                context.external_systems[0], context.read_models[0]]
    assert [element.ignore for element in elements] == [["event-not-emitted"]] * 6


def test_a_python_model_imports_modules_beside_it_and_each_load_reads_its_own(
        tmp_path: Path) -> None:
    """As `python model.py` would; and not the copy a load before imported (the same model
    at another git revision is loaded from another folder, with its own helpers)."""
    for version, field_type in (("one", "int"), ("two", "str")):
        folder = tmp_path / version
        (folder / "parts").mkdir(parents=True)
        (folder / "parts" / "__init__.py").write_text("")
        (folder / "parts" / "money.py").write_text(f"TOTAL = {field_type!r}\n")
        (folder / "m.py").write_text(
            "from modeling import ModelBuilder\nfrom parts.money import TOTAL\n"
            "model = ModelBuilder('shop')\nsales = model.context('Sales')\n"
            "sales.actor('User')\norder = sales.aggregate('Order')\n"
            "order.command('Place', actor='User', fields={'total': TOTAL}, emits=['Placed'])\n"
            "order.event('Placed', fields={'total': TOTAL})\n")
    for version, field_type in (("one", "int"), ("two", "str"), ("one", "int")):
        loaded = load_model(tmp_path / version / "m.py")
        assert loaded.model.contexts[0].aggregates[0].events[0].fields["total"].type == \
            field_type
    assert str(tmp_path / "one") not in sys.path and "parts" not in sys.modules
