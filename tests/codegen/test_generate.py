"""aether-gen generate, end to end: real ruff, mypy and pytest on the generated package."""

from __future__ import annotations

import ast
import hashlib
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from codegen.generator import generate
from modeling import load_model
from tests.cli import aether_gen, tool

ROOT = Path(__file__).resolve().parents[2]
RICH = Path(__file__).parent / "models" / "rich.yaml"
ORDERS_YAML = ROOT / "examples" / "orders" / "model.yaml"
ORDERS_PY = ROOT / "tests" / "modeling" / "models" / "orders.py"
BIN = Path(sys.executable).parent

WIDGET_RENAME = '''    def handle_rename_widget(self, command: RenameWidget) -> None:
        if command.name == self.state.name:
            raise DomainError(f'already called "{command.name}"')
        self.record(WidgetRenamed(name=command.name))
'''


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def implement_widget(out: Path) -> None:
    stub = out / "rich" / "aggregates" / "widget.py"
    text = stub.read_text()
    start = text.index("    def handle_rename_widget")
    end = text.index("    def apply_widget_created")
    text = text[:start] + WIDGET_RENAME + "\n" + text[end:]
    text = text.replace("from ..bases import", "from aether.kit import DomainError\n\n"
                        "from ..bases import")
    stub.write_text(text)


@pytest.fixture
def rich_package(tmp_path: Path) -> Path:
    result = aether_gen("generate", RICH, "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    implement_widget(tmp_path)
    return tmp_path


def test_generated_code_passes_ruff_mypy_and_its_own_tests(rich_package: Path) -> None:
    ruff = tool("ruff", "check", "--config", ROOT / "pyproject.toml", ".", cwd=rich_package)
    assert ruff.returncode == 0, ruff.stdout
    mypy = tool("mypy", "--strict", "--config-file", ROOT / "pyproject.toml", "rich",
                cwd=rich_package)
    assert mypy.returncode == 0, mypy.stdout
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "rich"],
        cwd=rich_package, capture_output=True, text=True, check=False)
    assert tests.returncode == 0, tests.stdout
    assert "6 passed" in tests.stdout


def test_generated_events_are_typed_and_round_trip(rich_package: Path) -> None:
    sys.path.insert(0, str(rich_package))
    try:
        from rich.events import WidgetCreated, registry  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(rich_package))
    assert WidgetCreated.event_type == "WidgetCreated"
    assert WidgetCreated.schema_version == 2
    fields = WidgetCreated.model_fields
    assert str(fields["limit"].default) == "9.99"
    assert fields["raw"].default == b"abc"
    assert registry.event_types == ["WidgetCreated", "WidgetRenamed"]


def test_hostile_text_never_becomes_code(rich_package: Path) -> None:
    for path in (rich_package / "rich").rglob("*.py"):
        module = ast.parse(path.read_text(), filename=str(path))
        names = {node.id for node in ast.walk(module) if isinstance(node, ast.Name)}
        names |= {node.attr for node in ast.walk(module) if isinstance(node, ast.Attribute)}
        assert "__import__" not in names, path
        assert "system" not in names, path
        assert "DROP" not in ast.dump(module).replace("DROP TABLE", ""), path
    types = (rich_package / "rich" / "types.py").read_text()
    assert "__import__('os')" in types  # still there, as documentation text


def test_output_is_deterministic_and_identical_for_yaml_and_python() -> None:
    from_yaml = generate(load_model(ORDERS_YAML).model, "orders")
    again = generate(load_model(ORDERS_YAML).model, "orders")
    from_python = generate(load_model(ORDERS_PY).model, "orders")
    assert from_yaml == again == from_python
    assert all("2026" not in f.content or "scenario" in f.path or "test_" in f.path
               for f in from_yaml)  # no timestamps


