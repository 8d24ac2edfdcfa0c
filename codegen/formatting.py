"""Generated Python is laid out by ``ruff format``: the one formatter a project running
ruff already agrees with, so regenerated code never shows as drift, and long lines are
wrapped the way a person would (what ruff cannot wrap, pysource keeps short).

Settings are fixed here (``--isolated``: a project's own ruff config does not change
what aether-gen writes), so the same model gives the same bytes.
"""

from __future__ import annotations

import importlib
import subprocess
import tempfile
from pathlib import Path

LINE_LENGTH = 100


class FormatError(Exception):
    """ruff is missing or refused the generated code (a bug in aether-gen or a template)."""


def ruff_binary() -> str:
    try:
        ruff = importlib.import_module("ruff.__main__")
    except ImportError as exc:  # ruff is a dependency of aether; say so if it went missing
        raise FormatError("aether-gen formats its output with ruff, which is not "
                          "installed: pip install ruff") from exc
    return str(ruff.find_ruff_bin())


def format_sources(sources: dict[str, str]) -> dict[str, str]:
    """``ruff format`` applied to every ``path -> Python source`` at once."""
    if not sources:
        return {}
    with tempfile.TemporaryDirectory(prefix="aether-gen-format-") as tmp:
        root = Path(tmp)
        for path, text in sources.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        result = subprocess.run(
            [ruff_binary(), "format", "--isolated", "--no-cache",
             "--line-length", str(LINE_LENGTH), "--target-version", "py311", "."],
            cwd=root, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise FormatError(f"ruff format failed on generated code: "
                              f"{(result.stderr or result.stdout).strip()[:2000]}")
        return {path: (root / path).read_text(encoding="utf-8") for path in sources}
