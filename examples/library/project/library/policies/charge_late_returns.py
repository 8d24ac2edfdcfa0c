"""The ChargeLateReturns policy: which commands an event leads to.

aether-gen created this file once and never overwrites it.
"""

from collections.abc import Sequence
from decimal import Decimal

from aether.kit import Dispatch, Event

from ..bases import ChargeLateReturnsBase
from ..commands import ChargeLateFee
from ..events import BookReturnedLate


class ChargeLateReturns(ChargeLateReturnsBase):
    def on_book_returned_late(
        self, event: BookReturnedLate, envelope: Event
    ) -> Sequence[Dispatch[ChargeLateFee]]:
        fee = Decimal("0.50") * event.days_late
        return [Dispatch(f"account-{event.member_id}",
                         ChargeLateFee(amount=fee, days_late=event.days_late))]
