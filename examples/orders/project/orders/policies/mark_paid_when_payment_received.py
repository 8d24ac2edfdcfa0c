"""The MarkPaidWhenPaymentReceived policy: which commands an event leads to.

aether-gen created this file once and never overwrites it.
"""

import typing
from collections.abc import Sequence

from aether.kit import Dispatch, Event

from ..bases import MarkPaidWhenPaymentReceivedBase
from ..commands import MarkOrderPaid
from ..events import PaymentReceived


# final: mypy then reports a missing method here, at the class, not where it is used.
@typing.final
class MarkPaidWhenPaymentReceived(MarkPaidWhenPaymentReceivedBase):
    def on_payment_received(
        self, event: PaymentReceived, envelope: Event
    ) -> Sequence[Dispatch[MarkOrderPaid]]:
        command = MarkOrderPaid(order_id=event.order_id, payment_id=event.payment_id,
                                amount=event.amount)
        return [Dispatch(command.target_actor_id(), command)]
