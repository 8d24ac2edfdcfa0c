"""Values validate accepts are values generated code can build: found by attacking the read
model, policy and external-system features with hostile scenarios (rule 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modeling import ModelError, load_model

BYTES_MODEL = """\
model: blobs
contexts:
  - name: Files
    actors: [User]
    value_objects:
      - {name: Part, fields: {data: bytes}}
    aggregates:
      - name: Blob
        commands:
          - {name: Put, actor: User, fields: {data: bytes}, emits: [Stored]}
        events:
          - name: Stored
            fields:
              data: bytes
              raw: {type: bytes, default: "any text: a bytes field's own default"}
              parts: {type: "list[bytes]", default: ["%s"]}
        scenarios:
          - {name: put, when: {Put: {data: "%s"}}, then: [{Stored: {data: "AAEC/w=="}}]}
    read_models:
      - name: Blobs
        from: [Stored]
        fields: {part: "Part | None"}
        scenarios:
          - {name: seen, given: [{Stored: {data: ""}}], then: [{part: {data: "%s"}}]}
"""


def errors(file: Path) -> list[str]:
    with pytest.raises(ModelError) as caught:
        load_model(file)
    return [str(d).removeprefix(f"{file}:") for d in caught.value.diagnostics
            if d.severity == "error"]


def test_bytes_in_scenarios_and_nested_values_must_be_base64(tmp_path: Path) -> None:
    """Generated code decodes them as base64 (``kit.JsonBytes``, scenario constructors):
    ``\\x00`` once passed validate and then crashed generate with 'Incorrect padding'."""
    path = tmp_path / "blobs.yaml"
    path.write_text(BYTES_MODEL % ("abc", "\\\\x00", "caf\u00e9"), encoding="utf-8")
    hint = ('is not base64 text; bytes in scenarios and in lists or value objects are '
            'written as base64 ("AAEC/w==" is the bytes 0, 1, 2, 255; "" is none)')
    assert errors(path) == [
        f"16:53: error: default of field 'parts' of event Stored: item 1: 'abc' {hint}",
        f"18:44: error: field 'data' of Put: '\\\\x00' {hint}",
        f"24:71: error: field 'part' of BlobsRow: field 'data' of Part: 'caf\u00e9' {hint}",
    ]
    path.write_text(BYTES_MODEL % ("AAEC", "", "/w=="), encoding="utf-8")
    load_model(path)


def test_a_name_of_many_words_is_refused_when_its_snake_case_is_too_long(
    tmp_path: Path,
) -> None:
    """48 characters of one-letter words become 71 in snake_case: the aggregate's apply
    dispatch and the upcaster tests went past 100 columns (E501)."""
    path = tmp_path / "long.yaml"
    many, fits = "Aa" * 24, "Eeee" * 11 + "Eeee"  # snake_case: 71 and 59 characters
    path.write_text(f"model: m\ncontexts:\n  - name: C\n    events: [{{name: {many}}}, "
                    f"{{name: {fits}}}]\n")
    assert errors(path) == [
        f"4:21: error: event name '{many}' is too long as a module and method name: its "
        "snake_case form has 71 characters, and at most 59 keep generated lines within 100 "
        "columns; use fewer words"]


def test_a_state_or_row_field_and_its_type_fit_the_generated_evolve_line(
    tmp_path: Path,
) -> None:
    """`        <field>: <Type> | kit.Unset = kit.UNSET,` of evolve(...) cannot be broken
    between the name and the type: a 48-character field of a 48-character enum was 106
    columns (E501), in the state, in a read model's fields and as its key."""
    field, enum = "t" * 48, "Nnnn" * 12
    path = tmp_path / "evolve.yaml"
    path.write_text(f"""\
model: m
contexts:
  - name: C
    actors: [P]
    enums: [{{name: {enum}, values: [a]}}]
    aggregates:
      - name: Thing
        state: {{{field}: {{type: "{enum} | None", default: a}}}}
        commands: [{{name: Do, actor: P, fields: {{{field}: {enum}}}, emits: [Done]}}]
        events: [{{name: Done, fields: {{{field}: {enum}}}}}]
    read_models:
      - {{name: ByT, key: {field}, from: [Done]}}
      - {{name: WithT, from: [Done], fields: {{{field}: "list[{enum}]"}}}}
""")
    fits = ("have 96 characters together; at most 90 fit the generated "
            f"`{field}: {enum} ...` line within 100 columns: shorten the field name or "
            "the type name")
    assert errors(path) == [
        f"8:17: error: field '{field}' of aggregate Thing state and its type '{enum}' {fits}",
        f"12:26: error: key '{field}' of read model ByT and its type '{enum}' {fits}",
        f"13:46: error: field '{field}' of read model WithT and its type '{enum}' {fits}",
    ]


def test_any_field_with_a_default_and_its_type_fit_one_line(tmp_path: Path) -> None:
    """`    <field>: <Type> = ...` of a command, event or value object: ruff breaks the value,
    never the annotation, so a 44-character field of a 48-character enum was over 100
    columns; 90 characters together still fit."""
    enum = "Nnnn" * 12

    def model(field: str) -> Path:
        path = tmp_path / f"{len(field)}.yaml"
        path.write_text(f"""\
model: m
contexts:
  - name: C
    actors: [P]
    enums: [{{name: {enum}, values: [a]}}]
    aggregates:
      - name: Thing
        commands: [{{name: Do, actor: P, fields: {{{field}: {{type: {enum}, default: a}}}},
                    emits: [Done]}}]
        events: [{{name: Done}}]
""")
        return path

    assert errors(model("f" * 44)) == [
        f"8:50: error: field '{'f' * 44}' of command Do and its type '{enum}' have 92 "
        f"characters together; at most 90 fit the generated `{'f' * 44}: {enum} ...` line "
        f"within 100 columns: shorten the field name or the type name"]
    load_model(model("f" * 42))


def test_rows_whose_keys_are_equal_values_are_one_row(tmp_path: Path) -> None:
    """"1.0" and "1" are one decimal key (and "...Z", "...+00:00" one instant): a scenario
    expecting two rows passed validate and could never pass."""
    path = tmp_path / "keys.yaml"
    path.write_text("""\
model: m
contexts:
  - name: C
    actors: [P]
    aggregates:
      - name: Till
        commands: [{name: Ring, actor: P, fields: {money: decimal}, emits: [Rung]}]
        events: [{name: Rung, fields: {money: decimal, at: datetime}}]
    read_models:
      - name: ByMoney
        key: money
        from: [Rung]
        scenarios:
          - {name: s, given: [], then: [{money: "1.0"}, {money: "1"}, {money: "sNaN"}]}
      - name: ByAt
        key: at
        from: [Rung]
        scenarios:
          - {name: s, given: [], then: [{at: "2026-01-01T00:00:00Z"},
                                         {at: "2026-01-01T01:00:00+01:00"}]}
""")
    assert errors(path) == [
        "14:57: error: rows 1 and 2 have the same money '1'; ByMoney keeps one row per "
        "money: merge them",
        "14:79: error: field 'money' of ByMoneyRow: 'sNaN' is not a valid decimal; write a "
        "decimal such as \"12.50\"",
        "20:42: error: rows 1 and 2 have the same at '2026-01-01T01:00:00+01:00'; ByAt keeps "
        "one row per at: merge them",
    ]
