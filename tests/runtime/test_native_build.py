"""The package's C builders (aether/_records.c) are built and in use, and Aether works the
same without them (AETHER_PURE_PYTHON=1 builds no extension: the Python builders do it all).
tests/runtime/test_records_native.py holds each C function to its Python twin."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aether import records
from aether.event import _decode_native, _fill_native

ROOT = Path(__file__).resolve().parents[2]

# Builds Events and decodes them in a fresh interpreter and prints what it got.
_PROBE = """
import json, sys
if sys.argv[1] == "pure":
    sys.modules["aether._records"] = None  # as if it was never built: import fails
from datetime import UTC, datetime
from aether import Event
from aether.event import decode_record, encode_record
from aether.records import NATIVE
stamp = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
built = Event(id="e-1", event_type="Placed", actor_id="order-1", version=1,
              data={"n": 1, "lines": [{"sku": "a"}], "note": "caf\\u00e9"}, timestamp=stamp,
              metadata={"command_id": "c-1"})
raw = encode_record(built)
read = decode_record(Event, raw, stored=False)
stored = decode_record(Event, raw, stored=True)
print(json.dumps({
    "native": NATIVE is not None,
    "json": raw.decode(),
    "same": read == built and stored == built,
    "types": [type(read.data).__name__, type(read.data["lines"]).__name__,
              type(read.data["lines"][0]).__name__, type(read.metadata).__name__],
    "checked": [built._aether_checked, read._aether_checked, stored._aether_checked],
}))
"""


def _probe(mode: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.skipif(os.environ.get("AETHER_PURE_PYTHON", "") not in ("", "0"),
                    reason="built with AETHER_PURE_PYTHON=1: no extension, by request")
def test_the_installed_package_uses_its_c_builders() -> None:
    # scripts/setup.sh builds it; a silent fallback would hide a broken build.
    assert records.NATIVE is not None
    assert _fill_native is records.NATIVE.fill_event
    assert _decode_native is records.NATIVE.decode_event
    assert Path(records.NATIVE.__file__).parent == ROOT / "aether"


def test_without_the_extension_aether_builds_and_reads_the_same_events() -> None:
    pure, native = _probe("pure"), _probe("native")
    assert pure["native"] is False
    assert pure == {**native, "native": False}
    assert pure["same"] is True
    assert pure["types"] == ["FrozenDict", "FrozenList", "FrozenDict", "FrozenDict"]
    assert pure["checked"] == [True, True, False]


def test_hatch_build_compiles_an_extension_that_imports(tmp_path: Path) -> None:
    # What the build hook and scripts/setup.sh run, for the running interpreter.
    sys.path.insert(0, str(ROOT))
    try:
        import hatch_build
    finally:
        sys.path.remove(str(ROOT))
    target = tmp_path / Path(hatch_build.extension_name()).name
    hatch_build.compile_extension(target)
    spec = importlib.util.spec_from_file_location("aether._records", target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)  # a second copy, not the one in use
    spec.loader.exec_module(module)
    with pytest.raises(TypeError, match="after configure"):  # refuses to run unconfigured
        module.fill_event(*[None] * 8)
