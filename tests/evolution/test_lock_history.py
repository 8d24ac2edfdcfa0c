"""What a version's events were written with survives compatible changes to the version:
a field that had a default keeps needing one (events written before it was added lack it),
an upcaster reads such events, and an event removed and added back is checked against the
events it stored."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

from aether import Event
from codegen.cli import main
from tests.cli import ROOT, tool
from tests.evolution.shelf import SHELF, edited

MODEL = """\
model: req
contexts:
  - name: Lending
    actors: [Patron]
    aggregates:
      - name: Book
        commands:
          - {name: PlaceHold, actor: Patron, fields: {patron: str}, emits: [Held]}
          - {name: GiveBack, actor: Patron, fields: {patron: str}, emits: [Returned]}
        events:
          - name: Held
            fields: {patron: str}
          - name: Returned
            fields: {patron: str}
"""
HELD = "            fields: {patron: str}\n          - name: Returned"
# A default a literal must quote and escape: the stub and its test carry it as Python.
NOTE = 'note: {type: str, default: "it\'s \\"x\\"\\n"}'
NOTE_VALUE = 'it\'s "x"\n'
BUMP = ("          - name: Held\n", "          - name: Held\n            schema_version: 2\n")


def with_note(field: str) -> str:
    return edited(MODEL, (HELD, f"            fields: {{patron: str, {field}}}\n"
                                f"          - name: Returned"))


def cli(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def generate(model: Path, text: str, out: Path, package: str) -> str:
    model.write_text(text)
    code, stdout, stderr = cli("generate", model, "-o", out, "--package", package)
    assert code == 0, stderr
    return stdout


def decode_v1(package: ModuleType, data: dict[str, Any]) -> Any:
    """A Held event stored at schema_version 1, read by ``package``."""
    return package.registry.decode(Event.model_validate({
        "id": "e-1", "event_type": "Held", "actor_id": "book-1", "version": 1,
        "timestamp": "2026-01-31T12:00:00+00:00", "data": data,
        "metadata": {"schema_version": "1"}}))


def calls(stub: str) -> list[tuple[str, list[Any]]]:
    """The calls in an upcaster stub's function, with their literal arguments."""
    return [(ast.unparse(node.func), [ast.literal_eval(a) for a in node.args])
            for node in ast.walk(ast.parse(stub)) if isinstance(node, ast.Call)]


def run_generated_tests(package: str) -> list[str]:
    tests = importlib.import_module(f"{package}.tests.test_upcasters")
    names = sorted(name for name in vars(tests) if name.startswith("test_"))
    for name in names:
        getattr(tests, name)()
    return names


def test_a_field_losing_its_default_is_breaking_and_upcast_with_the_old_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, out = tmp_path / "m.yaml", tmp_path / "out"
    generate(model, MODEL, out, "req_default_removed")
    model.write_text(with_note(NOTE))
    code, stdout, _ = cli("check", model)
    assert code == 0 and "compatible: optional-field-added: Held.note" in stdout
    generate(model, with_note(NOTE), out, "req_default_removed")

    model.write_text(with_note("note: str"))  # v1 events written before note lack it
    code, stdout, _ = cli("check", model)
    assert code == 1
    assert (f"{model}:12:35: breaking: default-removed: Held.note lost its default: stored "
            f"events may lack it") in stdout
    for command in (("validate", model), ("generate", model, "-o", out)):
        code, _, stderr = cli(*command)
        assert code == 1 and "breaking change since m.lock.json: default-removed:" in stderr
        assert len(stderr.splitlines()) == 1

    generate(model, edited(with_note("note: str"), BUMP), out, "req_default_removed")
    stub = out / "req_default_removed" / "upcasters" / "held_v1_to_v2.py"
    assert calls(stub.read_text()) == [("data.setdefault", ["note", NOTE_VALUE])]
    monkeypatch.syspath_prepend(str(out))
    package = importlib.import_module("req_default_removed")
    assert decode_v1(package, {"patron": "p"}) == package.Held(patron="p", note=NOTE_VALUE)
    assert run_generated_tests("req_default_removed") == [
        "test_held_v1_upcasts", "test_held_v1_without_defaults_upcasts"]


def test_a_changed_default_is_a_reported_compatible_change(tmp_path: Path) -> None:
    model = tmp_path / "m.yaml"
    generate(model, with_note("note: {type: str, default: x}"), tmp_path / "out", "req")
    model.write_text(with_note("note: {type: str, default: y}"))
    code, stdout, _ = cli("check", model)
    assert code == 0
    assert stdout.splitlines()[0] == (
        f"{model}:12:35: compatible: default-changed: Held.note's default changed from \"x\" "
        f"to \"y\": stored events that lack it now read the new default")


def test_a_renamed_field_that_had_a_default_upcasts_events_written_before_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, out = tmp_path / "m.yaml", tmp_path / "out"
    generate(model, MODEL, out, "req_renamed_default")
    generate(model, with_note(NOTE), out, "req_renamed_default")
    renamed = edited(with_note(NOTE.replace("note", "memo")), BUMP)
    generate(model, renamed, out, "req_renamed_default")

    stub = (out / "req_renamed_default" / "upcasters" / "held_v1_to_v2.py").read_text()
    assert '    data["memo"] = data.pop(' in stub
    assert calls(stub) == [("data.pop", ["note", NOTE_VALUE])]
    monkeypatch.syspath_prepend(str(out))
    package = importlib.import_module("req_renamed_default")
    assert decode_v1(package, {"patron": "p"}) == package.Held(patron="p", memo=NOTE_VALUE)
    assert decode_v1(package, {"patron": "p", "note": "n"}) == package.Held(patron="p",
                                                                             memo="n")
    assert run_generated_tests("req_renamed_default") == [
        "test_held_v1_upcasts", "test_held_v1_without_defaults_upcasts"]
    for command in (("ruff", "check", "--config", ROOT / "pyproject.toml", "."),
                    ("mypy", "--strict", "--config-file", ROOT / "pyproject.toml", "--cache-dir",
                     ROOT / ".mypy_cache", "req_renamed_default")):
        done = tool(command[0], *command[1:], cwd=out)
        assert done.returncode == 0, done.stdout


