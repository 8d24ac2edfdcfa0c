"""A small hand-written domain, shaped like generated code, for runtime tests."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel

from aether import AggregateRoot, DomainError, EventPayload, EventRegistry


class AccountOpened(EventPayload):
    event_type: ClassVar[str] = "AccountOpened"
    owner: str


class MoneyDeposited(EventPayload):
    event_type: ClassVar[str] = "MoneyDeposited"
    amount: Decimal


class MoneyWithdrawn(EventPayload):
    event_type: ClassVar[str] = "MoneyWithdrawn"
    amount: Decimal


class AccountState(BaseModel):
    owner: str = ""
    balance: Decimal = Decimal(0)
    movements: int = 0


class Account(AggregateRoot[AccountState]):
    @classmethod
    def initial_state(cls) -> AccountState:
        return AccountState()

    def open(self, owner: str) -> None:
        if self.state.owner:
            raise DomainError(f"account {self.id} is already open")
        self.record(AccountOpened(owner=owner))

    def deposit(self, amount: Decimal) -> None:
        self.record(MoneyDeposited(amount=amount))

    def withdraw(self, amount: Decimal) -> None:
        if amount > self.state.balance:
            raise DomainError(f"insufficient funds: balance {self.state.balance}")
        self.record(MoneyWithdrawn(amount=amount))

    def apply(self, event: EventPayload) -> None:
        state = self.state
        if isinstance(event, AccountOpened):
            self.state = state.model_copy(update={"owner": event.owner})
        elif isinstance(event, MoneyDeposited):
            self.state = state.model_copy(
                update={"balance": state.balance + event.amount, "movements": state.movements + 1}
            )
        elif isinstance(event, MoneyWithdrawn):
            self.state = state.model_copy(
                update={"balance": state.balance - event.amount, "movements": state.movements + 1}
            )


def registry() -> EventRegistry:
    return EventRegistry([AccountOpened, MoneyDeposited, MoneyWithdrawn])
