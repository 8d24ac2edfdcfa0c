"""Running aether-gen and the venv's tools as a user does: a separate process, output kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def aether_gen(*args: str | Path, cwd: Path = ROOT,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``aether-gen ARGS`` (as ``python -m codegen``), run in ``cwd``; never raises on failure."""
    return subprocess.run([sys.executable, "-m", "codegen", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=timeout)


def tool(name: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """One of the venv's commands (ruff, mypy, pytest...) run in ``cwd``."""
    return subprocess.run([str(BIN / name), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, check=False)
