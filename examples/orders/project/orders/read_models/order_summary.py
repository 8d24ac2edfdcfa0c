"""The OrderSummary read model: a view kept up to date from events.

aether-gen created this file once and never overwrites it.
``self.rows`` maps each key to its row, which get(key) and all() read; the key is
the events' field order_id.
Keep it, or store the view wherever your queries need it (and override the queries of
the base class too).
"""

import typing

from aether import kit

from ..bases import OrderSummaryBase
from ..events import OrderCancelled, OrderPaid, OrderPlaced
from ..types import OrderStatus


# final: mypy then reports a missing method here, at the class, not where it is used.
@typing.final
class OrderSummary(OrderSummaryBase):
    def on_order_placed(self, event: OrderPlaced, envelope: kit.Event) -> None:
        row = self.row_for(event.order_id)
        self.rows[event.order_id] = row.evolve(status=OrderStatus.NEW, total=event.total)

    def on_order_paid(self, event: OrderPaid, envelope: kit.Event) -> None:
        row = self.row_for(event.order_id)
        self.rows[event.order_id] = row.evolve(status=OrderStatus.PAID)

    def on_order_cancelled(self, event: OrderCancelled, envelope: kit.Event) -> None:
        row = self.row_for(event.order_id)
        self.rows[event.order_id] = row.evolve(status=OrderStatus.CANCELLED)
