"""Read-model mistakes in a Python model: each reported at the call that made it."""

from modeling import ModelBuilder

model = ModelBuilder("shop")
sales = model.context("Sales")
sales.actor("Clerk")
order = sales.aggregate("Order")
order.command("PlaceOrder", actor="Clerk", fields={"order_id": "str"}, emits=["OrderPlaced"])
order.event("OrderPlaced", fields={"order_id": "str"})
order.command("NoteOrder", actor="Clerk", fields={"note": "str"}, emits=["OrderNoted"])
order.event("OrderNoted", fields={"note": "str"})
summary = sales.read_model("Summary", key="order_id", from_=["OrderPlaced", "OrderNoted"])
summary.scenario("lists placed orders",
                 given=[{"OrderPlaced": {"order_id": 1}}], then=[{"order_id": "o1"}])
sales.read_model("Counter", key="order_id", single=True, from_=["OrderPlaced"])
