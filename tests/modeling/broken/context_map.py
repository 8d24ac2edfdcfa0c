"""A Python model whose context map is wrong in three ways (tests/modeling/test_context_map.py)."""

from modeling import ModelBuilder

model = ModelBuilder("shop")
sales = model.context("Sales")
sales.aggregate("Order").command("PlaceOrder", actor="Clerk", emits=["OrderPlaced"]).event(
    "OrderPlaced")
sales.actor("Clerk")
shipping = model.context("Shipping")
shipping.aggregate("Shipment").command("Ship", emits=["Shipped"]).event("Shipped")
shipping.policy("ShipPlacedOrders", on=["OrderPlaced"], issues=["Ship"])
model.relationship(upstream="Sales", downstream="Shiping")
model.relationship(upstream="Sales", downstream="Shipping",
                   downstream_roles=["conformist", "anticorruption_layer"])
model.relationship(shared_kernel=["Shipping", "Sales"])
