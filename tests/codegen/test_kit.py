"""aether.kit exports exactly what generated code uses: nothing missing, nothing extra."""

from __future__ import annotations

import ast
from pathlib import Path

import aether.kit
from codegen.generator import generate
from modeling import load_model

ROOT = Path(__file__).resolve().parents[2]
MODELS = [
    ROOT / "examples" / "orders" / "model.yaml",
    ROOT / "examples" / "library" / "model.py",
    Path(__file__).parent / "models" / "rich.yaml",
    Path(__file__).parent / "models" / "hostile.yaml",
]


def kit_names(source: str) -> set[str]:
    return {node.attr for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "kit"}


def test_kit_exports_exactly_what_generated_code_uses() -> None:
    used: set[str] = set()
    for model in MODELS:
        for output in generate(load_model(model).model, model.parent.name):
            used |= kit_names(output.content)
    exported = set(aether.kit.__all__)
    assert used - exported == set(), "generated code uses names aether.kit lacks"
    assert exported - used == set(), "aether.kit exports names no generated code uses"
    assert all(hasattr(aether.kit, name) for name in exported)
