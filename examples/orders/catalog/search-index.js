window.AETHER_CATALOG_INDEX = [
{
"context": "Sales",
"description": "",
"href": "actors/customer.html",
"kind": "Actor",
"name": "Customer",
"terms": ""
},
{
"context": "Shipping",
"description": "",
"href": "actors/warehouse.html",
"kind": "Actor",
"name": "Warehouse",
"terms": ""
},
{
"context": "Sales",
"description": "A customer's order.",
"href": "aggregates/order.html",
"kind": "Aggregate",
"name": "Order",
"terms": "status customer_id total"
},
{
"context": "Shipping",
"description": "",
"href": "aggregates/shipment.html",
"kind": "Aggregate",
"name": "Shipment",
"terms": "order_id shipped tracking_code"
},
{
"context": "Sales",
"description": "",
"href": "commands/cancel-order.html",
"kind": "Command",
"name": "CancelOrder",
"terms": "order_id reason"
},
{
"context": "Sales",
"description": "",
"href": "commands/mark-order-paid.html",
"kind": "Command",
"name": "MarkOrderPaid",
"terms": "order_id payment_id amount"
},
{
"context": "Sales",
"description": "",
"href": "commands/place-order.html",
"kind": "Command",
"name": "PlaceOrder",
"terms": "order_id customer_id lines"
},
{
"context": "Shipping",
"description": "",
"href": "commands/prepare-shipment.html",
"kind": "Command",
"name": "PrepareShipment",
"terms": "order_id"
},
{
"context": "Shipping",
"description": "",
"href": "commands/ship-parcel.html",
"kind": "Command",
"name": "ShipParcel",
"terms": "order_id tracking_code shipped_at"
},
{
"context": "Sales",
"description": "Taking and tracking customer orders.",
"href": "contexts/sales.html",
"kind": "Bounded context",
"name": "Sales",
"terms": ""
},
{
"context": "Shipping",
"description": "Getting paid orders to customers.",
"href": "contexts/shipping.html",
"kind": "Bounded context",
"name": "Shipping",
"terms": ""
},
{
"context": "Sales",
"description": "",
"href": "events/order-cancelled.html",
"kind": "Event",
"name": "OrderCancelled",
"terms": "order_id reason"
},
{
"context": "Sales",
"description": "",
"href": "events/order-paid.html",
"kind": "Event",
"name": "OrderPaid",
"terms": "order_id payment_id amount"
},
{
"context": "Sales",
"description": "",
"href": "events/order-placed.html",
"kind": "Event",
"name": "OrderPlaced",
"terms": "order_id customer_id lines total"
},
{
"context": "Shipping",
"description": "",
"href": "events/parcel-shipped.html",
"kind": "Event",
"name": "ParcelShipped",
"terms": "tracking_code shipped_at"
},
{
"context": "Sales",
"description": "The payment provider confirmed a payment.",
"href": "events/payment-received.html",
"kind": "Event",
"name": "PaymentReceived",
"terms": "order_id payment_id amount"
},
{
"context": "Shipping",
"description": "",
"href": "events/shipment-prepared.html",
"kind": "Event",
"name": "ShipmentPrepared",
"terms": "order_id"
},
{
"context": "Sales",
"description": "",
"href": "external-systems/payment-gateway.html",
"kind": "External system",
"name": "PaymentGateway",
"terms": ""
},
{
"context": "Sales",
"description": "Payment confirmations settle the order they belong to.",
"href": "policies/mark-paid-when-payment-received.html",
"kind": "Policy",
"name": "MarkPaidWhenPaymentReceived",
"terms": ""
},
{
"context": "Shipping",
"description": "",
"href": "policies/prepare-shipment-when-order-paid.html",
"kind": "Policy",
"name": "PrepareShipmentWhenOrderPaid",
"terms": ""
},
{
"context": "Sales",
"description": "Every order at a glance, by order_id.",
"href": "read-models/order-summary.html",
"kind": "Read model",
"name": "OrderSummary",
"terms": "order_id status total"
},
{
"context": "Shipping",
"description": "",
"href": "read-models/parcel-tracking.html",
"kind": "Read model",
"name": "ParcelTracking",
"terms": "order_id tracking_code"
},
{
"context": "Sales",
"description": "",
"href": "types/order-line.html",
"kind": "Value object",
"name": "OrderLine",
"terms": "sku quantity price"
},
{
"context": "Sales",
"description": "",
"href": "types/order-status.html",
"kind": "Enum",
"name": "OrderStatus",
"terms": "new paid shipped cancelled"
}
];
