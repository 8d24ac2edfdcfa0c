"""Defaults and scenario values validate accepts are values the generated classes accept:
a list or value-object default is generated as ``kit.Field(default=<json>,
validate_default=True)``, which pydantic validates as written when the class is first
used, and stored payloads are decoded by pydantic too (rule 1)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from modeling import ModelError, load_model
from modeling.typeexpr import parse_type
from modeling.types import FieldSpec, ValueObject
from modeling.values import DeclaredTypes, payload_problems, value_problem

NO_TYPES = DeclaredTypes({}, {})
PYTHON: dict[str, Callable[[str], object]] = {
    "date": dt.date.fromisoformat, "datetime": dt.datetime.fromisoformat, "uuid": uuid.UUID}
PYDANTIC: dict[str, TypeAdapter[list[Any]]] = {
    "date": TypeAdapter(list[dt.date]), "datetime": TypeAdapter(list[dt.datetime]),
    "uuid": TypeAdapter(list[uuid.UUID])}


def errors(tmp_path: Path, text: str) -> list[str]:
    file = tmp_path / "m.yaml"
    file.write_text(text)
    try:
        load_model(file)
    except ModelError as error:
        return [str(d).removeprefix(f"{file}:") for d in error.diagnostics]
    return []


def _week_date(day: dt.date) -> str:
    year, week, weekday = day.isocalendar()
    return f"{year:04d}-W{week:02d}-{weekday}"


_offsets = st.integers(-23 * 3600 - 3599, 23 * 3600 + 3599).map(
    lambda seconds: dt.timezone(dt.timedelta(seconds=seconds)))
_zones: st.SearchStrategy[dt.tzinfo | None] = st.one_of(st.none(), _offsets)
_datetimes = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30),
                          timezones=_zones)  # type: ignore[arg-type]  # stub: None only
_texts = {
    "date": st.one_of(
        st.dates().map(dt.date.isoformat), st.dates().map(lambda d: d.strftime("%Y%m%d")),
        st.dates().map(_week_date), _datetimes.map(dt.datetime.isoformat),
        st.text("0123456789-W:T ", max_size=20)),
    "datetime": st.one_of(
        _datetimes.map(dt.datetime.isoformat), _datetimes.map(lambda d: d.isoformat(" ")),
        _datetimes.map(lambda d: d.strftime("%Y%m%dT%H%M%S%z")),
        st.tuples(st.dates(), _offsets).map(lambda p: f"{_week_date(p[0])}T12:00:00"
                                                      f"{dt.datetime.now(p[1]).strftime('%z')}"),
        st.integers(0, 2**40).map(str), st.text("0123456789-:T+Z.,W ", max_size=32)),
    "uuid": st.one_of(
        st.uuids().map(str), st.uuids().map(lambda u: u.hex), st.uuids().map(lambda u: u.urn),
        st.uuids().map(lambda u: "{" + u.hex), st.uuids().map(lambda u: "{" + str(u) + "}"),
        st.uuids().map(lambda u: u.hex[:4] + "-" + u.hex[4:]),
        st.text("0123456789abcdefABCDEF-{}:urn", max_size=45)),
}


@given(st.sampled_from(sorted(_texts)).flatmap(lambda name: st.tuples(st.just(name),
                                                                       _texts[name])))
def test_texts_validate_accepts_are_read_alike_by_python_and_pydantic(
        case: tuple[str, str]) -> None:
    name, text = case
    if value_problem([text], parse_type(f"list[{name}]"), NO_TYPES) is not None:
        return
    # The list default as the generated class validates it, and the scalar as generated.
    (theirs,) = PYDANTIC[name].validate_python([text])
    assert theirs == PYTHON[name](text)
    if isinstance(theirs, dt.datetime):
        offset = theirs.utcoffset()
        assert offset is not None and offset.seconds % 60 == 0 and not offset.microseconds


def _offset_of_seconds(moment: dt.datetime) -> bool:
    offset = moment.utcoffset()
    return offset is not None and offset.seconds % 60 != 0


@given(_datetimes.filter(_offset_of_seconds))
def test_datetimes_with_an_offset_of_seconds_are_refused(moment: dt.datetime) -> None:
    text = moment.isoformat()
    problem = value_problem(text, parse_type("datetime"), NO_TYPES)
    assert problem is not None and "whole number of minutes" in problem
    fields = {"at": FieldSpec(type="datetime")}
    assert payload_problems({"at": text}, fields, NO_TYPES, "Placed") == [("at", "field 'at' "
                                                                          f"of Placed: {problem}")]


def test_the_forms_python_reads_but_pydantic_does_not_are_refused_with_the_form_to_write(
        tmp_path: Path) -> None:
    assert errors(tmp_path, """\
