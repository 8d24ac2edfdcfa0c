"""Aggregate identity: validate checks it, generated commands name their actor, and a
command of an aggregate without one says how to send it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from aether.command import Command, InvalidCommandError
from modeling import ModelError, load_model

ROOT = Path(__file__).resolve().parents[2]
MODEL = """\
model: shop
contexts:
  - name: Sales
    aggregates:
      - name: Order
        id: order_id
{prefix}        commands:
          - name: PlaceOrder
            fields: {{order_id: {id_type}, total: decimal}}
            emits: [OrderPlaced]
          - name: CancelOrder
            fields: {{reason: str}}
            emits: [OrderPlaced]
        events:
          - name: OrderPlaced
            fields: {{total: decimal}}
"""


def errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "shop.yaml"
    path.write_text(text)
    with pytest.raises(ModelError) as raised:
        load_model(path)
    return [str(d) for d in raised.value.diagnostics if d.code == "bad-identity"]


def test_a_command_without_the_id_field_is_refused_where_it_is_declared(tmp_path: Path) -> None:
    (error,) = errors(tmp_path, MODEL.format(prefix="", id_type="str"))
    assert error.startswith(f"{tmp_path / 'shop.yaml'}:11:19: error: ")
    assert "command CancelOrder of aggregate Order lacks the id field 'order_id'" in error
    assert "add `order_id: str` to its fields" in error


def test_an_id_of_an_unfit_type_or_a_bad_prefix_is_refused(tmp_path: Path) -> None:
    text = MODEL.format(prefix='        id_prefix: "Bad Prefix"\n', id_type="decimal")
    found = errors(tmp_path, text.replace("fields: {reason: str}",
                                          "fields: {order_id: str, reason: str}"))
    assert len(found) == 2
    assert "id_prefix 'Bad Prefix' of aggregate Order must be" in found[0]
    assert "write e.g. `id_prefix: order`" in found[0]
    assert "id field 'order_id' of command PlaceOrder is 'decimal'" in found[1]


@pytest.fixture(scope="module")
def orders() -> Iterator[ModuleType]:
    project = str(ROOT / "examples" / "orders" / "project")
    sys.path.insert(0, project)
    try:
        yield importlib.import_module("orders.commands")
    finally:
        sys.path.remove(project)


def test_generated_commands_name_their_actor_per_aggregate_type(orders: ModuleType) -> None:
    assert orders.CancelOrder(order_id="o1", reason=None).target_actor_id() == "order-o1"
    # Same id value, another aggregate type: another actor.
    assert orders.PrepareShipment(order_id="o1").target_actor_id() == "shipment-o1"


def test_an_id_prefix_replaces_the_aggregate_name() -> None:
    project = str(ROOT / "examples" / "library" / "project")
    sys.path.insert(0, project)
    try:
        commands = importlib.import_module("library.commands")
    finally:
        sys.path.remove(project)
    assert commands.PayFees(member_id="m-1", amount="1").target_actor_id() == "account-m-1"


def test_a_command_of_an_aggregate_without_identity_says_how_to_send_it() -> None:
    class Ping(Command):
        command_type = "Ping"

    with pytest.raises(InvalidCommandError, match=r"declare the aggregate's identity"):
        Ping().target_actor_id()


def two_aggregates(first: str, second: str, context_between: bool = False) -> str:
    """Aggregate Order then Shipment (``first``/``second`` are their extra lines), each with
    ``id: order_id``; with ``context_between`` they are in two contexts."""
    def aggregate(name: str, command: str, event: str, extra: str) -> str:
        return (f"      - name: {name}\n        id: order_id\n{extra}"
                f"        commands: [{{name: {command}, fields: {{order_id: str}}, "
                f"emits: [{event}]}}]\n"
                f"        events: [{{name: {event}, fields: {{order_id: str}}}}]\n")
    head = "model: shop\ncontexts:\n  - name: Sales\n    aggregates:\n"
    between = "  - name: Shipping\n    aggregates:\n" if context_between else ""
    return (head + aggregate("Order", "Place", "Placed", first) + between
            + aggregate("Shipment", "Ship", "Shipped", second))


@pytest.mark.parametrize(("first", "second", "other", "how"), [
    ("", "order", "Order", "its snake_case name"),
    ("order", "", None, None),  # Order's own prefix written out: no clash
    ("shared", "shared", "Order", "its id_prefix"),
])
@pytest.mark.parametrize("context_between", [False, True])
def test_two_aggregate_types_may_not_share_an_actor_id_prefix(
        tmp_path: Path, first: str, second: str, other: str | None, how: str | None,
        context_between: bool) -> None:
    def line(prefix: str) -> str:
        return f"        id_prefix: {prefix}\n" if prefix else ""
    text = two_aggregates(line(first), line(second), context_between)
    path = tmp_path / "shop.yaml"
    path.write_text(text)
    if other is None:
        load_model(path)
        return
    with pytest.raises(ModelError) as raised:
        load_model(path)
    (error,) = [str(d) for d in raised.value.diagnostics if d.severity == "error"]
    lines = text.splitlines()
    row = len(lines) - lines[::-1].index(f"        id_prefix: {second}")  # Shipment's
    assert error.startswith(f"{path}:{row}:20: error: id_prefix '{second}' of aggregate "
                            f"Shipment is also the actor id prefix of aggregate {other} "
                            f"({how})"), error
    assert error.endswith("write `id_prefix: shipment`"), error
    # What the message says to write is accepted.
    before, _, after = text.rpartition(f"id_prefix: {second}")
    path.write_text(f"{before}id_prefix: shipment{after}")
    load_model(path)


def test_an_explicit_prefix_clashing_with_a_later_default_is_refused_at_the_explicit_one(
        tmp_path: Path) -> None:
    # Shipment (first in the file) takes `shipment_x`; ShipmentX, declared after it, has that
    # as its default prefix, which no line of the model can be blamed for.
    text = two_aggregates("        id_prefix: shipment_x\n", "").replace(
        "name: Shipment", "name: ShipmentX").replace("name: Order", "name: Shipment")
    path = tmp_path / "shop.yaml"
    path.write_text(text)
    with pytest.raises(ModelError) as raised:
        load_model(path)
    (error,) = [str(d) for d in raised.value.diagnostics if d.severity == "error"]
    assert f"{path}:7:20: error: id_prefix 'shipment_x' of aggregate Shipment is also the " \
           f"actor id prefix of aggregate ShipmentX (its snake_case name)" in error, error
