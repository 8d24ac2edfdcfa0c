"""The PrepareShipmentWhenOrderPaid policy: which commands an event leads to.

aether-gen created this file once and never overwrites it.
"""

import typing
from collections.abc import Sequence

from aether.kit import Dispatch, Event

from ..bases import PrepareShipmentWhenOrderPaidBase
from ..commands import PrepareShipment
from ..events import OrderPaid


# final: mypy then reports a missing method here, at the class, not where it is used.
@typing.final
class PrepareShipmentWhenOrderPaid(PrepareShipmentWhenOrderPaidBase):
    def on_order_paid(
        self, event: OrderPaid, envelope: Event
    ) -> Sequence[Dispatch[PrepareShipment]]:
        # One shipment per order: the command names it (Shipment's id is order_id), and
        # its actor id, "shipment-<order_id>", never collides with the order's.
        command = PrepareShipment(order_id=event.order_id)
        return [Dispatch(command.target_actor_id(), command)]
