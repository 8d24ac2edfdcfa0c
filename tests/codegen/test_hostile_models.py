"""Rule 1 of issue 9, case by case: what validate accepts, generate compiles (ruff, mypy
--strict, the generated tests); what generate cannot compile, validate refuses at
file:line:col, saying what to write instead."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from codegen.generator import generate
from codegen.writer import write
from modeling import ModelError, load_model
from tests.cli import aether_gen, tool

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = Path(__file__).parent / "models" / "hostile.yaml"
BIN = Path(sys.executable).parent
CONFIG = ROOT / "pyproject.toml"


def base_model(**aggregate: Any) -> dict[str, Any]:
    agg: dict[str, Any] = {"name": "Order",
                           "commands": [{"name": "PlaceOrder", "actor": "Customer",
                                         "fields": {"total": "int"}, "emits": ["OrderPlaced"]}],
                           "events": [{"name": "OrderPlaced", "fields": {"total": "int"}}]}
    agg.update(aggregate)
    return {"model": "shop", "contexts": [{"name": "Sales", "actors": ["Customer"],
                                           "aggregates": [agg]}]}


def refusals(tmp_path: Path, model: dict[str, Any] | str) -> list[str]:
    """Validate ``model``; it must be refused, each line located and no traceback."""
    path = tmp_path / "model.yaml"
    path.write_text(model if isinstance(model, str) else yaml.safe_dump(model, sort_keys=False))
    with pytest.raises(ModelError) as caught:
        load_model(path)
    lines = [str(d) for d in caught.value.errors]
    assert lines
    for line in lines:
        assert re.match(rf"{re.escape(str(path))}:\d+:\d+: error: \S", line), line
        assert len(line) < 600, line[:200]  # hostile names are never echoed whole
    return lines


def with_command(name: str) -> dict[str, Any]:
    model = base_model()
    agg = model["contexts"][0]["aggregates"][0]
    agg["commands"].append({"name": name, "actor": "Customer", "emits": ["OrderPlaced"]})
    return model


def with_field(name: str) -> dict[str, Any]:
    return base_model(state={name: "int"})


def with_value_object(name: str, fields: dict[str, Any]) -> dict[str, Any]:
    model = base_model()
    model["contexts"][0]["value_objects"] = [{"name": name, "fields": fields}]
    return model


def with_enum(*values: str) -> dict[str, Any]:
    model = base_model()
    model["contexts"][0]["enums"] = [{"name": "Status", "values": list(values)}]
    return model


def with_default(type_text: str, default: Any) -> dict[str, Any]:
    return base_model(state={"value": {"type": type_text, "default": default}})


REFUSED: dict[str, tuple[dict[str, Any] | str, str]] = {
    "name with a final newline": (with_command("PlaceOrder\n"), "must be a PascalCase"),
    "100k-character name": (with_command("A" * 100_000), "is too long"),
    "names equal after snake_case": (with_command("PlaceORDER"), "both become `place_order`"),
    "acronym twins": ({**base_model(), "contexts": [
        {"name": "Net", "aggregates": [{"name": "HTTPServer"}, {"name": "HttpServer"}]}]},
        "both become `http_server`"),
    "an aggregate's state class": (with_value_object("OrderState", {"x": "int"}),
                                   "the state class of aggregate Order"),
    "an aggregate's base class": (with_command("OrderBase"), "the base class of aggregate"),
    "field model_config": (with_field("model_config"), "is reserved"),
    "field model_dump": (with_field("model_dump"), "is reserved"),
    "field json": (with_field("json"), "is reserved"),
    "field copy": (with_field("copy"), "is reserved"),
    "field schema": (with_field("schema"), "is reserved"),
    "field validate": (with_field("validate"), "is reserved"),
    "field construct": (with_field("construct"), "is reserved"),
    "field model_fields": (with_field("model_fields"), "is reserved"),
    "field kit": (with_field("kit"), "is reserved"),
    # pydantic's mypy plugin gives a state's __init__ **kwargs (found by a rule-1 fuzzer)
    "field kwargs": (with_field("kwargs"), "is reserved"),
    "a 3,000-character mapping key": (with_default("dict[str, int]", {"k" * 3000: "x"}),
                                      "... (3000 characters): "),
    "command field command_type": (base_model(commands=[
        {"name": "PlaceOrder", "actor": "Customer", "fields": {"command_type": "str"},
         "emits": ["OrderPlaced"]}]), "is reserved"),
    "enum values equal after upper()": (with_enum("a", "A"), "both become member A"),
    "field l (ruff E741)": (with_field("l"), "reads like the digit 1"),
    "a command named TypeError": (with_command("TypeError"), "is a Python builtin"),
    "a command named NotImplementedError": (with_command("NotImplementedError"),
                                            "is a Python builtin"),
    "aggregate O (ruff E742)": (with_command("O"), "reads like a digit"),
    "enum value o (ruff E741)": (with_enum("o"), "reads like a digit"),
    "enum value sharp s": (with_enum("ß", "SS"), "must be an ASCII identifier"),
    "enum value _x_": (with_enum("_x_"), "must be an ASCII identifier"),
    "enum value _ignore_": (with_enum("_ignore_"), "must be an ASCII identifier"),
    "enum value __x": (with_enum("__x"), "must be an ASCII identifier"),
    "infinite float default": (with_default("float", float("inf")), "has no JSON form"),
    "nan float default": (with_default("float", float("nan")), "has no JSON form"),
    "400-digit int default": (with_default("int", 10**400), "integer out of range"),
    "nan decimal default": (with_default("decimal", "NaN"), "is not a valid decimal"),
    "self-requiring value object": (with_value_object("Node", {"next": "Node"}),
                                    "requires itself through field 'next'"),
    "value objects requiring each other 2,000 deep": ({**base_model(), "contexts": [
        {"name": "Chain", "value_objects": [
            {"name": f"Link{i}", "fields": {"next": f"Link{i + 1}"} if i < 1999 else {}}
            for i in range(2000)]}]}, "requires value objects 17 deep; at most 16"),
    "900-deep type": (base_model(state={"x": "list[" * 900 + "int" + "]" * 900}),
                      "deeper than 6 levels"),
}
for shadowed in ("typing", "enum", "decimal", "abc", "asyncio", "json", "aether", "pydantic"):
    REFUSED[f"model named {shadowed}"] = ({**base_model(), "model": shadowed},
                                          "shadows the module")
# Modules of installed distributions the tools import, which no fixed list had: their
# generated package made pytest (or hypothesis, in the tests) fail to start.
for shadowed, user in (("pytest_asyncio", "that pytest loads as a plugin"),
                       ("sortedcontainers", "that hypothesis imports"), ("py", "of pytest"),
                       ("pygments", "that pytest imports")):
    REFUSED[f"model named {shadowed}"] = ({**base_model(), "model": shadowed},
                                          f"shadows the module {shadowed!r} {user}; write "
                                          f"'{shadowed}_model' or another name")
REFUSED["scenario value nan"] = (base_model(scenarios=[
    {"name": "s", "when": {"PlaceOrder": {"total": float("nan")}}, "then": []}]),
    "has no JSON form")
REFUSED["5,000-digit int in YAML"] = ("model: m\nversion: " + "1" * 5000 + "\n", "too large")
REFUSED["3,000-deep flow nesting"] = ("model: m\nx: " + "[" * 3000 + "]" * 3000 + "\n",
                                      "nest deeper than 64 levels")
REFUSED["a duplicate 3,000-character key"] = (
    "model: m\ncontexts: []\n? " + "k" * 3000 + "\n: 1\n? " + "k" * 3000 + "\n: 2\n",
    "duplicate key 'kkk")
REFUSED["recursive alias"] = ("model: m\ncontexts: &a\n  - *a\n", "never end")
REFUSED["alias bomb"] = ("model: m\nx0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" +
                         "".join(f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 9)}]\n"
                                 for i in range(1, 10)), "aliases expand this file")


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_validate_refuses_what_generate_cannot_compile(tmp_path: Path, case: str) -> None:
    model, message = REFUSED[case]
    started = time.monotonic()
    lines = refusals(tmp_path, model)
    assert any(message in line for line in lines), lines
    assert time.monotonic() - started < 60  # a bound on hostile input, not a speed claim


def test_hostile_model_compiles_and_its_generated_tests_pass(tmp_path: Path) -> None:
    result = aether_gen("generate", HOSTILE, "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    package = tmp_path / "hostile"
    assert (package / "aggregates" / "class_.py").exists()  # `Class` -> a module class_
    drift = tool("ruff", "format", "--check", "--diff", "--config", CONFIG, ".", cwd=tmp_path)
    assert drift.returncode == 0, drift.stdout  # exactly what ruff format writes
    stub = package / "aggregates" / "class_.py"
    text = stub.read_text()
    head = text.index("    def handle_yield(")
    end = text.index("    def apply_global(")
    implemented = ("    def handle_yield(self, command: Yield) -> None:\n"
                   "        raise kit.DomainError(\n"
                   "            \"refused: this error text is deliberately longer than \"\n"
                   "            'thirty-five characters \" \\u2019'\n"
                   "        )\n\n")
    text = text[:head] + implemented + text[end:]
    stub.write_text(text.replace("from ..bases", "from aether import kit\n\nfrom ..bases", 1))
    ruff = tool("ruff", "check", "--config", CONFIG, ".", cwd=tmp_path)
    assert ruff.returncode == 0, ruff.stdout
    mypy = tool("mypy", "--strict", "--config-file", CONFIG, "hostile", cwd=tmp_path)
    assert mypy.returncode == 0, mypy.stdout
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "hostile"], cwd=tmp_path, capture_output=True, text=True,
                           check=False)
    assert tests.returncode == 0, tests.stdout
    # 2 scenarios, 3 read-model scenarios, a round trip per event type (6, so a failure
    # names its event), the every-type-has-an-example check and the replay check.
    assert "13 passed" in tests.stdout
    for path in package.rglob("*.py"):
        calls = {ast.unparse(node.func) for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Call)}
        assert "os.system" not in calls, path


def test_model_without_commands_or_events_generates_clean_code(tmp_path: Path) -> None:
    model = tmp_path / "bare.yaml"
    model.write_text("model: bare\ncontexts:\n  - name: Empty\n  - name: Still\n"
                     "    aggregates: [{name: Idle}]\n")
    write(generate(load_model(model).model, "bare"), tmp_path)
    ruff = tool("ruff", "check", "--config", CONFIG, ".", cwd=tmp_path)
    assert ruff.returncode == 0, ruff.stdout
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "bare"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert tests.returncode == 0, tests.stdout


def test_three_thousand_events_compile(tmp_path: Path) -> None:
    """Dispatch is one flat ``match`` and event lists are plain tuples: nothing nests as
    deep as the model is wide (an isinstance union of 3,000 once hit RecursionError)."""
    events = [{"name": f"Happened{i}", "fields": {"n": "int"}} for i in range(3000)]
    model = base_model(events=[*base_model()["contexts"][0]["aggregates"][0]["events"],
                               *events])
    path = tmp_path / "many.yaml"
    path.write_text(yaml.safe_dump(model))
    files = generate(load_model(path).model, "shop")
    for file in files:
        compile(file.content, file.path, "exec")
    write(files, tmp_path / "out")
    ruff = tool("ruff", "check", "--config", CONFIG, ".", cwd=tmp_path / "out")
    assert ruff.returncode == 0, ruff.stdout[:2000]


@pytest.mark.parametrize(("code", "said"), [
    ("import sys\nsys.exit(0)\n", "called sys.exit(0)"),
    ("import sys\nsys.exit(3)\n", "called sys.exit(3)"),
    ("raise BaseException('boom')\n", "raised BaseException: 'boom'"),
    ("raise KeyboardInterrupt\n", "raised KeyboardInterrupt"),
    # The message is the user's text: escaped, so it stays on the located line.
    ("raise ValueError('line one\\nline two \\x1b[31m')\n",
     "raised ValueError: 'line one\\nline two \\x1b[31m'"),
    ("raise ValueError('x' * 400)\n", "raised ValueError: 'xxx"),
    # A __str__ or __repr__ that raises is the user's code failing, not aether-gen.
    ("class Boom(Exception):\n    def __str__(self):\n        raise RuntimeError('inner')\n"
     "raise Boom()\n", "raised Boom (and its message could not be shown"),
    ("import sys\nclass C:\n    def __repr__(self):\n        raise RuntimeError('no')\n"
     "sys.exit(C())\n", "called sys.exit(...)"),
    ("import sys\nsys.exit('bye\\nnow')\n", "called sys.exit('bye\\nnow')"),
])
def test_every_way_a_python_model_ends_is_a_located_error(tmp_path: Path, code: str,
                                                          said: str) -> None:
    model = tmp_path / "model.py"
    model.write_text("x = 1\n" + code)
    result = aether_gen("validate", model)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert re.fullmatch(rf"{re.escape(str(model))}:[2-6]:1: error: the Python model .+", line)
    assert line.isprintable() and len(line) < 500 + len(str(model))
    assert said in line


def test_generate_writes_nothing_for_a_python_model_that_exits(tmp_path: Path) -> None:
    model = tmp_path / "model.py"
    model.write_text("import sys\n\nsys.exit(0)\n")
    result = aether_gen("generate", model, "-o", tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.startswith(f"{model}:3:1: error: the Python model called sys.exit(0)")
    assert not (tmp_path / "out").exists()


def test_a_directory_or_a_bad_option_is_a_user_mistake_with_exit_1(tmp_path: Path) -> None:
    result = aether_gen("validate", tmp_path)
    assert result.returncode == 1
    assert result.stderr == (f"{tmp_path}:1:1: error: this is a directory; pass the model "
                             f"file in it (a .yaml/.yml file or a .py module)\n")
    assert aether_gen("validate", "--no-such-option", HOSTILE).returncode == 1


def test_package_option_may_not_shadow_a_module(tmp_path: Path) -> None:
    result = aether_gen("generate", HOSTILE, "-o", tmp_path, "--package", "asyncio")
    assert result.returncode == 1
    assert "would shadow the module 'asyncio'" in result.stderr
    result = aether_gen("generate", HOSTILE, "-o", tmp_path, "--package", "pygments")
    assert result.returncode == 1
    assert "would shadow the module 'pygments' that pytest imports; pass" in result.stderr
    assert not tmp_path.joinpath("pygments").exists()


def test_only_modules_the_tools_import_are_refused_not_every_installed_one(
        tmp_path: Path) -> None:
    """End to end: validate refuses a plugin's module; the user's own generated package,
    installed (as `pip install -e` would), is still a name its model may take, and what
    generate writes for it then runs its tests."""
    model = tmp_path / "model.yaml"
    model.write_text(yaml.safe_dump({**base_model(), "model": "pytest_asyncio"}, sort_keys=False))
    refused = aether_gen("validate", model)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"{model}:1:8: error: model name 'pytest_asyncio' would name a generated package "
        f"that shadows the module 'pytest_asyncio' that pytest loads as a plugin; write "
        f"'pytest_asyncio_model' or another name\n")

    model.write_text(yaml.safe_dump(base_model(), sort_keys=False))
    site = tmp_path / "site"
    assert aether_gen("generate", model, "-o", site).returncode == 0
    info = site / "shop-0.1.dist-info"
    info.mkdir()
    info.joinpath("METADATA").write_text("Metadata-Version: 2.1\nName: shop\nVersion: 0.1\n"
                                         "Requires-Dist: aether\n")
    info.joinpath("top_level.txt").write_text("shop\n")
    env = {**os.environ, "PYTHONPATH": str(site)}

    def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=env,
                              capture_output=True, text=True, check=False)

    installed = run("-c", "import importlib.metadata as m; print(m.packages_distributions()"
                          "['shop'])")
    assert installed.stdout == "['shop']\n", installed.stderr
    accepted = run("-m", "codegen", "validate", model)
    assert accepted.returncode == 0, accepted.stderr
    out = tmp_path / "out"
    generated = run("-m", "codegen", "generate", model, "-o", out)
    assert generated.returncode == 0, generated.stderr
    tests = run("-m", "pytest", "-q", "-p", "no:cacheprovider", "shop", cwd=out)
    assert tests.returncode == 0, tests.stdout
    assert " passed" in tests.stdout
