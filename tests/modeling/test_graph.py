from __future__ import annotations

from pathlib import Path

from modeling import load_model
from modeling.graph import FlowGraph, build_graph, happens_after, leads_to

ORDERS = Path(__file__).resolve().parents[2] / "examples" / "orders" / "model.yaml"


def graph() -> FlowGraph:
    return build_graph(load_model(ORDERS).model)


def test_nodes_carry_kind_and_context() -> None:
    g = graph()
    assert g.nodes["event:OrderPlaced"] | {} == {
        "kind": "event", "name": "OrderPlaced", "context": "Sales", "contexts": ["Sales"],
        "label": "OrderPlaced"}
    assert g.nodes["policy:PrepareShipmentWhenOrderPaid"]["context"] == "Shipping"
    kinds = {data["kind"] for _, data in g.nodes(data=True)}
    assert kinds == {"actor", "command", "aggregate", "event", "policy", "read_model",
                     "external_system", "hot_spot"}


def test_edges_follow_the_eventstorming_flow() -> None:
    g = graph()
    for edge in [
        ("actor:Customer", "command:PlaceOrder"),
        ("command:PlaceOrder", "aggregate:Order"),
        ("aggregate:Order", "event:OrderPlaced"),
        ("event:OrderPaid", "policy:PrepareShipmentWhenOrderPaid"),
        ("policy:PrepareShipmentWhenOrderPaid", "command:PrepareShipment"),
        ("event:OrderPlaced", "read_model:OrderSummary"),
        ("external_system:PaymentGateway", "event:PaymentReceived"),
    ]:
        assert g.has_edge(*edge), edge
    assert g.edges["aggregate:Order", "event:OrderPaid"]["commands"] == ["MarkOrderPaid"]


def test_what_happens_after_a_command_follows_only_its_events() -> None:
    after = happens_after(graph(), "MarkOrderPaid")
    assert "event:OrderPaid" in after
    assert "event:OrderPlaced" not in after  # same aggregate, other command
    assert after.index("policy:PrepareShipmentWhenOrderPaid") < after.index(
        "command:PrepareShipment") < after.index("event:ShipmentPrepared")


def test_what_leads_to_an_event() -> None:
    assert leads_to(graph(), "ShipmentPrepared") == sorted([
        "aggregate:Order", "aggregate:Shipment", "command:MarkOrderPaid",
        "command:PrepareShipment", "event:OrderPaid", "event:PaymentReceived",
        "external_system:PaymentGateway", "policy:MarkPaidWhenPaymentReceived",
        "policy:PrepareShipmentWhenOrderPaid",
    ])
    assert leads_to(graph(), "ParcelShipped") == [
        "actor:Warehouse", "aggregate:Shipment", "command:ShipParcel"]
