"""The MarkPaidWhenPaymentReceived policy: which commands an event leads to.

aether-gen created this file once and never overwrites it.
"""

from collections.abc import Sequence

from aether.kit import Dispatch, Event

from ..bases import MarkPaidWhenPaymentReceivedBase
from ..commands import MarkOrderPaid
from ..events import PaymentReceived


class MarkPaidWhenPaymentReceived(MarkPaidWhenPaymentReceivedBase):
    def on_payment_received(
        self, event: PaymentReceived, envelope: Event
    ) -> Sequence[Dispatch[MarkOrderPaid]]:
        return [Dispatch(event.order_id, MarkOrderPaid(
            payment_id=event.payment_id,
            amount=event.amount,
        ))]
