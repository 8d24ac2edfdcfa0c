"""What generated code raises for a user's mistake: AetherError subclasses that say what
was wrong (evolve with a bad value, an empty id, a shared actor id, a registry clash)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aether import AetherError
from aether.aggregate import InvalidStateError
from aether.registry import EventRegistry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def orders() -> Iterator[dict[str, ModuleType]]:
    project = str(ROOT / "examples" / "orders" / "project")
    sys.path.insert(0, project)
    try:
        yield {name: importlib.import_module(f"orders.{name}")
               for name in ("bases", "events", "aggregates.order", "aggregates.shipment")}
    finally:
        sys.path.remove(project)


def test_evolve_changes_only_the_given_fields(orders: dict[str, ModuleType]) -> None:
    state = orders["bases"].OrderState(customer_id="ada")
    later = state.evolve(total=Decimal("9.50"))
    assert (later.customer_id, later.total, later.status) == ("ada", Decimal("9.50"), "new")
    assert state.total == Decimal(0)  # states are values: the original is unchanged


def test_evolve_refuses_a_value_its_field_does_not_accept(
    orders: dict[str, ModuleType],
) -> None:
    state: Any = orders["bases"].ShipmentState()
    with pytest.raises(InvalidStateError, match=r"ShipmentState\.evolve\(shipped\)"):
        state.evolve(shipped=[1])
    with pytest.raises(TypeError, match="hodls"):  # mypy reports it first: see toolchain
        state.evolve(hodls=[1])


def test_an_empty_aggregate_id_is_an_aether_error(orders: dict[str, ModuleType]) -> None:
    with pytest.raises(AetherError, match="Order needs a non-empty id"):
        orders["aggregates.order"].Order("")


def test_an_event_of_another_aggregate_type_is_an_aether_error(
    orders: dict[str, ModuleType],
) -> None:
    order = orders["aggregates.order"].Order("order-1")
    with pytest.raises(AetherError, match="is this actor id shared with another aggregate"):
        order.replay(orders["events"].ShipmentPrepared(order_id="1"), 1)


def test_registry_mistakes_are_aether_errors(orders: dict[str, ModuleType]) -> None:
    events = orders["events"]
    registry = EventRegistry([events.OrderPaid])

    class Impostor(events.OrderCancelled):  # type: ignore[misc,name-defined]
        event_type = "OrderPaid"

    with pytest.raises(AetherError, match="already registered"):
        registry.register(Impostor)
    with pytest.raises(AetherError, match="claims event type 'OrderPaid'"):
        registry.to_event(Impostor(reason=None), "order-1", 1)
