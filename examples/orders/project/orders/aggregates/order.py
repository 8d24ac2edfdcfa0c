"""The Order aggregate: your decisions and state changes.

aether-gen created this file once and never overwrites it. Each handler checks the
state and records events (or raises DomainError); each apply method returns the
state after its event, and must not fail for a stored event.
"""

import typing
from decimal import Decimal

from aether.kit import DomainError

from ..bases import OrderBase, OrderState
from ..commands import CancelOrder, MarkOrderPaid, PlaceOrder
from ..events import OrderCancelled, OrderPaid, OrderPlaced
from ..types import OrderStatus


# final: mypy then reports a missing method here, at the class, not where it is used.
@typing.final
class Order(OrderBase):
    def handle_place_order(self, command: PlaceOrder) -> None:
        if self.version > 0:
            raise DomainError(f"order {self.id} was already placed")
        total = sum((line.price * line.quantity for line in command.lines), Decimal(0))
        self.record(OrderPlaced(order_id=command.order_id, customer_id=command.customer_id,
                                lines=command.lines, total=total))

    def handle_mark_order_paid(self, command: MarkOrderPaid) -> None:
        if self.state.status is OrderStatus.CANCELLED:
            raise DomainError(f"order {self.id} is cancelled; refund payment {command.payment_id}")
        if self.state.status is not OrderStatus.NEW:
            return  # paying twice changes nothing
        self.record(OrderPaid(order_id=command.order_id, payment_id=command.payment_id,
                              amount=command.amount))

    def handle_cancel_order(self, command: CancelOrder) -> None:
        if self.state.status is not OrderStatus.NEW:
            raise DomainError(f"order {self.id} is {self.state.status}: already paid or closed")
        self.record(OrderCancelled(order_id=command.order_id, reason=command.reason))

    def apply_order_placed(self, event: OrderPlaced) -> OrderState:
        return self.state.evolve(customer_id=event.customer_id, total=event.total)

    def apply_order_paid(self, event: OrderPaid) -> OrderState:
        return self.state.evolve(status=OrderStatus.PAID)

    def apply_order_cancelled(self, event: OrderCancelled) -> OrderState:
        return self.state.evolve(status=OrderStatus.CANCELLED)
