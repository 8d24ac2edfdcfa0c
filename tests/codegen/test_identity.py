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
