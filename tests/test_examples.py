"""The examples stay true: fresh generated code, passing generated tests, working demos."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nats
import pytest

from aether.cluster import ClusterManager
from aether.store import InMemoryEventStore
from aether.testing import NatsServer
from examples.orders.project.orders.app import make_host
from examples.run import demo_env
from modeling import load_model
from modeling.diagram import to_mermaid

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {"orders": "model.yaml", "library": "model.py"}


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          check=False, timeout=300, env=demo_env())


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_committed_package_is_fresh(name: str) -> None:
    root = ROOT / "examples" / name
    result = run("-m", "codegen", "generate", str(root / EXAMPLES[name]), "-o",
                 str(root / "project"), "--check")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_committed_diagrams_match_the_model(name: str) -> None:
    root = ROOT / "examples" / name
    model = load_model(root / EXAMPLES[name], strict=True).model
    assert (root / "diagrams" / f"{name}.mmd").read_text() == to_mermaid(model)
    svg = (root / "diagrams" / f"{name}.svg").read_text()
    assert "<svg" in svg
    assert all(context.name in svg for context in model.contexts)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_generated_tests_pass_with_the_implemented_stubs(name: str) -> None:
    result = run("-m", "pytest", "-q", "-p", "no:cacheprovider", name,
                 cwd=ROOT / "examples" / name / "project")
    assert result.returncode == 0, result.stdout
    assert " passed" in result.stdout


def test_orders_demo_shows_each_step() -> None:
    result = run(str(ROOT / "examples" / "orders" / "project" / "demo.py"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "order-1 v1 OrderPlaced" in out
    assert "version conflict for actor 'order-1': attempted version 2" in out
    assert "DomainError: order order-1 is cancelled" in out
    assert "policy MarkPaidWhenPaymentReceived reacted to PaymentReceived" in out
    assert "policy PrepareShipmentWhenOrderPaid reacted to OrderPaid" in out
    assert "shipment-2 v2 ParcelShipped" in out
    assert "snapshot of order-2 at v2" in out
    assert "OrderSummary[2] = {'order_id': '2', 'status': 'paid'" in out
    assert "runner caught up at position 8 (lag 0): 8 events handled, 0 parked" in out


def test_library_demo_on_jetstream_names_its_stream() -> None:
    result = run(str(ROOT / "examples" / "library" / "project" / "demo.py"), "--jetstream")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "namespace 'city-library' -> stream 'city-library_loans'" in out
    assert "policy ChargeLateReturns reacted to BookReturnedLate" in out
    assert "account-ada v1 LateFeeCharged {'amount': '1.50', 'days_late': 3}" in out
    assert "version conflict for actor 'loan-1'" in out
    assert "Balances[account-ada] = {'balance': '0.00'}" in out
    assert "LendingTotals = {'on_loan': 1, 'returned_late': 1, 'days_late': 3}" in out


def test_the_demo_command_runs_the_whole_path() -> None:
    result = run("-m", "examples.run", "--example", "orders", "--jetstream")
    assert result.returncode == 0, result.stdout + result.stderr
    for stage in ("validate --strict", "diagram", "generate", "-m pytest", "demo.py --jetstream"):
        assert stage in result.stdout, stage
    assert "stream 'demo-shop_orders'" in result.stdout


async def test_the_generated_make_host_takes_the_hosts_settings(nats_server: NatsServer
                                                                ) -> None:
    """A trial could not set a host's drain, retry or handover times through make_host."""
    nc = await nats.connect(nats_server.url)
    try:
        manager = ClusterManager(nc, "n1", cluster="make-host", shard_count=8)
        host = make_host(InMemoryEventStore(), manager, max_actors=5, passivate_after=7.0,
                         drain_timeout=1.5, retries=9, handover_timeout=4.0)
        assert (host.max_actors, host.drain_timeout, host.retries, host.handover_timeout) == (
            5, 1.5, 9, 4.0)
    finally:
        await nc.close()
