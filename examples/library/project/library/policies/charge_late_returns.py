"""The ChargeLateReturns policy: which commands an event leads to.

aether-gen created this file once and never overwrites it.
"""

import typing
from collections.abc import Sequence
from decimal import Decimal

from aether.kit import Dispatch, Event

from ..bases import ChargeLateReturnsBase
from ..commands import ChargeLateFee
from ..events import BookReturnedLate


# final: mypy then reports a missing method here, at the class, not where it is used.
@typing.final
class ChargeLateReturns(ChargeLateReturnsBase):
    def on_book_returned_late(
        self, event: BookReturnedLate, envelope: Event
    ) -> Sequence[Dispatch[ChargeLateFee]]:
        fee = Decimal("0.50") * event.days_late
        command = ChargeLateFee(member_id=event.member_id, amount=fee, days_late=event.days_late)
        return [Dispatch(command.target_actor_id(), command)]
