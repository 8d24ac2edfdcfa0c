"""Generated read models: rows by key, by actor id or a single row, typed queries,
stubs that work as generated, and read-model scenarios as tests."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aether.event import Event
from codegen.catalog_pages import build_pages
from codegen.catalog_site import build_site
from codegen.generator import generate
from codegen.writer import write
from modeling import load_model

ROOT = Path(__file__).resolve().parents[2]
MODEL = """\
model: tills
contexts:
  - name: Sales
    actors: [Clerk]
    aggregates:
      - name: Till
        id: till_id
        commands:
          - {name: Ring, actor: Clerk, fields: {till_id: str, amount: int}, emits: [Rung]}
        events:
          - {name: Rung, fields: {till_id: str, amount: int}}
    read_models:
      - name: Tills
        key: till_id
        from: [Rung]
        fields: {amount: int}
        scenarios:
          - name: the last amount per till, tills in the order first rung
            given:
              - {Rung: {till_id: t2, amount: 5}}
              - {Rung: {till_id: t1, amount: 7}}
              - {Rung: {till_id: t2, amount: 9}}
            then: [{till_id: t2, amount: 9}, {till_id: t1, amount: 7}]
      - name: LastRing
        single: true
        from: [Rung]
        fields: {amount: int}
        scenarios:
          - name: the last amount of all
            given: [{Rung: {till_id: t1, amount: 7}}, {Rung: {till_id: t2, amount: 3}}]
            then: [{amount: 3}]
      - name: PerActor
        from: [Rung]
        fields: {amount: int}
        scenarios:
          - name: a row per till actor
            given: [{Rung: {till_id: t1, amount: 7}}]
            then: [{amount: 7}]
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated package, its stubs exactly as aether-gen wrote them."""
    root = tmp_path_factory.mktemp("read-models")
    (root / "tills.yaml").write_text(MODEL)
    write(generate(load_model(root / "tills.yaml").model, "tills"), root / "out")
    return root / "out"


@pytest.fixture(scope="module")
def package(project: Path) -> Iterator[dict[str, ModuleType]]:
    sys.path.insert(0, str(project))
    try:
        yield {name: importlib.import_module(f"tills.{name}") for name in (
            "events", "read_models.tills", "read_models.last_ring", "read_models.per_actor")}
    finally:
        sys.path.remove(str(project))
        for name in [m for m in sys.modules if m == "tills" or m.startswith("tills.")]:
            del sys.modules[name]


def feed(view: Any, events: ModuleType, *rung: tuple[str, int]) -> None:
    for version, (till, amount) in enumerate(rung, start=1):
        payload = events.Rung(till_id=till, amount=amount)
        view.project(payload, events.registry.to_event(payload, f"till-{till}", version))


def pytest_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest as a user outside this repository runs it: their directory, a bare
    environment (no PYTHONPATH, no repository config), warnings as errors."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)}
    return subprocess.run([sys.executable, "-m", "pytest", "-W", "error", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, check=False, timeout=300)


def test_a_keyed_read_model_answers_get_all_and_len_by_its_key(
        package: dict[str, ModuleType]) -> None:
    events, tills = package["events"], package["read_models.tills"].Tills()
    feed(tills, events, ("t2", 5), ("t1", 7), ("t2", 9))
    row = tills.get("t2")
    assert (row.till_id, row.amount) == ("t2", 9)
    assert tills.get("t3") is None
    assert [(r.till_id, r.amount) for r in tills.all()] == [("t2", 9), ("t1", 7)]  # first seen
    assert len(tills) == 2


def test_a_single_row_read_model_has_one_current_row(package: dict[str, ModuleType]) -> None:
    events, last = package["events"], package["read_models.last_ring"].LastRing()
    assert last.current().amount == 0 and len(last) == 1  # the row exists before any event
    feed(last, events, ("t1", 7), ("t2", 3))
    assert last.current().amount == 3
    assert last.all() == [last.current()]


def test_a_read_model_without_key_keeps_a_row_per_actor_id(
        package: dict[str, ModuleType]) -> None:
    events, per_actor = package["events"], package["read_models.per_actor"].PerActor()
    feed(per_actor, events, ("t1", 7))
    assert per_actor.get("till-t1").amount == 7
    assert per_actor.get("t1") is None


def test_generated_tests_pass_warning_free_outside_the_repository(project: Path) -> None:
    # The stubs are as generated: their pre-filled handlers already keep the rows.
    result = pytest_in(project, "-p", "no:cacheprovider", "tills")
    assert result.returncode == 0, result.stdout + result.stderr
    # The three scenarios, the event's round trips and the placeholder of test_scenarios.
    assert "tills/tests/test_read_models.py ..." in result.stdout
    assert "7 passed" in result.stdout
    assert "warning" not in result.stdout.lower(), result.stdout


def test_a_failing_read_model_scenario_names_the_scenario(project: Path,
                                                          tmp_path: Path) -> None:
    broken = tmp_path / "tills"
    subprocess.run(["cp", "-r", str(project / "tills"), str(broken)], check=True)
    stub = broken / "read_models" / "tills.py"
    stub.write_text(stub.read_text().replace("row.evolve(amount=event.amount)", "row"))
    result = pytest_in(tmp_path, "-p", "no:cacheprovider", "-q", "tills/tests")
    assert result.returncode == 1
    assert ("FAILED tills/tests/test_read_models.py::"
            "test_tills_the_last_amount_per_till_tills_in_the_order_first_rung") in result.stdout
    assert "1 failed" in result.stdout, result.stdout


def test_the_orders_example_keys_its_summary_by_order_id() -> None:
    project = str(ROOT / "examples" / "orders" / "project")
    sys.path.insert(0, project)
    try:
        events = importlib.import_module("orders.events")
        summary = importlib.import_module("orders.read_models.order_summary").OrderSummary()
    finally:
        sys.path.remove(project)
    placed = events.OrderPlaced(order_id="7", customer_id="ada", lines=[], total=Decimal("3"))
    envelope: Event = events.registry.to_event(placed, "order-7", 1)
    summary.project(placed, envelope)
    row = summary.get("7")
    assert row is not None
    assert (row.order_id, row.status, row.total) == ("7", "new", Decimal("3"))
    assert summary.get("order-7") is None
    assert summary.all() == [row]


def test_the_catalog_shows_how_rows_are_kept_and_the_key_first() -> None:
    model = load_model(ROOT / "examples" / "library" / "model.py").model
    orders = load_model(ROOT / "examples" / "orders" / "model.yaml").model
    pages = {page.link.name: page
             for page in [*build_pages(model, build_site(model)),
                          *build_pages(orders, build_site(orders))]}
    summary = pages["OrderSummary"]
    assert [row.name for row in summary.fields] == ["order_id", "status", "total"]
    assert ("Rows", "one per order_id") in summary.facts
    assert ("Rows", "one") in pages["LendingTotals"].facts
    assert ("Rows", "one per actor id") in pages["LoansByMember"].facts
