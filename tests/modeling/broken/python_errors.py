from modeling import ModelBuilder

model = ModelBuilder("shop")
sales = model.context("Sales")
order = sales.aggregate("Order")
order.command("PlaceOrder", emits=["OrderPlaced"])
for name in ["order_placed"]:
    order.event(name)