def test_regeneration_keeps_edited_stubs_and_reports_missing_handlers_at_the_stub(
    tmp_path: Path,
) -> None:
    model = tmp_path / "orders.yaml"
    model.write_text(ORDERS_YAML.read_text())
    out = tmp_path / "out"
    assert aether_gen("generate", model, "-o", out).returncode == 0
    stub = out / "orders" / "aggregates" / "order.py"
    edited = stub.read_text().replace("return self.state\n", "return self.state  # mine\n", 1)
    stub.write_text(edited)

    model.write_text(model.read_text().replace(
        "          - name: CancelOrder\n",
        "          - name: ArchiveOrder\n            actor: Customer\n"
        "            fields: {order_id: str}\n"
        "            emits: [OrderArchived]\n          - name: CancelOrder\n").replace(
        "          - name: OrderCancelled\n",
        "          - name: OrderArchived\n          - name: OrderCancelled\n"))
    result = aether_gen("generate", model, "-o", out)
    assert result.returncode == 0, result.stderr
    assert "updated" in result.stdout
    assert stub.read_text() == edited
    bases = (out / "orders" / "bases.py").read_text()
    assert "def handle_archive_order(self, command: ArchiveOrder) -> None:" in bases
    # mypy's first error is at the stub's class, naming the missing methods...
    mypy = tool("mypy", "--strict", "--config-file", ROOT / "pyproject.toml", "orders", cwd=out)
    assert mypy.returncode == 1
    first = mypy.stdout.splitlines()[0]
    assert first.startswith("orders/aggregates/order.py:"), mypy.stdout
    assert '"apply_order_archived", "handle_archive_order"' in first
    # ...and running the tests stops at the stub's import, saying the same.
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "orders"], cwd=out, capture_output=True, text=True, check=False)
    assert tests.returncode != 0
    assert ("order.py: Order lacks apply_order_archived, handle_archive_order" in tests.stdout), \
        tests.stdout


def test_check_lists_missing_stale_and_orphaned_files_and_writes_nothing(
    tmp_path: Path,
) -> None:
    missing = aether_gen("generate", ORDERS_YAML, "-o", tmp_path, "--check")
    assert missing.returncode == 1
    assert f"{tmp_path}/orders/events.py: missing" in missing.stderr
    assert not (tmp_path / "orders").exists()

    assert aether_gen("generate", ORDERS_YAML, "-o", tmp_path).returncode == 0
    fresh = aether_gen("generate", ORDERS_YAML, "-o", tmp_path, "--check")
    assert fresh.returncode == 0, fresh.stderr

    events = tmp_path / "orders" / "events.py"
    events.write_text(events.read_text() + "# hand edit\n")
    orphan = tmp_path / "orders" / "old_module.py"
    orphan.write_text("# Generated by aether-gen from model orders (version 0). Do not edit:\n")
    (tmp_path / "orders" / "aggregates" / "shipment.py").unlink()
    before = tree(tmp_path)
    stale = aether_gen("generate", ORDERS_YAML, "-o", tmp_path, "--check")
    assert stale.returncode == 1
    assert stale.stderr.splitlines()[:3] == [
        f"{tmp_path}/orders/aggregates/shipment.py: missing",
        f"{tmp_path}/orders/events.py: stale",
        f"{tmp_path}/orders/old_module.py: orphaned",
    ]
    assert tree(tmp_path) == before

    result = aether_gen("generate", ORDERS_YAML, "-o", tmp_path)
    assert result.returncode == 0
    assert not orphan.exists()
    assert "# hand edit" not in events.read_text()
    assert aether_gen("generate", ORDERS_YAML, "-o", tmp_path, "--check").returncode == 0


def test_failed_generation_leaves_the_previous_output_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert aether_gen("generate", ORDERS_YAML, "-o", out).returncode == 0
    before = tree(out)
    broken = tmp_path / "templates"
    broken.mkdir()
    (broken / "commands.py.j2").write_text("{{ view.no_such_thing }}\n")
    changed = tmp_path / "changed.yaml"
    changed.write_text(ORDERS_YAML.read_text().replace("version: 1", "version: 2", 1))
    result = aether_gen("generate", changed, "-o", out, "--templates", broken)
    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert tree(out) == before


def test_custom_templates_override_file_by_file(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "subpackage_init.py.j2").write_text(
        '{% include "_header.j2" %}\n"""{{ what }}, the house way."""\n')
    result = aether_gen("generate", ORDERS_YAML, "-o", tmp_path / "out", "--templates",
                        templates)
    assert result.returncode == 0, result.stderr
    package = tmp_path / "out" / "orders"
    assert (package / "policies" / "__init__.py").read_text().endswith(
        '"""Policies, the house way."""\n')
    assert "class OrderPlaced(kit.EventPayload)" in (package / "events.py").read_text()


def test_bad_package_name_is_one_line(tmp_path: Path) -> None:
    result = aether_gen("generate", ORDERS_YAML, "-o", tmp_path, "--package", "my-orders")
    assert result.returncode == 1
    assert result.stderr == ("aether-gen: error: package name 'my-orders' is not a lowercase "
                             "Python identifier; pass another, e.g. --package "
                             "my_orders\n")


