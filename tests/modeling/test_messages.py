"""What validate says, and where: scenarios, every error in one run, plain messages."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from codegen.cli import main
from modeling import ModelError, load_model
from modeling.export import to_yaml
from modeling.yaml_source import load_yaml

BROKEN = Path(__file__).parent / "broken"


def problems(file: Path) -> list[str]:
    with pytest.raises(ModelError) as caught:
        load_model(file, strict=True)
    return [str(d).removeprefix(f"{file}:") for d in caught.value.diagnostics]


def test_scenarios_say_what_happens_and_datetimes_are_aware() -> None:
    assert problems(BROKEN / "scenarios.yaml") == [
        "14:19: error: scenario 'says nothing' says neither what happens (`then:` the events, "
        "or `then: []` for none) nor why the command is refused (`error:` text of the "
        "message); add one",
        "19:20: error: scenario 'both' has both `then` and `error`; a rejected command emits "
        "nothing: keep one (`then: []` says the command succeeds and emits nothing)",
        # One run shows every problem of one payload: a bad enum value hides nothing.
        "21:32: error: field 'at' of Start: '2024-03-01T09:00:00' has no time zone; datetimes "
        "are aware (events store aware timestamps): write '2024-03-01T09:00:00+00:00' or "
        "another offset",
        "21:62: error: field 'shift' of Start: 'noon' is not a Shift; use one of day, night",
        "21:75: error: field 'count' of Start: 'x' is not a valid int; write an int",
    ]


def test_then_empty_means_emits_nothing_and_survives_export(tmp_path: Path) -> None:
    text = (BROKEN / "scenarios.yaml").read_text()
    valid = tmp_path / "m.yaml"
    valid.write_text(text[:text.index("          - name: says nothing")]
                     + text[text.index("          - name: emits nothing"):])
    model = load_model(valid, strict=True).model
    (scenario,) = model.contexts[0].aggregates[0].scenarios
    assert scenario.then == [] and scenario.error is None
    exported = tmp_path / "exported.yaml"
    exported.write_text(to_yaml(model))
    assert load_model(exported, strict=True).model == model


def test_a_duplicate_key_hides_no_other_error() -> None:
    assert problems(BROKEN / "duplicate_key.yaml") == [
        "8:20: error: command PlaceOrder names actor 'Customer', which is not declared",
        "10:13: error: duplicate key 'emits': the first one would be silently lost; merge the "
        "two entries",
        "13:29: error: field 'total' of event OrderPlaced has unknown type 'money': the types "
        "are str, int, float, bool, decimal, datetime, date, uuid, bytes, list[T], "
        "dict[str, T], T | None, and value objects and enums the model declares",
    ]


def test_wrong_kinds_say_what_the_name_is_and_lints_show_their_code() -> None:
    assert problems(BROKEN / "wrong_kinds.yaml") == [
        "9:56: error: command ShipOrder emits 'PaymentTaken', which is not an event of "
        "aggregate Order but of aggregate Payment; a command emits only its own aggregate's "
        "events: a policy is the way across aggregates (let ShipOrder emit an event of Order, "
        "and a policy react to it by issuing the command that emits PaymentTaken)",
        "11:42: error: 'event-not-emited' is not a lint code; the lints are event-not-emitted, "
        "command-not-issued, aggregate-without-commands, policy-cycle, context-crossing; did "
        "you mean 'event-not-emitted'?",
        # PaymentVoided's `ignore: [event-not-emitted]` silences that lint for it alone.
        "17:20: warning: event PaymentLost is never emitted: add it to a command's `emits` or "
        "an external system's `emits` [event-not-emitted]",
        "20:59: error: policy PayWhenPlaced issues command 'PaymentTaken', but PaymentTaken "
        "is an event of aggregate Payment, not a command; did you mean 'TakePayment'?",
        "21:35: error: policy ShipWhenPaid reacts to event 'PlaceOrder', but PlaceOrder is a "
        "command of aggregate Order, not an event",
    ]


@pytest.mark.parametrize(("text", "expected"), [
    ("model: x\ncontexts:\n  - name: S\n    aggregates:\n      - name: O\n     commands: []\n",
     "6:6: this line is not lined up with the keys of its block; indent it with the same "
     "number of spaces as the key above it that it belongs beside"),
    ("model: x\ncontexts:\n  - name: S\n  aggregates: []\n",
     "4:3: this key stands at the indentation of the list above it (its `- ` items): indent "
     "it to line up with the keys of the item it belongs to, or start a new item with `- `"),
    ("model: x\ncontexts:\n\t- name: S\n",
     "3:1: a tab character: YAML indents with spaces only; replace the tab with spaces"),
    ("model: x: y\n",
     "1:9: a `key:` where a value was expected: put each key on its own line, lined up with "
     "its neighbours, or quote a value that contains ': '"),
    ("model: x\ncontexts: [\n",
     "3:1: the file ends where a value is still expected: close the `[` or `{` opened before "
     "this point, or give the last key its value"),
])
def test_yaml_syntax_errors_are_plain_sentences_at_the_same_place(text: str,
                                                                 expected: str) -> None:
    _, _, (problem,) = load_yaml(text, "m.yaml")
    assert f"{problem.location.line}:{problem.location.column}: {problem.message}" == \
        expected.replace(": ", ": YAML syntax: ", 1)


def test_help_lists_every_command_whole() -> None:
    result = CliRunner().invoke(main, ["--help"], terminal_width=80)
    commands = result.output.split("Commands:\n")[1].splitlines()
    assert [line.split()[0] for line in commands] == [
        "catalog", "check", "diagram", "export", "generate", "schema", "validate"]
    assert not any(line.endswith("...") for line in commands)
    assert "  schema    Print the JSON Schema of the YAML model format." in commands


def test_a_name_with_a_line_break_never_starts_a_line_of_its_own() -> None:
    """Names that are invalid are quoted in their own error, but many messages name an
    element as the owner or subject of another problem: a line break in such a name made a
    second line that read as another diagnostic (here `err.yaml:9:9: error: injected`)."""
    model = BROKEN / "hostile_names.yaml"
    result = CliRunner().invoke(main, ["validate", str(model)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) >= 25  # one per problem, each about an element with such a name
    for line in lines:
        assert line.isprintable(), line
        assert line.startswith((f"{model}:", "aether-gen: ")), line
    assert sum("\\nerr.yaml:9:9: error: injected" in line for line in lines) >= 25


@pytest.mark.parametrize(("id_", "said"), [
    ("class", "field name 'class' of aggregate Order's id is reserved (a Python keyword); "
              "write 'class_'"),
    ("model_config", "field name 'model_config' of aggregate Order's id is reserved "
                     "(pydantic or aether defines it on generated classes); write 'config'"),
    ("OrderId", "field name 'OrderId' of aggregate Order's id must be snake_case; write "
                "'order_id'"),
])
def test_an_id_no_field_may_have_is_refused_at_the_id(tmp_path: Path, id_: str,
                                                      said: str) -> None:
    """Each command was told to add `class: str` to its fields, which is then refused."""
    file = tmp_path / "m.yaml"
    file.write_text(
        "model: shop\ncontexts:\n  - name: Sales\n    actors: [User]\n    aggregates:\n"
        f"      - name: Order\n        id: {id_}\n        commands:\n"
        "          - {name: PlaceOrder, actor: User, fields: {total: int}, emits: [Placed]}\n"
        "        events:\n          - {name: Placed, fields: {total: int}}\n")
    assert problems(file) == [f"7:13: error: {said}"]


def test_a_model_name_that_is_a_keyword_gets_a_suggestion_that_validates(
        tmp_path: Path) -> None:
    file = tmp_path / "m.yaml"
    body = ("contexts:\n  - name: Sales\n    actors: [User]\n    aggregates:\n"
            "      - name: Order\n        commands:\n"
            "          - {name: PlaceOrder, actor: User, fields: {total: int}, emits: [Placed]}\n"
            "        events:\n          - {name: Placed, fields: {total: int}}\n")
    file.write_text("model: class\n" + body)
    assert problems(file) == [
        "1:8: error: model name 'class' must be a snake_case Python identifier (it names the "
        "generated package); write 'class_'"]
    file.write_text("model: class_\n" + body)
    assert load_model(file).model.name == "class_"


@settings(max_examples=40, deadline=None)
@given(names=st.lists(st.text(min_size=1, max_size=20), min_size=4, max_size=4))
def test_whatever_the_names_each_problem_is_one_printable_line(names: list[str]) -> None:
    """Names of any text (line breaks, controls, bidi marks) as an aggregate, a command, an
    event and a field: every line validate prints is one of its own, about the model file."""
    aggregate, command, event, field = names
    model = {"model": "shop", "contexts": [{"name": "Sales", "actors": ["User"],
             "aggregates": [{"name": aggregate, "state": {field: {"type": "int",
                                                                  "default": "x"}},
                             "commands": [{"name": command, "actor": "User",
                                           "fields": {field: "int"}, "emits": [event]}],
                             "events": [{"name": event, "fields": {field: "nope"}}]}]}]}
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "m.yaml"
        file.write_text(yaml.safe_dump(model, allow_unicode=False))
        result = CliRunner().invoke(main, ["validate", str(file)])
    assert result.exit_code == 1
    for line in result.stderr.splitlines():
        assert line.isprintable(), line
        assert line.startswith((f"{file}:", "aether-gen: ")), line