model: shop
contexts:
  - name: Sales
    actors: [User]
    aggregates:
      - name: Order
        state:
          days: {type: "list[date]", default: ["20260131"]}
          ids: {type: "list[uuid]", default: ["{00000000000040008000000000000001"]}
          at: {type: "list[datetime]", default: ["2026-W05-6T12:00:00+00:00"]}
        commands:
          - {name: PlaceOrder, actor: User, fields: {at: datetime}, emits: [OrderPlaced]}
        events:
          - name: OrderPlaced
            fields:
              at: datetime
              odd: {type: datetime, default: "2026-01-31T12:00:00+00:00:30"}
        scenarios:
          - name: s
            when: {PlaceOrder: {at: "2026-01-31T12:00:00+05:00:30"}}
            then: [{OrderPlaced: {at: "2026-01-31T12:00:00+05:00"}}]
""") == [
        "8:47: error: default of field 'days' of aggregate Order state: item 1: '20260131' is "
        "not a valid date; write dates as YYYY-MM-DD, such as \"2026-01-31\"",
        "9:46: error: default of field 'ids' of aggregate Order state: item 1: "
        "'{00000000000040008000000000000001' is not a valid uuid; write uuids as 32 hex digits "
        "in groups of 8-4-4-4-12, such as \"5f0c2d1e-9a3b-4c7d-8e6f-0a1b2c3d4e5f\"",
        "10:49: error: default of field 'at' of aggregate Order state: item 1: "
        "'2026-W05-6T12:00:00+00:00' is not a valid datetime; write datetimes as "
        "YYYY-MM-DDTHH:MM:SS with an offset, such as \"2026-01-31T12:00:00+00:00\"",
        "17:46: error: default of field 'odd' of event OrderPlaced: "
        "'2026-01-31T12:00:00+00:00:30' has a UTC offset that is not a whole number of "
        "minutes: JSON keeps offsets as +HH:MM and would lose the rest; write the time in UTC "
        "(+00:00) or with an offset of whole minutes",
        "20:37: error: field 'at' of PlaceOrder: '2026-01-31T12:00:00+05:00:30' has a UTC "
        "offset that is not a whole number of minutes: JSON keeps offsets as +HH:MM and would "
        "lose the rest; write the time in UTC (+00:00) or with an offset of whole minutes",
    ]


def test_a_default_writes_out_every_optional_field_without_a_default(tmp_path: Path) -> None:
    assert errors(tmp_path, """\
model: shop
contexts:
  - name: Sales
    actors: [User]
    value_objects:
      - name: Money
        fields: {amount: {type: decimal, default: "0"}, currency: "str | None"}
      - name: Node
        fields: {parent: "Node | None", children: "list[Node]"}
    aggregates:
      - name: Order
        state:
          price: {type: Money, default: {}}
          nodes: {type: "list[Node]", default: [{children: []}]}
          written: {type: Money, default: {currency: null}}
          tree: {type: "list[Node]", default: [{parent: null, children: []}]}
        commands:
          - {name: PlaceOrder, actor: User, fields: {price: Money}, emits: [OrderPlaced]}
        events:
          - {name: OrderPlaced}
        scenarios:
          - {name: a scenario may leave it out, when: {PlaceOrder: {price: {}}}, then: []}
""") == [
        "13:41: error: default of field 'price' of aggregate Order state: Money needs a value "
        "for field 'currency' (str | None) in a default: a default is read as written, so "
        "write `currency: null` for none",
        "14:48: error: default of field 'nodes' of aggregate Order state: item 1: Node needs "
        "a value for field 'parent' (Node | None) in a default: a default is read as written, "
        "so write `parent: null` for none",
    ]


_money = DeclaredTypes({"Money": ValueObject(name="Money", fields={
    "amount": FieldSpec(type="decimal", default="0"), "currency": FieldSpec(type="str | None"),
    "at": FieldSpec(type="datetime | None")})}, {})


class Money(BaseModel):
    """Money as generated: a frozen pydantic class that forbids extra fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    currency: str | None
    at: dt.datetime | None
    amount: Decimal = Decimal(0)


@given(st.dictionaries(st.sampled_from(["amount", "currency", "at"]),
                       st.none() | st.sampled_from(["1.5", "EUR", "2026-01-31T12:00:00Z",
                                                    "20260131T1200Z"]), max_size=3))
def test_value_object_defaults_validate_accepts_pydantic_accepts(value: dict[str, str | None]
                                                                 ) -> None:
    problem = value_problem(dict(value), parse_type("Money"), _money)
    try:
        TypeAdapter(Money).validate_python(value)
    except ValidationError:
        assert problem is not None
