"""aether.kit exports exactly what generated code uses: nothing missing, nothing extra."""

from __future__ import annotations

import ast
from pathlib import Path

import aether.kit
from codegen.generator import OutputFile, generate
from modeling import load_model
from modeling.contract import contract, merged_lock
from tests.evolution.shelf import SHELF, changed

ROOT = Path(__file__).resolve().parents[2]
MODELS = [
    ROOT / "examples" / "orders" / "model.yaml",
    ROOT / "examples" / "library" / "model.py",
    Path(__file__).parent / "models" / "rich.yaml",
    Path(__file__).parent / "models" / "hostile.yaml",
]


def upcaster_files(tmp_path: Path) -> list[OutputFile]:
    (tmp_path / "v1.yaml").write_text(SHELF)
    (tmp_path / "v2.yaml").write_text(changed(
        ("          - name: BookReturned\n            fields: {patron: str, late: bool}",
         "          - name: BookReturned\n            schema_version: 2\n"
         "            fields: {patron: str, late: bool, days: int}")))
    model = load_model(tmp_path / "v2.yaml").model
    lock = merged_lock(contract(load_model(tmp_path / "v1.yaml").model), contract(model))
    return generate(model, "shelf", lock=lock)


def kit_names(source: str) -> set[str]:
    return {node.attr for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "kit"}


def test_kit_exports_exactly_what_generated_code_uses(tmp_path: Path) -> None:
    used: set[str] = set()
    for model in MODELS:
        for output in generate(load_model(model).model, model.parent.name):
            used |= kit_names(output.content)
    # A bumped event's upcasters (a mechanical and a manual step) use the rest.
    for output in upcaster_files(tmp_path):
        used |= kit_names(output.content)
    exported = set(aether.kit.__all__)
    assert used - exported == set(), "generated code uses names aether.kit lacks"
    assert exported - used == set(), "aether.kit exports names no generated code uses"
    assert all(hasattr(aether.kit, name) for name in exported)
