from __future__ import annotations

from pathlib import Path

import pytest

from modeling import ModelError, load_model
from modeling.export import to_yaml
from modeling.structure import build_model
from modeling.yaml_source import load_yaml

ROOT = Path(__file__).resolve().parents[2]
ORDERS_YAML = ROOT / "examples" / "orders" / "model.yaml"
ORDERS_PY = Path(__file__).parent / "models" / "orders.py"
BROKEN = Path(__file__).parent / "broken"


def test_yaml_and_python_forms_load_equal() -> None:
    assert load_model(ORDERS_YAML).model == load_model(ORDERS_PY).model


def test_exported_yaml_loads_back_equal() -> None:
    model = load_model(ORDERS_PY).model
    text = to_yaml(model)
    data, source, problems = load_yaml(text, "exported.yaml")
    assert problems == []
    again, errors = build_model(data, source)
    assert errors == []
    assert again == model
    assert "sku: str" in text  # shorthand kept where it says the same thing


def test_example_model_is_clean() -> None:
    loaded = load_model(ORDERS_YAML, strict=True)
    assert loaded.warnings == []
    assert [c.name for c in loaded.model.contexts] == ["Sales", "Shipping"]


def diagnostics_of(name: str) -> list[str]:
    with pytest.raises(ModelError) as caught:
        load_model(BROKEN / name)
    prefix = f"{BROKEN / name}:"
    return [str(d).removeprefix(prefix) for d in caught.value.diagnostics]


def test_yaml_syntax_error_points_at_the_problem() -> None:
    (line,) = diagnostics_of("bad_yaml.yaml")
    assert line.startswith("5:1: error: YAML syntax:")


def test_unknown_keys_suggest_the_right_one() -> None:
    assert diagnostics_of("unknown_keys.yaml") == [
        "6:9: error: unknown key 'comands' in aggregate 'Order'; did you mean 'commands'?",
        "9:13: error: unknown key 'feilds' in event 'OrderPlaced'; did you mean 'fields'?",
    ]


def test_structure_errors_are_reported_together() -> None:
    found = diagnostics_of("bad_structure.yaml")
    assert [line.split(": error:")[0] for line in found] == ["2:10", "7:24", "9:13"]
    assert "write a type such as str" in found[1]
    assert "command 1 of aggregate 'Order' needs a 'name' key" in found[2]


def test_bad_names_say_what_to_write() -> None:
    found = diagnostics_of("bad_names.yaml")
    errors = [line for line in found if ": error:" in line]
    assert errors == [
        "1:8: error: model name 'My Shop' must be a snake_case Python identifier (it names "
        "the generated package); write 'my_shop'",
        "3:11: error: context name 'sales' must be a PascalCase identifier; write 'Sales'",
        "7:19: error: command name 'place_order' must be a PascalCase identifier; "
        "write 'PlaceOrder'",
        "8:22: error: field name 'CustomerId' of command place_order must be snake_case; "
        "write 'customer_id'",
        "8:39: error: field name 'class' of command place_order is reserved (a Python keyword); "
        "write 'class_'",
        "12:19: error: event name 'OrderPlaced' is already used by the event at line 11; "
        "names of everything but actors are unique across the model (they become classes of one "
        "package)",
    ]


def test_dangling_references_suggest_close_names() -> None:
    errors = [line for line in diagnostics_of("dangling.yaml") if ": error:" in line]
    assert errors == [
        "9:20: error: command PlaceOrder names actor 'Custmer', which is not declared; "
        "did you mean 'Customer'?",
        "10:21: error: command PlaceOrder emits 'OrderPlacd', which is not an event of "
        "aggregate Order; did you mean 'OrderPlaced'? Or declare it under the aggregate's events",
        "15:27: error: policy Notify reacts to event 'OrderShipped', which is not declared; "
        "did you mean 'OrderPlaced'?",
        "16:18: error: policy Notify issues command 'SendMail', which is not declared",
    ]


def test_bad_types_defaults_and_scenarios() -> None:
    errors = [line for line in diagnostics_of("bad_types.yaml") if ": error:" in line]
    assert [line.split(": error:")[0] for line in errors] == [
        "12:22", "13:21", "14:47", "18:29", "21:60", "23:19", "24:13"]
    assert errors[0] == (
        "12:22: error: field 'lines' of command PlaceOrder has unknown type 'Lin': the types "
        "are str, int, float, bool, decimal, datetime, date, uuid, bytes, list[T], "
        "dict[str, T], T | None, and the model's value objects and enums (Line); did you mean "
        "'Line'?")
    assert "expected 'str' but found 'int'" in errors[1]
    assert "'lots' is not a valid decimal" in errors[2]
    assert "ends early, expected ']'" in errors[3]
    assert "PlaceOrder has no field 'totl'" in errors[4]
    assert "scenario 'unknown command' says neither what happens" in errors[5]
    assert "'ShipOrder' is not a command of aggregate Order" in errors[6]


