"""The OrderSummary read model: a view kept up to date from events.

aether-gen created this file once and never overwrites it. ``self.rows`` maps an
actor id to its row; keep it, or store the view wherever your queries need it.
"""

import typing

from aether.kit import Event

from ..bases import OrderSummaryBase, OrderSummaryRow
from ..events import OrderCancelled, OrderPaid, OrderPlaced
from ..types import OrderStatus


# final: mypy then reports a missing method here, at the class, not where it is used.
@typing.final
class OrderSummary(OrderSummaryBase):
    def on_order_placed(self, event: OrderPlaced, envelope: Event) -> None:
        row = self.rows.get(envelope.actor_id, OrderSummaryRow())
        self.rows[envelope.actor_id] = row.evolve(
            order_id=envelope.actor_id, status=OrderStatus.NEW, total=event.total)

    def on_order_paid(self, event: OrderPaid, envelope: Event) -> None:
        row = self.rows.get(envelope.actor_id, OrderSummaryRow())
        self.rows[envelope.actor_id] = row.evolve(status=OrderStatus.PAID)

    def on_order_cancelled(self, event: OrderCancelled, envelope: Event) -> None:
        row = self.rows.get(envelope.actor_id, OrderSummaryRow())
        self.rows[envelope.actor_id] = row.evolve(status=OrderStatus.CANCELLED)
