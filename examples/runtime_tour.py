"""A walk through the Aether runtime on the embedded in-memory store.

Run it with `make demo`. It saves events, provokes a version conflict, replays an
aggregate from a snapshot, and watches the bus deliver events by namespace.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel

from aether import (
    AggregateRoot,
    DomainError,
    EventBus,
    EventPayload,
    EventRegistry,
    Repository,
    VersionConflictError,
)
from aether.store import InMemoryEventStore


class AccountOpened(EventPayload):
    event_type: ClassVar[str] = "AccountOpened"
    owner: str


class MoneyDeposited(EventPayload):
    event_type: ClassVar[str] = "MoneyDeposited"
    amount: Decimal


class AccountState(BaseModel):
    owner: str = ""
    balance: Decimal = Decimal(0)


class Account(AggregateRoot[AccountState]):
    @classmethod
    def initial_state(cls) -> AccountState:
        return AccountState()

    def open(self, owner: str) -> None:
        if self.state.owner:
            raise DomainError(f"account {self.id} is already open")
        self.record(AccountOpened(owner=owner))

    def deposit(self, amount: Decimal) -> None:
        if amount <= 0:
            raise DomainError("deposits must be positive")
        self.record(MoneyDeposited(amount=amount))

    def apply(self, event: EventPayload) -> None:
        if isinstance(event, AccountOpened):
            self.state = self.state.model_copy(update={"owner": event.owner})
        elif isinstance(event, MoneyDeposited):
            balance = self.state.balance + event.amount
            self.state = self.state.model_copy(update={"balance": balance})


async def tour() -> None:
    store = InMemoryEventStore()
    bus = EventBus()
    audit = await bus.subscribe("bank")
    other_tenant = await bus.subscribe("insurance")
    registry = EventRegistry([AccountOpened, MoneyDeposited])
    accounts = Repository(
        store, Account, registry, snapshot_every=3, bus=bus, namespace="bank"
    )

    print("1. Commands become events, saved with per-actor versions")
    account = await accounts.load("acc-42")
    account.open("Ada")
    account.deposit(Decimal("100.00"))
    for event in await accounts.save(account):
        print(f"   v{event.version} {event.event_type} {event.data}")

    print("2. Two writers, one version: optimistic concurrency")
    first, second = await accounts.load("acc-42"), await accounts.load("acc-42")
    first.deposit(Decimal("5"))
    second.deposit(Decimal("7"))
    await accounts.save(first)
    try:
        await accounts.save(second)
    except VersionConflictError as conflict:
        print(f"   second writer refused: {conflict}")

    print("3. Business rules reject commands before anything is recorded")
    try:
        first.deposit(Decimal("-1"))
    except DomainError as refused:
        print(f"   {refused}")

    print("4. Replay: snapshot (every 3 versions) plus the events after it")
    snapshot = await store.get_latest_snapshot("acc-42")
    assert snapshot is not None
    print(f"   snapshot at v{snapshot.version}: {snapshot.state}")
    first.deposit(Decimal("20"))
    await accounts.save(first)
    replayed = await accounts.load("acc-42")
    print(f"   replayed v{replayed.version}: owner={replayed.state.owner} "
          f"balance={replayed.state.balance}")
    assert replayed.state == first.state

    print("5. The bus delivered each saved event to namespace 'bank' only")
    while audit.pending:
        event = await audit.get(timeout=1)
        print(f"   bank <- {event.actor_id} v{event.version} {event.event_type}")
    print(f"   insurance got {other_tenant.pending} events")
    await bus.close()


def main() -> None:
    asyncio.run(tour())


if __name__ == "__main__":
    main()