@pytest.mark.slow
def test_installed_wheel_finds_its_templates(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
         str(dist), str(ROOT)], capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("aether-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-deps", "--no-index",
                              str(wheel)], capture_output=True, text=True, check=False)
    assert install.returncode == 0, install.stderr
    site = next((venv / "lib").glob("python3*/site-packages"))
    # Dependencies (pydantic, jinja2, ...) come from the test environment, after the wheel.
    deps = Path(next(p for p in sys.path if p.endswith("site-packages")))
    (site / "zz_deps.pth").write_text(f"{deps}\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import codegen.generator as g; print(g.builtin_templates())"],
        cwd=work, capture_output=True, text=True, check=False)
    assert where.stdout.strip() == str(site / "codegen" / "templates"), where.stderr
    run = subprocess.run([str(venv / "bin" / "aether-gen"), "generate", str(ORDERS_YAML),
                          "-o", str(work / "out")],
                         cwd=work, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert (work / "out" / "orders" / "events.py").exists()


def test_a_custom_template_that_makes_invalid_python_is_a_user_error(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "app.py.j2").write_text('{% include "_header.j2" %}\ndef broken(:\n')
    result = aether_gen("generate", ORDERS_YAML, "-o", tmp_path / "out", "--templates",
                        templates)
    assert result.returncode == 1
    assert "Failed to parse orders/app.py:3:12" in result.stderr
    assert result.stderr.rstrip().endswith(f"check your templates in {templates}")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("text", "said"), [
    ("{% for x in %}\n", ":1: Expected an expression"),
    ('{% include "_header.j2" %}\n{{ view.no_such_thing }}\n', ":2: UndefinedError: "),
])
def test_a_custom_template_that_jinja2_refuses_is_a_user_error(
    tmp_path: Path, text: str, said: str,
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "events.py.j2").write_text(text)
    result = aether_gen("generate", ORDERS_YAML, "-o", tmp_path / "out", "--templates",
                        templates)
    assert result.returncode == 1, result.stderr
    assert f"error: {templates / 'events.py.j2'}{said}" in result.stderr
    assert result.stderr.rstrip().endswith(f"check your templates in {templates}")
    assert "internal error" not in result.stderr


def test_a_custom_template_that_is_not_utf8_is_a_user_error(tmp_path: Path) -> None:
    # It exited 2 with "internal error (UnicodeDecodeError)".
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "events.py.j2").write_bytes(b'{% include "_header.j2" %}\n# caf\xe9\n')
    result = aether_gen("generate", ORDERS_YAML, "-o", tmp_path / "out", "--templates",
                        templates)
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert line == (f"aether-gen: error: {templates / 'events.py.j2'}: not UTF-8 text (byte "
                    f"0xe9 at offset 32): save the template as UTF-8; check your templates "
                    f"in {templates}")
    assert not (tmp_path / "out").exists()


def test_an_empty_package_name_is_refused_in_one_line(tmp_path: Path) -> None:
    result = aether_gen("generate", ORDERS_YAML, "-o", tmp_path, "--package", "")
    assert result.returncode == 1
    assert result.stderr == ("aether-gen: error: package name '' is not a lowercase Python "
                             "identifier; pass another, e.g. --package orders\n")
    assert list(tmp_path.iterdir()) == []


def test_a_custom_template_that_raises_while_rendering_names_its_line(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "events.py.j2").write_text('{% include "_header.j2" %}\n\n{{ 1/0 }}\n')
    result = aether_gen("generate", ORDERS_YAML, "-o", tmp_path / "out", "--templates",
                        templates)
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert line == (f"aether-gen: error: {templates / 'events.py.j2'}:3: ZeroDivisionError: "
                    f"division by zero; check your templates in {templates}")


@pytest.mark.parametrize("custom", [False, True])
def test_check_suggests_the_command_that_regenerates_the_same_package(
    tmp_path: Path, custom: bool,
) -> None:
    templates = tmp_path / "my templates"
    templates.mkdir()
    out = tmp_path / "out dir"
    custom_templates: list[str | Path] = ["--templates", templates] if custom else []
    options: list[str | Path] = ["--package", "shop", *custom_templates]
    assert aether_gen("generate", ORDERS_YAML, "-o", out, *options).returncode == 0
    with (out / "shop" / "events.py").open("a") as events:
        events.write("# x\n")
    result = aether_gen("generate", ORDERS_YAML, "-o", out, *options, "--check")
    assert result.returncode == 1
    suggested = result.stderr.splitlines()[-1].split("; run ", 1)[1]
    assert suggested.startswith("aether-gen generate ")
    words = shlex.split(suggested)[1:]  # the same command line, quoted for a shell
    assert aether_gen(*words, cwd=ROOT).returncode == 0
    assert aether_gen(*words, "--check").returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["shop"]
    assert ("--templates" in words) is custom
