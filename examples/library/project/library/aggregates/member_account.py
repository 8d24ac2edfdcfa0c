"""The MemberAccount aggregate: your decisions and state changes.

aether-gen created this file once and never overwrites it. Each handler checks the
state and records events (or raises DomainError); each apply method returns the
state after its event, and must not fail for a stored event.
"""

import typing

from aether.kit import DomainError

from ..bases import MemberAccountBase, MemberAccountState
from ..commands import ChargeLateFee, PayFees
from ..events import FeesPaid, LateFeeCharged


# final: mypy then reports a missing method here, at the class, not where it is used.
@typing.final
class MemberAccount(MemberAccountBase):
    def handle_charge_late_fee(self, command: ChargeLateFee) -> None:
        self.record(LateFeeCharged(amount=command.amount, days_late=command.days_late))

    def handle_pay_fees(self, command: PayFees) -> None:
        if command.amount <= 0:
            raise DomainError("a payment must be positive")
        if command.amount > self.state.balance:
            raise DomainError(f"member {self.id} owes only {self.state.balance}")
        self.record(FeesPaid(amount=command.amount))

    def apply_late_fee_charged(self, event: LateFeeCharged) -> MemberAccountState:
        return self.state.evolve(balance=self.state.balance + event.amount,
                                 charges=self.state.charges + 1)

    def apply_fees_paid(self, event: FeesPaid) -> MemberAccountState:
        return self.state.evolve(balance=self.state.balance - event.amount)
