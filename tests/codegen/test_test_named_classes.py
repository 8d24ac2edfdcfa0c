"""Classes named Test* (an event TestStarted, an enum TestKind...) are domain names like any
other; pytest, which collects classes named Test* from every test module that imports them,
must not try to collect them: with warnings as errors (a common pytest setting) its
"cannot collect test class" warnings fail the generated tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from codegen.generator import generate
from codegen.writer import write
from modeling import load_model

MODEL = Path(__file__).parent / "models" / "test_named.yaml"
BIN = Path(sys.executable).parent


def test_generated_tests_run_warning_free_when_every_class_is_named_test(
        tmp_path: Path) -> None:
    write(generate(load_model(MODEL).model, "lab"), tmp_path)
    result = subprocess.run(
        [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "-W", "error", "lab"],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
    assert "5 passed" in result.stdout and "warning" not in result.stdout
    check = subprocess.run(
        [sys.executable, "-c",
         "from lab.types import TestKind, TestThing\n"
         "from lab.events import TestStarted\n"
         "assert [m.name for m in TestKind] == ['UNIT', 'SYSTEM'], list(TestKind)\n"
         "assert list(TestThing.model_fields) == ['label']\n"
         "assert list(TestStarted.model_fields) == ['run_id', 'kind', 'thing']\n"],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
