from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from codegen.cli import main
from modeling import load_model

ROOT = Path(__file__).resolve().parents[2]
ORDERS = ROOT / "examples" / "orders" / "model.yaml"
ORDERS_PY = ROOT / "tests" / "modeling" / "models" / "orders.py"
BROKEN = sorted((ROOT / "tests" / "modeling" / "broken").iterdir())


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codegen", *args], capture_output=True,
                          text=True, check=False, cwd=ROOT)


def test_validate_clean_model_exits_zero() -> None:
    result = run("validate", str(ORDERS))
    assert result.returncode == 0
    assert result.stdout == (f"{ORDERS}: ok: model 'orders' (2 contexts, 2 aggregates, "
                             f"2 policies)\n")
    assert result.stderr == ""


def test_validate_counts_read_as_english(tmp_path: Path) -> None:
    model = tmp_path / "tiny.yaml"
    model.write_text("model: tiny\ncontexts:\n  - name: Sales\n    aggregates:\n"
                     "      - name: Order\n        commands: [{name: Place, emits: [Placed]}]\n"
                     "        events: [{name: Placed}]\n")
    result = run("validate", str(model))
    assert result.stdout.startswith(
        f"{model}: ok: model 'tiny' (1 context, 1 aggregate, 0 policies)"), result.stdout


@pytest.mark.parametrize("broken", BROKEN, ids=lambda p: p.name)
def test_broken_models_give_located_lines_and_no_traceback(broken: Path) -> None:
    result = run("validate", str(broken))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines
    for line in lines:
        assert line.startswith(f"{broken}:"), line
        location, severity = line.split(": ", 2)[:2]
        assert location.count(":") == 2 and severity in ("error", "warning")
    assert any(": error: " in line for line in lines)


def test_warnings_print_but_pass_unless_strict(tmp_path: Path) -> None:
    model = tmp_path / "m.yaml"
    model.write_text("model: m\ncontexts:\n  - name: C\n    aggregates:\n      - name: Idle\n")
    relaxed = run("validate", str(model))
    assert relaxed.returncode == 0
    assert "warning: aggregate Idle has no commands" in relaxed.stderr
    assert "1 warning(s)" in relaxed.stdout
    strict = run("validate", "--strict", str(model))
    assert strict.returncode == 1
    # The warning, and a line that says the run failed because of --strict.
    assert strict.stderr.splitlines()[-1] == (
        "aether-gen: error: 1 warning(s), which --strict treats as errors: fix them, or "
        "leave out --strict")


def test_missing_file_and_unknown_format_are_one_line(tmp_path: Path) -> None:
    for target in (tmp_path / "absent.yaml", tmp_path / "model.toml"):
        if target.suffix == ".toml":
            target.write_text("x = 1")
        result = run("validate", str(target))
        assert result.returncode == 1
        assert len(result.stderr.splitlines()) == 1


def test_diagram_writes_each_format(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("o.svg", "o.png", "o.dot", "o.mmd"):
        result = runner.invoke(main, ["diagram", str(ORDERS), "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "o.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "o.mmd").read_text().startswith("flowchart LR")
    assert (tmp_path / "o.dot").read_text().startswith("digraph orders")


def test_diagram_unknown_context_is_one_line(tmp_path: Path) -> None:
    result = run("diagram", str(ORDERS), "-o", str(tmp_path / "x.svg"), "--context", "Nope")
    assert result.returncode == 1
    assert result.stderr == ("aether-gen: error: no bounded context 'Nope'; choose one of "
                             "Sales, Shipping\n")


def test_export_python_model_as_yaml_loads_equal(tmp_path: Path) -> None:
    out = tmp_path / "orders.yaml"
    result = run("export", str(ORDERS_PY), "--format", "yaml", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert load_model(out).model == load_model(ORDERS).model


def test_schema_describes_the_yaml_format() -> None:
    result = run("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["required"] == ["model"]
    assert set(schema["properties"]) == {"model", "version", "description", "contexts",
                                         "context_map"}
    policy = schema["$defs"]["Policy"]
    assert policy["additionalProperties"] is False
    assert set(policy["required"]) == {"name", "on", "issues"}
    fields = schema["$defs"]["ValueObject"]["properties"]["fields"]
    assert fields["additionalProperties"]["anyOf"][0] == {"type": "string"}
    assert "from" in schema["$defs"]["ReadModel"]["properties"]


def test_diagram_refuses_a_suffix_it_cannot_write(tmp_path: Path) -> None:
    result = run("diagram", str(ORDERS), "-o", str(tmp_path / "orders.pdf"))
    assert result.returncode == 1
    assert result.stderr == ("aether-gen: error: cannot tell a diagram format from "
                             "'orders.pdf': name the file .svg, .png, .dot or .mmd, or pass "
                             "--format svg|png|dot|mermaid\n")
    assert not (tmp_path / "orders.pdf").exists()
    forced = run("diagram", str(ORDERS), "-o", str(tmp_path / "orders.pdf"), "--format", "svg")
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "orders.pdf").read_text().lstrip().startswith("<?xml")
