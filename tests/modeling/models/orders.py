"""examples/orders/model.yaml, written with the Python builder: both must load equal."""

from modeling import ModelBuilder, field

model = ModelBuilder("orders", version=1, description="Orders from placement to delivery.")

sales = model.context("Sales", description="Taking and tracking customer orders.")
sales.actor("Customer")
sales.value_object("OrderLine", fields={"sku": "str", "quantity": "int", "price": "decimal"})
sales.enum("OrderStatus", ["new", "paid", "shipped", "cancelled"])
order = sales.aggregate("Order", description="A customer's order.", id="order_id", state={
    "status": field("OrderStatus", default="new"), "customer_id": "str", "total": "decimal"})
order.command("PlaceOrder", actor="Customer",
              fields={"order_id": "str", "customer_id": "str", "lines": "list[OrderLine]"},
              emits=["OrderPlaced"])
order.command("MarkOrderPaid",
              fields={"order_id": "str", "payment_id": "str", "amount": "decimal"},
              emits=["OrderPaid"])
order.command("CancelOrder", actor="Customer",
              fields={"order_id": "str", "reason": "str | None"},
              emits=["OrderCancelled"])
order.event("OrderPlaced", fields={"order_id": field("str", default=""), "customer_id": "str",
                                   "lines": "list[OrderLine]", "total": "decimal"})
order.event("OrderPaid", fields={"order_id": "str", "payment_id": "str", "amount": "decimal"})
order.event("OrderCancelled", fields={"order_id": field("str", default=""),
                                      "reason": "str | None"})
line = {"sku": "A-1", "quantity": 2, "price": "4.50"}
order.scenario("placing an order",
               when={"PlaceOrder": {"order_id": "o1", "customer_id": "c1", "lines": [line]}},
               then=[{"OrderPlaced": {"order_id": "o1", "customer_id": "c1", "lines": [line],
                                      "total": "9.00"}}])
order.scenario("a paid order cannot be cancelled",
               given=[{"OrderPlaced": {"order_id": "o1", "customer_id": "c1", "lines": [],
                                       "total": "0"}},
                      {"OrderPaid": {"order_id": "o1", "payment_id": "p1", "amount": "0"}}],
               when={"CancelOrder": {"order_id": "o1", "reason": "changed my mind"}},
               error="already paid")
sales.policy("MarkPaidWhenPaymentReceived",
             description="Payment confirmations settle the order they belong to.",
             on=["PaymentReceived"], issues=["MarkOrderPaid"]).scenario(
    "a payment settles its order",
    when={"PaymentReceived": {"order_id": "o1", "payment_id": "p1", "amount": "9.00"},
          "actor": "payment_gateway-p1"},
    then=[{"MarkOrderPaid": {"order_id": "o1", "payment_id": "p1", "amount": "9.00"}}])
summary = sales.read_model("OrderSummary", description="Every order at a glance, by order_id.",
                           key="order_id", from_=["OrderPlaced", "OrderPaid", "OrderCancelled"],
                           fields={"status": "OrderStatus", "total": "decimal"})
summary.scenario("a paid order shows as paid",
                 given=[{"OrderPlaced": {"order_id": "o1", "customer_id": "c1", "lines": [],
                                         "total": "12.50"}},
                        {"OrderPaid": {"order_id": "o1", "payment_id": "p1", "amount": "12.50"}}],
                 then=[{"order_id": "o1", "status": "paid", "total": "12.50"}])
summary.scenario("orders are listed in the order they were placed",
                 given=[{"OrderPlaced": {"order_id": "o2", "customer_id": "c1", "lines": [],
                                         "total": "3"}},
                        {"OrderPlaced": {"order_id": "o1", "customer_id": "c2", "lines": [],
                                         "total": "4"}},
                        {"OrderCancelled": {"order_id": "o2", "reason": None}}],
                 then=[{"order_id": "o2", "status": "cancelled", "total": "3"},
                       {"order_id": "o1", "status": "new", "total": "4"}])
sales.external_system("PaymentGateway", emits=["PaymentReceived"])
sales.event("PaymentReceived", description="The payment provider confirmed a payment.",
            fields={"order_id": "str", "payment_id": "str", "amount": "decimal"})
sales.hot_spot("What happens to partially paid orders?", about="MarkPaidWhenPaymentReceived")

shipping = model.context("Shipping", description="Getting paid orders to customers.")
shipping.actor("Warehouse")
shipment = shipping.aggregate("Shipment", id="order_id", state={
    "order_id": "str", "shipped": "bool", "tracking_code": "str | None"})
shipment.command("PrepareShipment", fields={"order_id": "str"}, emits=["ShipmentPrepared"])
shipment.command("ShipParcel", actor="Warehouse",
                 fields={"order_id": "str", "tracking_code": "str", "shipped_at": "datetime"},
                 emits=["ParcelShipped"])
shipment.event("ShipmentPrepared", fields={"order_id": "str"})
shipment.event("ParcelShipped", fields={"tracking_code": "str", "shipped_at": "datetime"})
shipment.scenario("shipping a prepared parcel",
                  given=[{"ShipmentPrepared": {"order_id": "o1"}}],
                  when={"ShipParcel": {"order_id": "o1", "tracking_code": "TRK-1",
                                       "shipped_at": "2026-01-31T12:00:00+00:00"}},
                  then=[{"ParcelShipped": {"tracking_code": "TRK-1",
                                           "shipped_at": "2026-01-31T12:00:00+00:00"}}])
shipment.scenario("a parcel ships only once prepared",
                  when={"ShipParcel": {"order_id": "o2", "tracking_code": "TRK-2",
                                       "shipped_at": "2026-01-31T12:00:00+00:00"}},
                  error="not prepared")
shipping.policy("PrepareShipmentWhenOrderPaid", on=["OrderPaid"],
                issues=["PrepareShipment"]).scenario(
    "a paid order is prepared for shipping",
    when={"OrderPaid": {"order_id": "o1", "payment_id": "p1", "amount": "9.00"}},
    then=[{"PrepareShipment": {"order_id": "o1"}}])
shipping.read_model("ParcelTracking", from_=["ShipmentPrepared", "ParcelShipped"],
                    fields={"order_id": "str", "tracking_code": "str | None"})

model.relationship(upstream="Sales", downstream="Shipping", kind="customer_supplier",
                   upstream_roles=["published_language"],
                   downstream_roles=["anticorruption_layer"],
                   description="Shipping prepares a parcel once Sales says an order is paid.")
