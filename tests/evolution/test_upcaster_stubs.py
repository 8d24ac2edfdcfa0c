"""Bumping an event's schema_version generates one upcaster stub per step: created once,
pre-filled where the change is mechanical, failing clearly where a person must write code,
typed and clean like all generated code, and safe whatever a hand-edited lock holds."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aether.upcasting import UpcasterNotWrittenError
from codegen.generator import generate
from codegen.writer import plan, write
from modeling import load_model
from modeling.contract import LockError, contract, merged_lock
from tests.evolution.shelf import SHELF, changed

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CONFIG = ROOT / "pyproject.toml"
PACKAGE = "shelf_upcast_stubs"  # its own import name: the test imports it
HOSTILE = 'late"]; import os  # """\n\x00\u0430'

BUMPED = changed(
    ("          - name: BookPlacedOnHold\n",
     "          - name: BookPlacedOnHold\n            schema_version: 2\n"),
    ("              hold_till: date\n",
     "              till: date\n              note: {type: str, default: 'n/a'}\n"
     "              priority: int\n"),
    ("          - name: BookReturned\n            fields: {patron: str, late: bool}",
     "          - name: BookReturned\n            schema_version: 2\n"
     "            fields: {patron: str}"),
)


def files_for(tmp_path: Path, lock_edit: Any = None) -> list[Any]:
    """The package generated from BUMPED with the lock SHELF's generate wrote."""
    for name, text in (("v1.yaml", SHELF), ("v2.yaml", BUMPED)):
        (tmp_path / name).write_text(text)
    old = contract(load_model(tmp_path / "v1.yaml").model)
    if lock_edit is not None:
        lock_edit(old)
    lock = merged_lock(old, contract(load_model(tmp_path / "v2.yaml").model))
    return generate(load_model(tmp_path / "v2.yaml").model, PACKAGE, lock=lock)


def tool(name: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / name), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, check=False)


def hostile_old_field(lock: dict[str, Any]) -> None:
    """A hand-edited lock: version 1 of BookReturned had a field named like code."""
    fields = lock["events"]["BookReturned"]["versions"]["1"]["fields"]
    fields[HOSTILE] = fields.pop("late")


def test_each_step_gets_a_stub_filled_where_mechanical_and_failing_where_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write(files_for(tmp_path, hostile_old_field), out)
    upcasters = out / PACKAGE / "upcasters"
    hold = (upcasters / "book_placed_on_hold_v1_to_v2.py").read_text()
    assert 'data["till"] = data.pop("hold_till")' in hold
    assert 'data.setdefault("note", "n/a")' in hold
    assert ('kit.not_written(__file__, "BookPlacedOnHold", 1, 2, '
            '["set priority (int): it has no default"])') in hold
    returned = (upcasters / "book_returned_v1_to_v2.py").read_text()
    assert "kit.not_written" not in returned and "data.pop(" in returned
    tree = ast.parse(returned)  # the hostile name stays inside literals and the docstring
    assert [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)
            ] == ["from aether import kit"]
    assert HOSTILE in [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    registered = (upcasters / "__init__.py").read_text()
    assert 'kit.UpcastStep("BookPlacedOnHold", 1, 2, book_placed_on_hold_v1_to_v2.upcast)' \
        in registered
    assert "upcasters=upcast_steps" in (out / PACKAGE / "events.py").read_text()

    # Typed and clean like the rest of the package, hostile lock and all.
    assert tool("ruff", "format", "--check", "--config", CONFIG, ".", cwd=out).returncode == 0
    ruff = tool("ruff", "check", "--config", CONFIG, ".", cwd=out)
    assert ruff.returncode == 0, ruff.stdout
    # The project's cache: warm after `make typecheck`, so only the package is checked anew.
    mypy = tool("mypy", "--strict", "--config-file", CONFIG, "--cache-dir",
                ROOT / ".mypy_cache", PACKAGE, cwd=out)
    assert mypy.returncode == 0, mypy.stdout

    # The generated tests run each chain on an example old payload: the mechanical step
    # passes, the unwritten one fails saying where and what to write.
    monkeypatch.syspath_prepend(str(out))
    tests = importlib.import_module(f"{PACKAGE}.tests.test_upcasters")
    tests.test_book_returned_v1_upcasts()
    with pytest.raises(UpcasterNotWrittenError) as caught:
        tests.test_book_placed_on_hold_v1_upcasts()
    assert str(caught.value).endswith(
        "book_placed_on_hold_v1_to_v2.py: the upcaster BookPlacedOnHold v1 -> v2 is not "
        "written yet: set priority (int): it has no default; write it there and delete the "
        "not_written call")

    # Written by hand, the stub is kept, and nothing is stale for generate --check.
    stub = upcasters / "book_placed_on_hold_v1_to_v2.py"
    stub.write_text(hold.replace("    kit.not_written(", '    data["priority"] = 0\n    # ('))
    again = plan(files_for(tmp_path, hostile_old_field), out)
    assert not (again.created or again.updated or again.removed)
    assert f"{PACKAGE}/upcasters/book_placed_on_hold_v1_to_v2.py" in again.kept
    assert write(files_for(tmp_path, hostile_old_field), out).kept == again.kept
    assert 'data["priority"] = 0' in stub.read_text()


def test_without_older_versions_nothing_is_generated(tmp_path: Path) -> None:
    (tmp_path / "v1.yaml").write_text(SHELF)
    model = load_model(tmp_path / "v1.yaml").model
    lock = merged_lock(None, contract(model))
    paths = [f.path for f in generate(model, "shelf", lock=lock)]
    assert paths == [f.path for f in generate(model, "shelf")]
    assert not any("upcast" in path for path in paths)


def test_a_damaged_old_schema_in_the_lock_is_a_lock_error(tmp_path: Path) -> None:
    def damage(lock: dict[str, Any]) -> None:
        lock["events"]["BookReturned"]["versions"]["1"]["fields"]["late"]["type"] = "list[)"

    with pytest.raises(LockError, match="version 1 of BookReturned cannot be read"):
        files_for(tmp_path, damage)


def test_the_example_old_payload_fills_value_objects_and_enums_from_the_lock(
        tmp_path: Path) -> None:
    (test,) = [f for f in files_for(tmp_path) if f.path.endswith("test_upcasters.py")]
    assert '"kind": "normal"' in test.content and '"period": {"days": 1}' in test.content
