"""The lock beside the model: written by generate, checked by --check, guarding validate."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from codegen.cli import main
from modeling import Model, load_model
from modeling.changes import compare
from modeling.contract import contract, merged_lock, parse_lock, render_lock
from modeling.source import Location
from tests.evolution.shelf import SHELF, changed

RENAMED = changed(("hold_till: date", "till: date"))
BUMPED = changed(("hold_till: date", "till: date"), (
    "A patron placed a hold.\n", "A patron placed a hold.\n            schema_version: 2\n"))


def _cli(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_generate_writes_a_deterministic_lock_that_check_then_finds_fresh(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "shelf.yaml").write_text(SHELF)
        code, out, _ = _cli("generate", tmp_path / folder / "shelf.yaml", "-o", tmp_path / "out")
        assert code == 0 and f"created {tmp_path / folder / 'shelf.lock.json'}" in out
    lock = (tmp_path / "a" / "shelf.lock.json").read_text()
    assert lock == (tmp_path / "b" / "shelf.lock.json").read_text()
    entry = json.loads(lock)["events"]["BookPlacedOnHold"]
    assert entry["schema_version"] == 1
    assert entry["versions"]["1"]["fields"]["hold_till"] == {"type": "date", "required": True}
    assert entry["versions"]["1"]["types"]["HoldKind"] == {"enum": ["normal", "priority"]}
    assert _cli("generate", tmp_path / "a" / "shelf.yaml", "-o", tmp_path / "out",
                "--check")[0] == 0


def test_check_reports_a_stale_lock_like_a_stale_file(tmp_path: Path) -> None:
    model = tmp_path / "shelf.yaml"
    model.write_text(SHELF)
    assert _cli("generate", model, "-o", tmp_path / "out")[0] == 0
    model.write_text(changed(("A patron placed a hold.", "Someone holds it.")))
    code, _, err = _cli("generate", model, "-o", tmp_path / "out", "--check")
    assert code == 1
    assert f"{tmp_path / 'shelf.lock.json'}: stale" in err.splitlines()
    (tmp_path / "shelf.lock.json").unlink()
    code, _, err = _cli("generate", model, "-o", tmp_path / "out", "--check")
    assert code == 1 and f"{tmp_path / 'shelf.lock.json'}: missing" in err.splitlines()


def test_an_unversioned_rename_fails_validate_and_generate_naming_the_fix(tmp_path: Path) -> None:
    model = tmp_path / "shelf.yaml"
    model.write_text(SHELF)
    assert _cli("generate", model, "-o", tmp_path / "out")[0] == 0
    before = (tmp_path / "shelf.lock.json").read_text()
    model.write_text(RENAMED)
    expected = (f"{model}:29:15: error: breaking change since shelf.lock.json: field-renamed: "
                f"BookPlacedOnHold.hold_till renamed to till: stored events carry hold_till; "
                f"bump BookPlacedOnHold's schema_version and upcast old events")
    for command in (("validate", model), ("generate", model, "-o", tmp_path / "out")):
        code, _, err = _cli(*command)
        assert code == 1 and err.splitlines() == [expected]
    assert (tmp_path / "shelf.lock.json").read_text() == before


def test_a_bump_keeps_every_version_in_the_lock(tmp_path: Path) -> None:
    model = tmp_path / "shelf.yaml"
    model.write_text(SHELF)
    assert _cli("generate", model, "-o", tmp_path / "out")[0] == 0
    model.write_text(BUMPED)
    assert _cli("validate", model)[0] == 0
    code, out, _ = _cli("generate", model, "-o", tmp_path / "out")
    assert code == 0 and f"updated {tmp_path / 'shelf.lock.json'}" in out
    versions = json.loads((tmp_path / "shelf.lock.json").read_text())["events"][
        "BookPlacedOnHold"]["versions"]
    assert sorted(versions) == ["1", "2"]
    assert "hold_till" in versions["1"]["fields"] and "till" in versions["2"]["fields"]
    assert _cli("check", model)[0] == 0  # the lock now holds v2: nothing changed since


def test_check_against_a_git_revision(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c",
                        "user.email=t@example.com", *args], check=True, capture_output=True)

    model = tmp_path / "shelf.yaml"
    model.write_text(SHELF)
    git("init", "-q")
    git("add", "shelf.yaml")
    git("commit", "-qm", "v1")
    model.write_text(RENAMED)
    code, out, _ = _cli("check", model, "--against", "HEAD")
    assert code == 1 and ": breaking: field-renamed: BookPlacedOnHold.hold_till" in out
    model.write_text(BUMPED)
    code, out, _ = _cli("check", model, "--against", "HEAD")
    assert code == 0 and ": breaking (versioned): field-renamed:" in out
    assert "upcast old events v1 -> v2" in out


def test_a_damaged_lock_is_a_located_error(tmp_path: Path) -> None:
    model = tmp_path / "shelf.yaml"
    model.write_text(SHELF)
    (tmp_path / "shelf.lock.json").write_text('{"aether_lock": 1, "events": {"E": {}}}')
    code, _, err = _cli("validate", model)
    assert code == 1 and "not a valid lock (event E: `versions` is missing or empty)" in err
    damaged = json.loads(render_lock(contract(load_model(model).model)))
    damaged["events"]["BookReturned"]["versions"]["1"]["fields"]["late"] = {"type": 5}
    (tmp_path / "shelf.lock.json").write_text(json.dumps(damaged))
    code, _, err = _cli("generate", model, "-o", tmp_path / "out")
    assert code == 1 and "not a valid lock (event BookReturned: version 1 is damaged" in err
    (tmp_path / "shelf.lock.json").write_text("{nope")
    code, _, err = _cli("check", model)
    assert code == 1 and f"{tmp_path / 'shelf.lock.json'}:1:2: not a valid lock" in err
    assert "Traceback" not in err


TEXT = st.text(max_size=40)


@given(description=TEXT, field_description=TEXT,
       values=st.lists(st.from_regex(r"v_[a-z]{1,8}", fullmatch=True), min_size=1, max_size=4,
                       unique=True))
def test_any_text_survives_the_lock_and_compares_equal(
    description: str, field_description: str, values: list[str]
) -> None:
    data = yaml.safe_load(SHELF)
    context = data["contexts"][0]
    context["enums"][0]["values"] = values
    event = context["aggregates"][0]["events"][0]
    event["description"] = description
    event["fields"]["hold_till"] = {"type": "date", "description": field_description}
    model = Model.model_validate(data)
    lock = merged_lock(None, contract(model))
    text = render_lock(lock)
    assert parse_lock(text, "x") == lock
    assert render_lock(merged_lock(parse_lock(text, "x"), contract(model))) == text
    assert compare(lock, contract(model), lambda where: Location("x", 1, 1)) == []