def test_python_model_errors_point_at_the_builder_call() -> None:
    errors = [line for line in diagnostics_of("python_errors.py") if ": error:" in line]
    assert [line.split(": error:")[0] for line in errors] == ["6:1", "8:5"]


def test_python_model_that_raises_points_at_the_raise() -> None:
    assert diagnostics_of("raises.py") == [
        "5:1: error: the Python model raised RuntimeError: 'the model could not be built'"]


def test_python_module_without_model() -> None:
    (line,) = diagnostics_of("no_model.py")
    assert "defines no `model`" in line


def test_yaml_words_stay_words_and_duplicates_are_errors(tmp_path: Path) -> None:
    model = tmp_path / "m.yaml"
    model.write_text(
        "model: m\ncontexts:\n  - name: C\n    enums:\n      - name: Answer\n"
        "        values: [yes, no, on, off]\n"
    )
    enum = load_model(model).model.contexts[0].enums[0]
    assert enum.values == ["yes", "no", "on", "off"]
    model.write_text("model: m\nmodel: n\n")
    with pytest.raises(ModelError, match="2:1: error: duplicate key 'model'"):
        load_model(model)


def test_yaml_never_constructs_objects(tmp_path: Path) -> None:
    model = tmp_path / "m.yaml"
    model.write_text("model: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ModelError, match=r"1:8: error: unsupported YAML value \(tag tag:yaml"):
        load_model(model)


def test_strict_turns_warnings_into_errors(tmp_path: Path) -> None:
    model = tmp_path / "m.yaml"
    model.write_text("model: m\ncontexts:\n  - name: C\n    aggregates:\n      - name: Idle\n")
    assert [d.code for d in load_model(model).warnings] == ["aggregate-without-commands"]
    with pytest.raises(ModelError, match="5:15: warning: aggregate Idle has no commands"):
        load_model(model, strict=True)


def test_policy_cycles_are_flagged(tmp_path: Path) -> None:
    model = tmp_path / "m.yaml"
    model.write_text("""model: m
contexts:
  - name: C
    aggregates:
      - name: Counter
        commands:
          - {name: Bump, actor: User, emits: [Bumped]}
        events:
          - {name: Bumped}
    actors: [User]
    policies:
      - {name: BumpAgain, on: [Bumped], issues: [Bump]}
""")
    (warning,) = load_model(model).warnings
    assert warning.code == "policy-cycle"
    assert "BumpAgain -> Bump -> Bumped -> BumpAgain" in warning.message


def test_structure_and_semantic_errors_are_reported_in_one_run() -> None:
    found = diagnostics_of("mixed.yaml")
    assert [line.split(": error:")[0] for line in found] == [
        "2:10", "8:24", "10:13", "12:20", "13:21", "14:13", "17:25", "19:9", "21:15"]
    semantic = [found[3], found[4], found[6], found[8]]
    assert "actor 'Custmer', which is not declared; did you mean 'Customer'?" in semantic[0]
    assert "emits 'OrderPlacd'" in semantic[1]
    assert "unknown type 'Lin'" in semantic[2]
    assert "policy name 'notify_two' must be a PascalCase identifier" in semantic[3]
    # Nothing is invented about the parts that were broken: no error about the nameless
    # command, the missing `issues`, or `state`'s other field.
    assert not any("__invalid__" in line for line in found)


def test_yaml_floats_are_read_the_yaml_1_2_way(tmp_path: Path) -> None:
    # YAML 1.1 (PyYAML) reads 1e300 as text; 1.2, and every modeler, as a number.
    model = tmp_path / "m.yaml"
    model.write_text(
        "model: m\ncontexts:\n  - name: C\n    events:\n      - name: Measured\n"
        "        fields:\n"
        "          big: {type: float, default: 1e300}\n"
        "          small: {type: float, default: -2.5E-3}\n"
        "          code: {type: str, default: '1e3'}\n"
    )
    (event,) = load_model(model).model.contexts[0].events
    defaults = {name: spec.default for name, spec in event.fields.items()}
    assert defaults == {"big": 1e300, "small": -0.0025, "code": "1e3"}
    assert isinstance(defaults["big"], float)
