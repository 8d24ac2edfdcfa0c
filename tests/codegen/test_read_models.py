"""Generated read models answer typed queries: get(actor_id) and all()."""

from __future__ import annotations

import importlib
import sys
from decimal import Decimal
from pathlib import Path

from aether.event import Event

ROOT = Path(__file__).resolve().parents[2]


def test_a_read_model_answers_get_and_all_with_typed_rows() -> None:
    project = str(ROOT / "examples" / "orders" / "project")
    sys.path.insert(0, project)
    try:
        events = importlib.import_module("orders.events")
        summary = importlib.import_module("orders.read_models.order_summary").OrderSummary()
    finally:
        sys.path.remove(project)
    placed = events.OrderPlaced(customer_id="ada", lines=[], total=Decimal("3"))
    envelope: Event = events.registry.to_event(placed, "order-7", 1)
    summary.project(placed, envelope)
    row = summary.get("order-7")
    assert row is not None
    assert (row.order_id, row.total) == ("order-7", Decimal("3"))
    assert summary.get("order-8") is None
    assert summary.all() == [row]
