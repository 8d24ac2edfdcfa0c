"""The library example, running: loans, a conflict, late fees by policy, the clock starting
a day and a policy reading the daily sheet, a snapshot, views.

    python -m examples.run --example library               # embedded in-memory store
    python -m examples.run --example library --jetstream   # JetStream, on a nats-server it starts

(run by hand: PYTHONPATH=examples python examples/library/project/demo.py [--jetstream])
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import date
from decimal import Decimal

from demo_support import describe_store, local_event_store
from library.aggregates.loan import Loan
from library.aggregates.member_account import MemberAccount
from library.app import make_policies, make_read_models, make_router
from library.commands import BorrowBook, PayFees, ReturnBook
from library.events import DayStarted, registry
from library.external import Clock
from library.read_models.balances import Balances
from library.read_models.daily_sheet import DailySheet
from library.read_models.lending_totals import LendingTotals
from library.read_models.loans_by_member import LoansByMember

from aether import (
    ActorSnapshot,
    DomainError,
    Event,
    EventBus,
    Repository,
    SnapshotStore,
    VersionConflictError,
    settle,
)
from aether.aggregate import SNAPSHOT_COMMANDS
from aether.store import InMemoryEventStore, JetStreamEventStore

NAMESPACE = "city-library"


def state_of(snapshot: ActorSnapshot) -> dict[str, object]:
    """The aggregate's state in a snapshot, without the command ids the runtime keeps there."""
    return {key: value for key, value in snapshot.state.items() if key != SNAPSHOT_COMMANDS}


def show(events: list[Event]) -> None:
    for event in events:
        print(f"     {event.actor_id} v{event.version} {event.event_type} {event.data}")


async def tour(store: InMemoryEventStore | JetStreamEventStore, snapshots: SnapshotStore,
               ) -> None:
    bus = EventBus()
    router = make_router(store, bus=bus, namespace=NAMESPACE, snapshot_store=snapshots,
                         snapshot_every=2)
    # MarkOverdueLoans reads the daily sheet: it gets the instance settle keeps up to date.
    read_models = make_read_models()
    policies = make_policies(read_models)

    async def react() -> None:
        for event, policy in await settle(store, registry, router, policies, read_models):
            print(f"     policy {type(policy).__name__} reacted to {event.event_type}")

    print("1. Ada borrows a book, due on 1 March")
    show(await router.send("loan-1", BorrowBook(member_id="ada", isbn="978-0-14",
                                                due=date(2026, 3, 1))))
    await react()

    print("2. A loan is opened once: borrowing on it again is refused")
    try:
        await router.send("loan-1", BorrowBook(member_id="bob", isbn="978-0-14",
                                               due=date(2026, 3, 2)))
    except DomainError as refused:
        print(f"     DomainError: {refused}")

    print("3. Two librarians take the book back at once: one wins, one conflicts")
    loans = Repository(store, Loan, registry, bus=bus, namespace=NAMESPACE)
    first, second = await loans.load("loan-1"), await loans.load("loan-1")
    first.handle(ReturnBook(returned_on=date(2026, 3, 4)))
    second.handle(ReturnBook(returned_on=date(2026, 3, 4)))
    show(await loans.save(first))
    try:
        await loans.save(second)
    except VersionConflictError as conflict:
        print(f"     {conflict}")

    print("4. It came back three days late: a policy charges the fee")
    await react()
    show(await store.get_events("account-ada"))

    print("5. Paying more than owed is refused; paying what is owed works")
    try:
        await router.send("account-ada", PayFees(member_id="ada", amount=Decimal("5.00")))
    except DomainError as refused:
        print(f"     DomainError: {refused}")
    show(await router.send("account-ada", PayFees(member_id="ada", amount=Decimal("1.50"))))
    await react()

    print("6. Bob's loan is due on 2 March; the clock starts 3 March: a policy reads the")
    print("   daily sheet and marks the loan overdue (once: the next day finds it marked)")
    show(await router.send("loan-2", BorrowBook(member_id="bob", isbn="978-0-30",
                                                due=date(2026, 3, 2))))
    clock = Clock(store, bus=bus, namespace=NAMESPACE)
    for day in (date(2026, 3, 3), date(2026, 3, 4)):
        show([await clock.record(DayStarted(day=day), key=day.isoformat())])
        await react()
    show(await store.get_events("loan-2", from_version=2))

    print("7. Loading from a snapshot (one every 2 versions)")
    accounts = Repository(store, MemberAccount, registry)
    snapshot = await snapshots.get_latest_snapshot("account-ada")
    assert snapshot is not None
    loaded = await accounts.load("account-ada")
    print(f"     snapshot of account-ada at v{snapshot.version}: {state_of(snapshot)}; loaded at "
          f"v{loaded.version}, balance {loaded.state.balance}")

    print("8. Read models, kept up to date from the store's feed")
    for view in read_models:
        if isinstance(view, LoansByMember | DailySheet | Balances):
            for key, row in sorted(view.rows.items()):
                print(f"     {type(view).__name__}[{key}] = {row.model_dump(mode='json')}")
        elif isinstance(view, LendingTotals):  # one row for the whole library
            print(f"     LendingTotals = {view.current().model_dump(mode='json')}")
    await bus.close()


async def main_async(use_jetstream: bool) -> None:
    async with local_event_store("loans", NAMESPACE, use_jetstream) as store:
        print(f"Store: {describe_store(store)}")
        await tour(store, store)


def main() -> None:
    parser = argparse.ArgumentParser(description="The library example, end to end.")
    parser.add_argument("--jetstream", action="store_true",
                        help="run on NATS JetStream (starts a local nats-server)")
    asyncio.run(main_async(parser.parse_args().jetstream))


if __name__ == "__main__":
    main()
