"""The Balances read model: a view kept up to date from events.

aether-gen created this file once and never overwrites it. ``self.rows`` maps an
actor id to its row; keep it, or store the view wherever your queries need it.
"""

import typing

from aether.kit import Event

from ..bases import BalancesBase, BalancesRow
from ..events import FeesPaid, LateFeeCharged


# final: mypy then reports a missing method here, at the class, not where it is used.
@typing.final
class Balances(BalancesBase):
    def on_late_fee_charged(self, event: LateFeeCharged, envelope: Event) -> None:
        row = self.rows.get(envelope.actor_id, BalancesRow())
        self.rows[envelope.actor_id] = row.evolve(balance=row.balance + event.amount)

    def on_fees_paid(self, event: FeesPaid, envelope: Event) -> None:
        row = self.rows.get(envelope.actor_id, BalancesRow())
        self.rows[envelope.actor_id] = row.evolve(balance=row.balance - event.amount)
