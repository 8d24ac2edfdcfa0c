"""The catalog's field tables of states and read-model rows say what the generated classes
have: the type (``T | None`` where a field with no natural zero starts absent) and the
value each field starts at, read here from the generated package itself."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from codegen.catalog import build_catalog
from codegen.catalog_site import build_site
from modeling import load_model
from modeling.names import snake_case
from tests.catalog.pages import MODELS
from tests.cli import aether_gen

_SECTION = re.compile(r'<section class="fields"[^>]*>(.*?)</section>', re.S)
_ROW = re.compile(r"<tr><td><code>(.*?)</code></td><td>(.*?)</td>\s*<td>(.*?)</td>", re.S)
_TAG = re.compile(r"<[^>]+>")

# Run in the generated package's directory: every State and Row class of bases.py, each
# field as (its annotation, its start value as JSON data, or null when required).
_DUMP = """
import json, sys, typing
import pydantic
bases = __import__(sys.argv[1] + ".bases", fromlist=["bases"])
found = {}
for name, cls in vars(bases).items():
    if isinstance(cls, type) and issubclass(cls, pydantic.BaseModel) and (
            name.endswith("State") or name.endswith("Row")):
        fields = {}
        for field, info in cls.model_fields.items():
            if info.is_required():
                start = None
            else:
                value = info.get_default(call_default_factory=True)
                start = [pydantic.TypeAdapter(info.annotation).dump_python(value, mode="json")]
            optional = type(None) in typing.get_args(info.annotation)
            fields[field] = [optional, start]
        found[name] = fields
print(json.dumps(found))
"""


def _table(page: bytes) -> dict[str, tuple[str, str]]:
    """Field name -> (type text, default text) of a page's fields table."""
    section = _SECTION.search(page.decode())
    assert section is not None
    return {html.unescape(_TAG.sub("", name)): (
        html.unescape(_TAG.sub("", kind)).strip(), html.unescape(_TAG.sub("", start)).strip())
        for name, kind, start in _ROW.findall(section.group(1))}


@pytest.mark.parametrize("name", ["orders", "rich", "hostile"])
def test_state_and_row_tables_show_the_generated_types_and_start_values(
        name: str, tmp_path: Path) -> None:
    model = load_model(MODELS[name]).model
    package = snake_case(model.name)
    result = aether_gen("generate", MODELS[name], "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    dumped = subprocess.run([sys.executable, "-c", _DUMP, package], cwd=tmp_path,
                            capture_output=True, text=True, check=True)
    classes = json.loads(dumped.stdout)
    files = build_catalog(model).files
    site = build_site(model)
    checked = 0
    for context in model.contexts:
        pages = [(a.name, f"{a.name}State") for a in context.aggregates]
        pages += [(r.name, f"{r.name}Row") for r in context.read_models]
        for element, class_name in pages:
            kind = "aggregate" if class_name.endswith("State") else "read_model"
            link = site.link(kind, element)
            assert link is not None
            generated = classes[class_name]
            if not generated:
                continue  # nothing kept: the page has no fields table
            table = _table(files[link.href])
            assert set(table) == set(generated), (element, table, generated)
            for field, (optional, start) in generated.items():
                kind_text, default = table[field]
                assert kind_text.endswith("| None") == optional, (element, field, kind_text)
                if start is None:
                    assert default == "required", (element, field)
                else:
                    assert json.loads(default) == start[0], (element, field, default)
                checked += 1
    assert checked
