"""Every kind of change between a model and its lock, and none where nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from codegen.cli import main
from modeling import load_model
from modeling.changes import BREAKING
from modeling.contract import contract, lock_path, parse_lock, render_lock
from modeling.evolution import changes_against
from tests.evolution.shelf import SHELF, changed

HOLD = "              period: Period\n"

# (case, edits to the model, expected (kind, line of the change) pairs)
CASES: list[tuple[str, tuple[tuple[str, str], ...], list[tuple[str, int]]]] = [
    ("optional field added", ((HOLD, HOLD + '              note: {type: str, default: ""}\n'),),
     [("optional-field-added", 32)]),
    ("optional field with a null default", ((HOLD, HOLD + "              note: {type: str | None, "
                                                          "default: null}\n"),),
     [("optional-field-added", 32)]),
    ("event description changed", (("A patron placed a hold.", "A patron holds it."),),
     [("description-changed", 26)]),
    ("field description changed", (("hold_till: date", "hold_till: {type: date, description: "
                                                       "last day}"),),
     [("description-changed", 29)]),
    ("event added", (("          - name: BookReturned\n",
                      "          - name: BookLost\n            fields: {patron: str}\n"
                      "          - name: BookReturned\n"),),
     [("event-added", 32)]),
    ("enum value added", (("[normal, priority]", "[normal, priority, urgent]"),),
     [("enum-value-added", 8)]),
    ("field removed", (("              kind: HoldKind\n", ""),), [("field-removed", 25)]),
    ("field renamed", (("hold_till: date", "till: date"),), [("field-renamed", 29)]),
    # Two of one type renamed at once: which became which is not told, so nothing is said
    # to be renamed (a guess by order swapped the values in upcaster stubs).
    ("two fields of one type renamed", (("patron: str\n              hold_till",
                                         "by: str\n              hold_till"),
                                        ("kind: HoldKind\n", "kind: HoldKind\n"
                                         "              to: str\n")),
     [("field-removed", 25), ("required-field-added", 28), ("required-field-added", 31)]),
    ("type changed", (("hold_till: date", "hold_till: datetime"),), [("type-changed", 29)]),
    ("made optional without a default", (("hold_till: date", 'hold_till: "date | None"'),),
     [("type-changed", 29)]),
    ("required field added", ((HOLD, HOLD + "              branch: str\n"),),
     [("required-field-added", 32)]),
    ("optional type added without a default",
     ((HOLD, HOLD + '              branch: "str | None"\n'),),
     [("required-field-added", 32)]),
    ("event removed", (("          - name: BookReturned\n            fields: {patron: str, late: "
                        "bool}\n", ""), ("emits: [BookReturned]", "emits: []")),
     [("event-removed", 4)]),
    ("event renamed", (("name: BookReturned\n            fields", "name: BookGivenBack\n"
                        "            fields"), ("emits: [BookReturned]", "emits: [BookGivenBack]")),
     [("event-renamed", 32)]),
    ("enum value removed", (("[normal, priority]", "[normal]"),), [("enum-value-removed", 8)]),
    ("value object field type changed", (("days: int", "days: str"),), [("type-changed", 11)]),
    ("value object field removed", (("fields: {days: int}", "fields: {}"),),
     [("field-removed", 10)]),
    ("value object optional field added", (("fields: {days: int}", "fields: {days: int, "
                                                                   "grace: {type: int, "
                                                                   "default: 0}}"),),
     [("optional-field-added", 11)]),
]

# Same contract written differently: never a change.
UNCHANGED: list[tuple[str, tuple[tuple[str, str], ...]]] = [
    ("fields reordered", (("              patron: str\n              hold_till: date\n",
                           "              hold_till: date\n              patron: str\n"),)),
    ("long form of a field", (("late: bool}", "late: {type: bool}}"),)),
    ("type spacing", (("period: Period", "period: 'Period'"),)),
    ("commands and state changed", (("state: {held: bool}", "state: {held: bool, n: int}"),)),
    ("aggregate description added", (("        state:", "        description: Books.\n"
                                                       "        state:"),)),
]


def _changes(tmp_path: Path, new_text: str) -> list[tuple[str, int, bool]]:
    model = tmp_path / "shelf.yaml"
    model.write_text(SHELF)
    old = contract(load_model(model).model)
    model.write_text(new_text)
    return [(c.kind, c.location.line, c.failing)
            for c in changes_against(load_model(model), old)]


@pytest.mark.parametrize(("case", "edits", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_change_is_found_where_it_is_with_its_kind(
    tmp_path: Path, case: str, edits: tuple[tuple[str, str], ...],
    expected: list[tuple[str, int]],
) -> None:
    found = _changes(tmp_path, changed(*edits))
    assert found == [(kind, line, kind in BREAKING) for kind, line in expected]


@pytest.mark.parametrize(("case", "edits"), UNCHANGED, ids=[c[0] for c in UNCHANGED])
def test_the_same_contract_written_differently_is_no_change(
    tmp_path: Path, case: str, edits: tuple[tuple[str, str], ...]
) -> None:
    assert _changes(tmp_path, changed(*edits)) == []


def test_a_schema_version_bump_declares_the_breaking_change(tmp_path: Path) -> None:
    found = _changes(tmp_path, changed(("hold_till: date", "till: date"), (
        "A patron placed a hold.\n", "A patron placed a hold.\n            schema_version: 2\n")))
    assert found == [("schema-version-bumped", 25, False), ("field-renamed", 30, False)]


def test_a_lowered_schema_version_is_breaking(tmp_path: Path) -> None:
    model = tmp_path / "shelf.yaml"
    model.write_text(changed(("A patron placed a hold.\n",
                              "A patron placed a hold.\n            schema_version: 3\n")))
    old = contract(load_model(model).model)
    model.write_text(changed(("A patron placed a hold.\n",
                              "A patron placed a hold.\n            schema_version: 2\n")))
    found = changes_against(load_model(model), old)
    assert [(c.kind, c.failing) for c in found] == [("schema-version-lowered", True)]
    assert "set it to 3" in found[0].message


def test_a_model_version_bump_declares_a_removed_event(tmp_path: Path) -> None:
    found = _changes(tmp_path, changed(
        ("version: 1", "version: 2"),
        ("          - name: BookReturned\n            fields: {patron: str, late: bool}\n", ""),
        ("emits: [BookReturned]", "emits: []")))
    assert found == [("event-removed", 4, False)]


@pytest.mark.parametrize(("before", "after", "kind"), [
    ("{type: int, default: 0}", "int", "default-removed"),
    ("{type: int, default: 0}", "{type: int, default: 1}", "default-changed"),
    ("int", "{type: int, default: 1}", None),
    # Long defaults of one length that differ only far in: compared whole, not as shown.
    ("{type: str, default: %s}" % ("a" * 80 + "b"), "{type: str, default: %s}" % ("a" * 80 + "c"),
     "default-changed"),
])
def test_a_default_removed_is_breaking_and_a_default_changed_is_reported(
        tmp_path: Path, before: str, after: str, kind: str | None) -> None:
    """In an event or a value object: the lock keeps one schema per version, so events of the
    version may have been written before the field was added with its default."""
    def edits(grace: str) -> str:
        return changed(("fields: {days: int}", f"fields: {{days: int, grace: {grace}}}"),
                       ("late: bool}", f"late: bool, extra: {grace}}}"))

    model = tmp_path / "shelf.yaml"
    model.write_text(edits(before))
    old = contract(load_model(model).model)
    model.write_text(edits(after))
    found = [(c.kind, c.location.line, c.failing) for c in changes_against(load_model(model), old)]
    expected = [] if kind is None else [(kind, 11, kind in BREAKING), (kind, 33, kind in BREAKING)]
    assert found == expected


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_prints_located_changes_and_exits_1_on_a_breaking_one(tmp_path: Path) -> None:
    model = tmp_path / "shelf.yaml"
    model.write_text(SHELF)
    lock_path(model).write_text(render_lock(contract(load_model(model).model)))
    assert _cli("check", str(model))[0] == 0
    model.write_text(changed(("hold_till: date", "till: date"),
                             (HOLD, HOLD + "              note: {type: str, default: ''}\n")))
    code, out, err = _cli("check", str(model))
    assert code == 1
    assert out.splitlines() == [
        f"{model}:29:15: breaking: field-renamed: BookPlacedOnHold.hold_till renamed to till: "
        f"stored events carry hold_till; bump BookPlacedOnHold's schema_version and upcast old "
        f"events",
        f"{model}:32:15: compatible: optional-field-added: BookPlacedOnHold.note added (with a "
        f"default)",
    ]
    assert f"2 change(s) since {lock_path(model)}, 1 breaking, 1 without a version bump" in err


def test_check_against_a_model_file_and_without_a_lock(tmp_path: Path) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(SHELF)
    new.write_text(changed(("[normal, priority]", "[normal]")))
    code, out, _ = _cli("check", str(new), "--against", str(old))
    assert code == 1 and "enum-value-removed: HoldKind lost the value 'priority'" in out
    code, _, err = _cli("check", str(new))
    assert code == 1
    assert "no lock yet; run aether-gen generate" in err and "Traceback" not in err
    code, _, err = _cli("check", str(new), "--against", "no-such-rev")
    assert code == 1 and "neither a file nor a git revision" in err


def test_a_type_spelled_otherwise_in_a_hand_edited_lock_is_no_change(tmp_path: Path) -> None:
    model = tmp_path / "shelf.yaml"
    model.write_text(changed(("{days: int}", '{days: "int | None", weeks: "list[int]"}'),
                             ("patron: str\n", 'patron: "str | None"\n')))
    written = render_lock(contract(load_model(model).model))
    assert written.count('"str | None"') == 1 and '"list[int]"' in written
    edited = written.replace('"str | None"', '"str|None"').replace(
        '"int | None"', '"int  |None"').replace('"list[int]"', '"list[ int ]"')
    assert edited != written
    assert changes_against(load_model(model), parse_lock(edited, "shelf.lock.json")) == []
