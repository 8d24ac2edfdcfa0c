"""Every ```python block in README.md and docs/*.md runs, so the docs cannot rot.

Blocks of one file run in order in one namespace, with top-level ``await`` allowed.
The NATS URL the docs use (nats://127.0.0.1:4222) is pointed at the test server.
A block whose first line is ``# not run`` is skipped (for shell-dependent snippets).
"""

from __future__ import annotations

import ast
import re
import sys
import types
from pathlib import Path
from types import CodeType
from typing import Any

import pytest

from aether.testing import NatsServer

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
DOCS_URL = "nats://127.0.0.1:4222"


def python_blocks(path: Path) -> list[tuple[int, str]]:
    text = path.read_text()
    return [
        (text.count("\n", 0, match.start()) + 2, match.group(1))
        for match in BLOCK.finditer(text)
        if not match.group(1).startswith("# not run")
    ]


def compiled(path: Path, line: int, source: str) -> CodeType:
    tree = ast.parse(source, filename=str(path), mode="exec", feature_version=(3, 11))
    ast.increment_lineno(tree, line - 1)
    code: CodeType = compile(tree, str(path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    return code


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
async def test_code_blocks_run(path: Path, nats_server: NatsServer) -> None:
    # A real module, so pydantic can resolve the annotations of classes the docs define.
    module = types.ModuleType(f"docs_{path.stem}")
    sys.modules[module.__name__] = module
    namespace: dict[str, Any] = module.__dict__
    try:
        for line, source in python_blocks(path):
            code = compiled(path, line, source.replace(DOCS_URL, nats_server.url))
            result = eval(code, namespace)
            if result is not None and hasattr(result, "__await__"):
                await result
    finally:
        del sys.modules[module.__name__]
