"""Every code block in README.md and docs/*.md runs, so the docs cannot rot.

- ```python blocks of one file run in order in one namespace (top-level ``await``
  allowed); the NATS URL the docs use (nats://127.0.0.1:4222) points at the test server.
- ```yaml blocks that start with ``model:`` are loaded and validated as models.
- ```sh blocks: each ``aether-gen ...`` line runs from the repository root and must
  succeed (``make`` lines are what CI itself runs; ``python -m bench`` lines are
  benchmarks, run by hand, never as tests).
A block whose first line is ``# not run`` would be shown only; the docs have none.
"""

from __future__ import annotations

import ast
import codeop
import re
import shlex
import subprocess
import sys
import types
from pathlib import Path
from types import CodeType
from typing import Any

import pytest

from aether.testing import NatsServer
from modeling import load_model

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCS_URL = "nats://127.0.0.1:4222"


def blocks(path: Path, language: str) -> list[tuple[int, str]]:
    text = path.read_text()
    pattern = re.compile(rf"^```{language}\n(.*?)^```", re.MULTILINE | re.DOTALL)
    return [
        (text.count("\n", 0, match.start()) + 2, match.group(1))
        for match in pattern.finditer(text)
        if not match.group(1).startswith("# not run")
    ]


def compiled(path: Path, line: int, source: str) -> CodeType:
    tree = ast.parse(source, filename=str(path), mode="exec", feature_version=(3, 11))
    ast.increment_lineno(tree, line - 1)
    code: CodeType = compile(tree, str(path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    return code


def ids(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", DOCS, ids=ids)
async def test_python_blocks_run(path: Path, nats_server: NatsServer) -> None:
    # A real module, so pydantic can resolve the annotations of classes the docs define.
    module = types.ModuleType(f"docs_{path.stem.replace('-', '_')}")
    sys.modules[module.__name__] = module
    namespace: dict[str, Any] = module.__dict__
    try:
        for line, source in blocks(path, "python"):
            code = compiled(path, line, source.replace(DOCS_URL, nats_server.url))
            result = eval(code, namespace)
            if result is not None and hasattr(result, "__await__"):
                await result
    finally:
        del sys.modules[module.__name__]


def paste_errors(source: str) -> list[str]:
    """What ``python -m asyncio``'s prompt says when ``source`` is pasted into it, line by
    line: it compiles each statement as soon as it is complete, so a blank line ends a
    class or function body, and a statement after an indented block needs a blank line
    first (codeop is what the prompt uses)."""
    compiler = codeop.CommandCompiler()
    compiler.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    pending: list[str] = []
    errors = []
    for number, line in enumerate([*source.split("\n"), ""], start=1):
        pending.append(line)
        try:
            complete = compiler("\n".join(pending), "<stdin>", "single")
        except SyntaxError as error:
            errors.append(f"line {number} of the block: {error.msg}: {line!r}")
            pending = []
            continue
        if complete is not None:
            pending = []
    return errors


PASTED = [path for path in DOCS if "`python -m asyncio`" in path.read_text()]


@pytest.mark.parametrize("path", PASTED, ids=ids)
def test_python_blocks_paste_into_the_asyncio_prompt(path: Path) -> None:
    # The pages that say so: their blocks pasted into `python -m asyncio` must run there.
    for line, source in blocks(path, "python"):
        assert not paste_errors(source), f"{path}:{line}: {paste_errors(source)}"


@pytest.mark.parametrize("path", DOCS, ids=ids)
def test_yaml_models_are_valid(path: Path, tmp_path: Path) -> None:
    for line, source in blocks(path, "yaml"):
        if not source.startswith("model:"):
            continue
        model = tmp_path / f"line{line}.yaml"
        model.write_text(source)
        load_model(model)  # raises ModelError, naming the line of the block's file


@pytest.mark.parametrize("path", DOCS, ids=ids)
def test_shell_commands_succeed(path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    for line, source in blocks(path, "sh"):
        for command in source.splitlines():
            words = shlex.split(command, comments=True)
            if not words or words[0] != "aether-gen":
                continue
            words[0] = str(bin_dir / words[0])
            result = subprocess.run(words, cwd=ROOT, capture_output=True, text=True,
                                    check=False, timeout=300)
            assert result.returncode == 0, f"{path}:{line}: {command}\n{result.stderr}"