REMOVED = edited(MODEL, ("model: req\n", "model: req\nversion: 2\n"), (
    "          - {name: GiveBack, actor: Patron, fields: {patron: str}, emits: [Returned]}\n",
    ""), ("          - name: Returned\n            fields: {patron: str}\n", ""))
BACK = edited(MODEL, ("model: req\n", "model: req\nversion: 2\n"))


def test_an_event_removed_and_added_back_is_checked_against_what_it_stored(
        tmp_path: Path) -> None:
    model, out = tmp_path / "m.yaml", tmp_path / "out"
    generate(model, MODEL, out, "req")
    generate(model, REMOVED, out, "req")
    lock = json.loads((tmp_path / "m.lock.json").read_text())
    assert "Returned" not in lock["events"]
    assert lock["removed_events"]["Returned"]["versions"]["1"]["fields"] == {
        "patron": {"type": "str", "required": True}}
    assert cli("check", model)[0] == 0  # the removal is in the lock: nothing changed since

    retyped = BACK.replace("          - name: Returned\n            fields: {patron: str}",
                           "          - name: Returned\n            fields: {patron: int}")
    model.write_text(retyped)
    code, stdout, _ = cli("check", model)
    assert code == 1
    assert stdout.splitlines() == [
        f"{model}:14:13: compatible: event-added: event Returned added back: it was removed, "
        f"and its stored events (up to schema_version 1) must decode as it is now",
        f"{model}:15:22: breaking: type-changed: Returned.patron changed type from str to int; "
        f"bump Returned's schema_version and upcast old events"]
    assert cli("validate", model)[0] == 1

    model.write_text(BACK)  # the same shape: its stored events decode again
    assert cli("check", model)[0] == 0
    bumped = retyped.replace("          - name: Returned\n",
                             "          - name: Returned\n            schema_version: 2\n")
    created = generate(model, bumped, out, "req")
    assert f"created {out / 'req' / 'upcasters' / 'returned_v1_to_v2.py'}" in created
    lock = json.loads((tmp_path / "m.lock.json").read_text())
    assert "removed_events" not in lock
    assert sorted(lock["events"]["Returned"]["versions"]) == ["1", "2"]


def test_check_against_a_git_revision_reads_the_lock_there_too(tmp_path: Path) -> None:
    """A pull request's check (--against the base revision) compares with what the lock
    there recorded as well: an event removed before, added back with another type, is
    breaking against the revision as against the lock beside the model."""
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c",
                        "user.email=t@example.com", *args], check=True, capture_output=True)

    model, out = tmp_path / "m.yaml", tmp_path / "out"
    generate(model, MODEL, out, "req")
    generate(model, REMOVED, out, "req")
    git("init", "-q")
    git("add", "m.yaml", "m.lock.json")
    git("commit", "-qm", "Returned removed")
    model.write_text(BACK.replace("          - name: Returned\n            fields: {patron: str}",
                                  "          - name: Returned\n            fields: {patron: int}"))
    code, stdout, _ = cli("check", model, "--against", "HEAD")
    assert code == 1
    assert "breaking: type-changed: Returned.patron changed type from str to int" in stdout
    code, _, stderr = cli("check", model, "--against", "")
    assert code == 1 and "--against is empty" in stderr


def test_check_against_another_models_contract_is_refused(tmp_path: Path) -> None:
    model, other = tmp_path / "m.yaml", tmp_path / "other.yaml"
    model.write_text(MODEL)
    other.write_text(SHELF)
    code, _, stderr = cli("check", model, "--against", str(other))
    assert code == 1
    assert f"{other} is the contract of model 'shelf', which has none of the events of 'req'" \
        in stderr


def test_check_against_a_revision_reads_a_python_models_helpers_as_they_were(
        tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c",
                        "user.email=t@example.com", *args], check=True, capture_output=True)

    (tmp_path / "fieldsets.py").write_text("PLACED = {'patron': 'str'}\n")
    model = tmp_path / "m.py"
    model.write_text(
        "from modeling import ModelBuilder\nfrom fieldsets import PLACED\n"
        "model = ModelBuilder('req')\nlending = model.context('Lending')\n"
        "lending.actor('Patron')\nbook = lending.aggregate('Book')\n"
        "book.command('Hold', actor='Patron', fields=PLACED, emits=['Held'])\n"
        "book.event('Held', fields=PLACED)\n")
    git("init", "-q")
    git("add", "m.py", "fieldsets.py")
    git("commit", "-qm", "v1")
    (tmp_path / "fieldsets.py").write_text("PLACED = {'patron': 'str', 'till': 'date'}\n")
    code, stdout, _ = cli("check", model, "--against", "HEAD")
    assert code == 1, stdout
    assert "breaking: required-field-added: Held.till added without a default" in stdout
