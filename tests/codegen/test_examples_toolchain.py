"""The committed example packages as a project running ruff and mypy would see them:
generated files are exactly what ``ruff format`` writes, the packages pass
``mypy --strict``, and mypy refuses a state change of the wrong field or type."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from codegen.generator import GENERATED_MARK

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROJECTS = {"orders": ROOT / "examples" / "orders" / "project",
            "library": ROOT / "examples" / "library" / "project"}

MISUSE = """\
from orders.bases import OrderState

state = OrderState()
state.evolve(total=[1])
state.evolve(hodls=[1])
"""


def test_generated_example_files_are_exactly_what_ruff_format_writes() -> None:
    generated = [str(path) for project in PROJECTS.values() for path in project.rglob("*.py")
                 if path.read_text().startswith(GENERATED_MARK)]
    assert len(generated) >= 20
    result = subprocess.run([str(BIN / "ruff"), "format", "--check", "--diff",
                             "--config", str(ROOT / "pyproject.toml"), *generated],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_packages_pass_mypy_and_typed_evolve_refuses_wrong_fields(
    tmp_path: Path,
) -> None:
    (tmp_path / "misuse.py").write_text(MISUSE)
    env = {**os.environ, "MYPYPATH": os.pathsep.join(map(str, PROJECTS.values()))}
    result = subprocess.run(
        [str(BIN / "mypy"), "--strict", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"),
         *(str(project / name) for name, project in PROJECTS.items()), "misuse.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert all(line.startswith("misuse.py:") for line in errors), result.stdout
    assert len(errors) == 2, result.stdout
    assert 'Argument "total" to "evolve" of "OrderState" has incompatible type' in errors[0]
    assert 'Unexpected keyword argument "hodls" for "evolve" of "OrderState"' in errors[1]
