"""Builds aether/_records.c, the C common case of aether/records.py, with the package.

hatchling runs this as the wheel's build hook (pyproject.toml): an editable install
(`pip install -e .`, what scripts/setup.sh does) compiles the extension next to its source,
a wheel carries it. `python hatch_build.py` compiles it in place again (scripts/setup.sh does
when the C file changed). Without a C compiler the build stops and says what to install;
AETHER_PURE_PYTHON=1 builds without the extension instead, and aether/records.py then does
all the work in Python (the same results, slower).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT / "aether" / "_records.c"
MODULE = "aether/_records"


def extension_name() -> str:
    return MODULE + str(sysconfig.get_config_var("EXT_SUFFIX") or ".so")


def compile_extension(target: Path) -> None:
    """Compile SOURCE into the shared library ``target`` for the running interpreter."""
    compiler = shlex.split(str(sysconfig.get_config_var("CC") or "cc"))
    command = [
        *compiler, "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Wno-unused-parameter",
        "-Wno-missing-field-initializers", "-I", sysconfig.get_paths()["include"],
        str(SOURCE), "-o", str(target),
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise SystemExit(
            f"aether: no C compiler ({compiler[0]!r}) to build {SOURCE.name}: install one "
            f"(Debian: apt-get install gcc) or set AETHER_PURE_PYTHON=1 to build without it"
        ) from None
    if result.returncode != 0:
        raise SystemExit(
            f"aether: compiling {SOURCE.name} failed ({shlex.join(command)}):\n"
            f"{result.stderr.strip()}\nInstall Python's headers (Debian: apt-get install "
            f"python3-dev) or set AETHER_PURE_PYTHON=1 to build without the extension"
        )


def _pure_python() -> bool:
    return os.environ.get("AETHER_PURE_PYTHON", "") not in ("", "0")


if __name__ == "__main__":
    if not _pure_python():
        compile_extension(ROOT / extension_name())
    sys.exit(0)

from hatchling.builders.hooks.plugin.interface import BuildHookInterface  # noqa: E402


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or _pure_python():
            return
        if version == "editable":  # the source tree is what gets imported
            compile_extension(ROOT / extension_name())
            return
        built = Path(tempfile.mkdtemp(prefix="aether-build-")) / Path(extension_name()).name
        compile_extension(built)
        build_data["force_include"][str(built)] = extension_name()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
