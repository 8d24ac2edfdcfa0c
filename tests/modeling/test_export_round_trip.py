"""`export --format yaml` gives text aether-gen reads back as the same model, whatever the
names, defaults and descriptions say; and a file that holds no model says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import JsonValue

from codegen.cli import main
from modeling.export import to_yaml
from modeling.structure import build_model
from modeling.types import Aggregate, BoundedContext, FieldSpec, Model, ValueObject
from modeling.yaml_source import load_yaml

_text = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from([
    "1e300", "1e3", "1e-5", "-2E+7", ".5e1", "1.", "1.0e+3", "0x1F", "0o17", "1_000", "12:30",
    "2026-01-31", "2026-01-31T12:00:00Z", "yes", "no", "on", "off", "y", "n", "~", "null",
    "true", "False", ".inf", "-.Inf", ".nan", "", " ", "- a", "a: b", "#c", "&a", "*a", "!t",
    "|", ">", "'", '"', "@", "`", "%", "[1]", "{}", "<<"])
_json: st.SearchStrategy[JsonValue] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8)
_fields = st.dictionaries(_text, st.builds(
    lambda type_, default, description: FieldSpec(type=type_, default=default,
                                                  description=description)
    if default is not ... else FieldSpec(type=type_, description=description),
    _text, _json | st.just(...), _text), max_size=4)


@settings(max_examples=300, deadline=None)
@given(name=_text, version=st.integers(1, 10**9), description=_text, fields=_fields,
       state=_fields, vo_name=_text)
def test_export_then_load_gives_an_equal_model(name: str, version: int, description: str,
                                               fields: dict[str, FieldSpec],
                                               state: dict[str, FieldSpec],
                                               vo_name: str) -> None:
    model = Model(name=name, version=version, description=description, contexts=[
        BoundedContext(name=vo_name, value_objects=[ValueObject(name=vo_name, fields=fields)],
                       aggregates=[Aggregate(name=name, id=vo_name, state=state)])])
    data, source, problems = load_yaml(to_yaml(model), "exported.yaml")
    assert problems == []
    again, errors = build_model(data, source)
    assert errors == []
    assert again == model


def test_numbers_written_as_text_stay_text() -> None:
    model = Model(name="rt", contexts=[BoundedContext(name="S", value_objects=[ValueObject(
        name="V", fields={"a": FieldSpec(type="str", default="1e300")})])])
    assert "default: '1e300'" in to_yaml(model)


@pytest.mark.parametrize("text", ["---\n", "~\n", "null\n", "---\n...\n", "%YAML 1.2\n---\n",
                                  "--- !!null\n", "", "# only a comment\n"])
def test_a_file_with_no_model_says_it_is_empty(tmp_path: Path, text: str) -> None:
    file = tmp_path / "m.yaml"
    file.write_text(text)
    for args in (["validate", str(file)], ["generate", str(file), "-o", str(tmp_path / "o")]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1
        assert result.output.strip() == (f"{file}:1:1: error: the model file is empty; start "
                                         f"with `model: <name>` and `contexts:`")


@pytest.mark.parametrize(("written", "read"), [
    ("1:20", "1:20"), ("190:20:30.15", "190:20:30.15"),  # 1.1's base 60: 80, 685230.15
    ("0777", 777), ("-007", -7),  # 1.1's octal: 511
    ("0b101", "0b101"), ("1_000", "1_000"), ("1_0.5", "1_0.5"),  # 1.1 only
    ("0o17", 15), ("0x1F", 31), ("1e3", 1000.0), (".5", 0.5), ("12", 12),  # 1.2
    ("false", False), ("on", "on"), ("'0o17'", "0o17"),
])
def test_numbers_are_read_the_yaml_1_2_way(written: str, read: JsonValue) -> None:
    data, _, problems = load_yaml(f"v: {written}\n", "m.yaml")
    assert problems == [] and data == {"v": read}
    assert type(data["v"]) is type(read)
