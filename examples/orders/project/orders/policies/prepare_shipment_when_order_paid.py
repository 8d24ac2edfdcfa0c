"""The PrepareShipmentWhenOrderPaid policy: which commands an event leads to.

aether-gen created this file once and never overwrites it.
"""

from collections.abc import Sequence

from aether.kit import Dispatch, Event

from ..bases import PrepareShipmentWhenOrderPaidBase
from ..commands import PrepareShipment
from ..events import OrderPaid


class PrepareShipmentWhenOrderPaid(PrepareShipmentWhenOrderPaidBase):
    def on_order_paid(
        self, event: OrderPaid, envelope: Event
    ) -> Sequence[Dispatch[PrepareShipment]]:
        # One shipment per order. Actor ids are per aggregate instance, so the shipment
        # gets an id of its own rather than the order's.
        order_id = envelope.actor_id
        return [Dispatch(f"shipment-{order_id}", PrepareShipment(order_id=order_id))]
