"""The orders example, running: commands, events, a conflict, a snapshot, policies, views.

    python -m examples.run --example orders               # embedded in-memory store
    python -m examples.run --example orders --jetstream   # JetStream, on a nats-server it starts

(run by hand: PYTHONPATH=examples python examples/orders/project/demo.py [--jetstream])
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from demo_support import describe_store, local_event_store
from orders.aggregates.order import Order
from orders.app import make_policies, make_reaction_runner, make_read_models, make_router
from orders.commands import CancelOrder, PlaceOrder, ShipParcel
from orders.events import PaymentReceived, registry
from orders.external import PaymentGateway
from orders.read_models.order_summary import OrderSummary
from orders.read_models.parcel_tracking import ParcelTracking
from orders.types import OrderLine

from aether import (
    ActorSnapshot,
    DomainError,
    Event,
    EventBus,
    InMemoryCheckpointStore,
    Repository,
    SnapshotStore,
    VersionConflictError,
    settle,
)
from aether.aggregate import SNAPSHOT_COMMANDS
from aether.store import InMemoryEventStore, JetStreamEventStore

NAMESPACE = "demo-shop"


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
    policies, read_models = make_policies(), make_read_models()

    async def react() -> None:
        for event, policy in await settle(store, registry, router, policies, read_models):
            print(f"     policy {type(policy).__name__} reacted to {event.event_type}")

    print("1. A customer places an order")
    lines = [OrderLine(sku="TEA-1", quantity=2, price=Decimal("4.50")),
             OrderLine(sku="MUG-2", quantity=1, price=Decimal("8.00"))]
    place = PlaceOrder(order_id="1", customer_id="ada", lines=lines)
    # Order declares `id: order_id`, so the command names its actor: "order-1".
    show(await router.send(place.target_actor_id(), place))
    await react()

    print("2. Two clerks cancel the same order at once: one wins, one conflicts")
    orders = Repository(store, Order, registry, bus=bus, namespace=NAMESPACE)
    first, second = await orders.load("order-1"), await orders.load("order-1")
    first.handle(CancelOrder(order_id="1", reason="duplicate"))
    second.handle(CancelOrder(order_id="1", reason="changed mind"))
    show(await orders.save(first))
    try:
        await orders.save(second)
    except VersionConflictError as conflict:
        print(f"     {conflict}")
    await react()

    print("3. A rule refuses a command: cancelled orders cannot be cancelled again")
    try:
        await router.send("order-1", CancelOrder(order_id="1", reason=None))
    except DomainError as refused:
        print(f"     DomainError: {refused}")

    print("4. The payment gateway reports a payment; policies take it from there")
    show(await router.send("order-2", PlaceOrder(order_id="2", customer_id="bob", lines=lines)))
    gateway = PaymentGateway(store, bus=bus, namespace=NAMESPACE)
    show([await gateway.record(
        PaymentReceived(order_id="2", payment_id="pay-9", amount=Decimal("17.00")),
        key="pay-9")])
    await react()
    show(await store.get_events("order-2", from_version=2))
    show(await store.get_events("shipment-2"))

    print("5. The warehouse ships the parcel")
    shipped_at = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
    ship = ShipParcel(order_id="2", tracking_code="TRK-42", shipped_at=shipped_at)
    show(await router.send(ship.target_actor_id(), ship))
    await react()

    print("6. Loading from a snapshot (one every 2 versions) instead of replaying it all")
    snapshot = await snapshots.get_latest_snapshot("order-2")
    assert snapshot is not None
    later = await store.get_events("order-2", from_version=snapshot.version + 1)
    print(f"     snapshot of order-2 at v{snapshot.version}: {state_of(snapshot)}; "
          f"{len(later)} event(s) after it")
    loaded = await orders.load("order-2")
    print(f"     order-2 loaded at v{loaded.version}: status={loaded.state.status}, "
          f"total={loaded.state.total}")

    print("7. Read models, kept up to date from the store's feed")
    for view in read_models:
        if isinstance(view, OrderSummary | ParcelTracking):
            for key, row in sorted(view.rows.items()):
                print(f"     {type(view).__name__}[{key}] = {row.model_dump(mode='json')}")

    print("8. In production a ReactionRunner follows the feed and keeps checkpoints")
    runner = make_reaction_runner(store, router, InMemoryCheckpointStore(), name="orders-demo")
    await runner.start()
    await runner.wait_caught_up()
    await router.send("order-3", PlaceOrder(order_id="3", customer_id="cy", lines=lines))
    await runner.wait_caught_up()
    await runner.stop()
    print(f"     runner caught up at position {runner.position} (lag {runner.lag}): "
          f"{runner.counters.processed} events handled, {runner.counters.parked} parked")
    await bus.close()


async def main_async(use_jetstream: bool) -> None:
    async with local_event_store("orders", NAMESPACE, use_jetstream) as store:
        print(f"Store: {describe_store(store)}")
        await tour(store, store)


def main() -> None:
    parser = argparse.ArgumentParser(description="The orders example, end to end.")
    parser.add_argument("--jetstream", action="store_true",
                        help="run on NATS JetStream (starts a local nats-server)")
    asyncio.run(main_async(parser.parse_args().jetstream))


if __name__ == "__main__":
    main()
