"""What a command costs end to end on the in-memory store, against the eventsourcing library.

Ours: the orders example's generated package (examples/orders), its ``make_router`` on an
``InMemoryEventStore``: command validation, load, decide, ``Event`` built through the
registry, append. Theirs: ``eventsourcing``'s ``Application`` (its default POPO recorder)
with an ``Aggregate`` that makes the same decisions on the same data. Rows:

- a new order: one command, one event (ours ``router.send(id, PlaceOrder(...))``; theirs
  ``app.save(Order.place(...))``);
- load + command + save of an existing order (ours ``router.send(id, MarkOrderPaid(...))``;
  theirs ``app.repository.get``, ``order.mark_paid``, ``app.save``);
- building an event and appending it (ours the public ``Event(...)`` and
  ``store.save_event``; theirs ``StoredEvent(...)`` and ``POPOAggregateRecorder.insert_events``);
- the floor of the first two rows: the same commands' own pydantic work with no framework at
  all (the command built and validated, the handler's payload, the state evolved, the
  payload dumped to JSON data), against the same baseline: how far any framework whose
  commands, events and states are pydantic models could go.

Every run starts from a fresh store on both sides; ``--profile`` prints a cProfile summary
of ours instead of the table. Both sides are pure CPU work in this one process, so runs are
timed in process CPU time (``time.process_time``): on a shared machine, time spent waiting
for a core while other work runs does not count against either side.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent
from eventsourcing.popo import POPOAggregateRecorder

from aether import Event
from aether.event import STORED, decode_record, encode_record
from aether.router import CommandRouter
from aether.store import InMemoryEventStore
from bench import history
from bench.table import Row, print_table
from examples.orders.project.orders.app import make_router
from examples.orders.project.orders.bases import OrderState
from examples.orders.project.orders.commands import MarkOrderPaid, PlaceOrder
from examples.orders.project.orders.events import OrderPaid, OrderPlaced
from examples.orders.project.orders.types import OrderLine, OrderStatus

ORDERS = 2_000
EVENTS = 20_000
REPEATS = 7
LINES = [{"sku": "A-1", "quantity": 2, "price": "4.50"}, {"sku": "B-7", "quantity": 1,
                                                           "price": "12.00"}]


class EsOrder(Aggregate):
    """The orders example's Order as an eventsourcing aggregate: same decisions, same data."""

    @event("OrderPlaced")
    def __init__(self, customer_id: str, lines: list[dict[str, Any]], total: Decimal) -> None:
        self.customer_id = customer_id
        self.lines = lines
        self.total = total
        self.status = "new"

    @classmethod
    def place(cls, customer_id: str, lines: list[dict[str, Any]]) -> EsOrder:
        total = sum((Decimal(line["price"]) * line["quantity"] for line in lines), Decimal(0))
        return cls(customer_id=customer_id, lines=lines, total=total)

    def mark_paid(self, payment_id: str, amount: Decimal) -> None:
        if self.status == "cancelled":
            raise ValueError(f"order {self.id} is cancelled; refund payment {payment_id}")
        if self.status == "new":
            self._paid(payment_id=payment_id, amount=amount)

    @event("OrderPaid")
    def _paid(self, payment_id: str, amount: Decimal) -> None:
        self.status = "paid"


def place_order(order_id: str) -> PlaceOrder:
    # Built from plain data inside the timed loop, as a command arriving from outside is.
    return PlaceOrder(order_id=order_id, customer_id="c-1",
                      lines=[OrderLine.model_validate(line) for line in LINES])


async def _compare(
    ours: tuple[Callable[[], Any], Callable[[Any], Awaitable[None]]],
    theirs: tuple[Callable[[], Any], Callable[[Any], Awaitable[None]]],
    operations: int,
) -> tuple[float, float]:
    """Operations per second of ours and theirs: runs alternate so drift on a shared machine
    hits both alike, each on a freshly prepared state that is not timed; each side keeps
    its fastest run."""
    best = [float("inf"), float("inf")]
    for _ in range(REPEATS):
        for side, (prepare, run) in enumerate((ours, theirs)):
            state = prepare()
            gc.collect()  # each run starts from the same heap, not the last run's garbage
            start = time.process_time()
            await run(state)
            best[side] = min(best[side], time.process_time() - start)
    return operations / best[0], operations / best[1]


# ---- a new order ---------------------------------------------------------------------

async def ours_new_orders(router: CommandRouter) -> None:
    for index in range(ORDERS):
        await router.send(f"order-{index}", place_order(f"{index}"))


async def theirs_new_orders(app: Application[UUID]) -> None:
    for _ in range(ORDERS):
        app.save(EsOrder.place("c-1", [dict(line) for line in LINES]))


# ---- load + command + save on an existing order --------------------------------------

async def ours_pay(router: CommandRouter) -> None:
    for index in range(ORDERS):
        await router.send(f"order-{index}", MarkOrderPaid(order_id=f"{index}",
                                                          payment_id=f"p-{index}",
                                                          amount=Decimal("21.00")))


def theirs_placed() -> tuple[Application[UUID], list[UUID]]:
    app: Application[UUID] = Application()
    orders = [EsOrder.place("c-1", [dict(line) for line in LINES]) for _ in range(ORDERS)]
    app.save(*orders)
    return app, [order.id for order in orders]


async def theirs_pay(state: tuple[Application[UUID], list[UUID]]) -> None:
    app, ids = state
    for index, order_id in enumerate(ids):
        order: EsOrder = app.repository.get(order_id)
        order.mark_paid(f"p-{index}", Decimal("21.00"))
        app.save(order)


# ---- the floor: the commands' own pydantic work, no framework -------------------------

async def floor_new_orders(_: None) -> None:
    # What Order.handle_place_order and apply_order_placed do, and the dump of the event's
    # data every store needs; no load, no Event, no store.
    for index in range(ORDERS):
        command = place_order(f"{index}")
        total = sum((line.price * line.quantity for line in command.lines), Decimal(0))
        payload = OrderPlaced(order_id=command.order_id, customer_id=command.customer_id,
                              lines=command.lines, total=total)
        OrderState().evolve(customer_id=payload.customer_id, total=payload.total)
        payload.model_dump(mode="json")


async def floor_pay(_: None) -> None:
    state = OrderState(customer_id="c-1", total=Decimal("21.00"))
    for index in range(ORDERS):
        command = MarkOrderPaid(order_id=f"{index}", payment_id=f"p-{index}",
                                amount=Decimal("21.00"))
        if state.status is OrderStatus.NEW:
            payload = OrderPaid(order_id=command.order_id, payment_id=command.payment_id,
                                amount=command.amount)
            state.evolve(status=OrderStatus.PAID)
            payload.model_dump(mode="json")


def _nothing() -> None:
    return None


# ---- building an event and appending it ----------------------------------------------

ACTORS = 1_000


def ours_build_prepared() -> tuple[InMemoryEventStore, list[str], list[str]]:
    # Identifiers are made before the clock starts on both sides (theirs: originator UUIDs).
    return (InMemoryEventStore(), [str(uuid4()) for _ in range(EVENTS)],
            [f"actor-{index}" for index in range(ACTORS)])


async def ours_build_append(state: tuple[InMemoryEventStore, list[str], list[str]]) -> None:
    store, event_ids, actor_ids = state
    now = datetime.now(UTC)
    for index in range(EVENTS):
        await store.save_event(Event(
            id=event_ids[index], event_type="Happened", actor_id=actor_ids[index % ACTORS],
            version=index // ACTORS + 1, data={"n": index}, timestamp=now,
        ))


def theirs_build_prepared() -> tuple[POPOAggregateRecorder, list[UUID]]:
    return POPOAggregateRecorder(), [uuid4() for _ in range(ACTORS)]


async def theirs_build_append(state: tuple[POPOAggregateRecorder, list[UUID]]) -> None:
    recorder, ids = state
    for index in range(EVENTS):
        recorder.insert_events([StoredEvent(
            originator_id=ids[index % ACTORS], originator_version=index // ACTORS + 1,
            topic="bench:Happened", state=b'{"n": %d}' % index,
        )])


# ---- the table -----------------------------------------------------------------------

async def _placed_router(cache_size: int | None = None) -> CommandRouter:
    """A router (its default cache unless ``cache_size``) with every order placed."""
    store = InMemoryEventStore()
    router = make_router(store) if cache_size is None else make_router(store,
                                                                     cache_size=cache_size)
    await ours_new_orders(router)
    return router


async def _measure() -> list[Row]:
    # The default router keeps every order in its aggregate cache; the row without it
    # shows what a load that reads and replays the order's history costs.
    placed = [await _placed_router() for _ in range(REPEATS)]
    uncached = [await _placed_router(0) for _ in range(REPEATS)]
    return [
        Row("new order (1 command -> 1 event)", *await _compare(
            (lambda: make_router(InMemoryEventStore()), ours_new_orders),
            (Application[UUID], theirs_new_orders), ORDERS)),
        Row("load + command + save, existing order", *await _compare(
            (placed.pop, ours_pay), (theirs_placed, theirs_pay), ORDERS)),
        Row("the same, no aggregate cache (cache_size=0)", *await _compare(
            (uncached.pop, ours_pay), (theirs_placed, theirs_pay), ORDERS)),
        Row(f"command on a counter with {history.HISTORY} earlier events",
            *await history.compare(None)),
        Row("the same, no aggregate cache (cache_size=0)", *await history.compare(0)),
        Row("Event build + append (one per call)", *await _compare(
            (ours_build_prepared, ours_build_append),
            (theirs_build_prepared, theirs_build_append), EVENTS)),
        Row("floor: a new order's own pydantic work, no framework", *await _compare(
            (_nothing, floor_new_orders), (Application[UUID], theirs_new_orders), ORDERS)),
        Row("floor: an existing order's own pydantic work", *await _compare(
            (_nothing, floor_pay), (theirs_placed, theirs_pay), ORDERS)),
    ]


def rates(ours: Callable[[], object], theirs: Callable[[], object],
          count: int = 20_000) -> tuple[float, float]:
    """Calls per second of each side, by process CPU time: the best of REPEATS
    alternating rounds of ``count`` calls."""
    best = [float("inf"), float("inf")]
    for _ in range(REPEATS):
        for side, run in enumerate((ours, theirs)):
            gc.collect()
            start = time.process_time()
            for _ in range(count):
                run()
            best[side] = min(best[side], time.process_time() - start)
    return count / best[0], count / best[1]


def _per_event_rows() -> list[Row]:
    """One event's own costs: the checked pass (aether/records.py, decode_record, the JSON
    kept by encode_record) against pydantic's validation and serialization alone, the path
    every event took before (and still takes for anything unusual)."""
    fields: dict[str, Any] = {
        "id": str(uuid4()), "event_type": "OrderPlaced", "actor_id": "order-1", "version": 1,
        "data": {"customer_id": "c-1", "lines": LINES, "total": "21.00"},
        "timestamp": datetime.now(UTC),
        "metadata": {"schema_version": "1", "correlation_id": str(uuid4())},
    }
    event = Event(**fields)
    raw = event.model_dump_json().encode()
    encode_record(event)

    pairs: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        ("build an Event (constructor)", lambda: Event(**fields),
         lambda: Event.model_validate(fields)),
        ("decode a stored event (load path)",
         lambda: decode_record(Event, raw, stored=True),
         lambda: Event.model_validate_json(raw, context={STORED: True})),
        ("decode a received event (bus, every limit)",
         lambda: decode_record(Event, raw, stored=False),
         lambda: Event.model_validate_json(raw)),
        ("encode an event the store encoded (bus)", lambda: encode_record(event),
         lambda: event.model_dump_json().encode()),
    ]
    return [Row(name, *rates(ours, theirs)) for name, ours, theirs in pairs]


def _part_rows() -> list[Row]:
    """Build + append taken apart, each part alone: what a checked, frozen Event costs
    against the baseline's StoredEvent, and the appends without the builds."""
    now = datetime.now(UTC)
    event_id, originator = str(uuid4()), uuid4()

    fields_set = frozenset(Event.model_fields)
    put = object.__setattr__

    def unchecked() -> Event:
        # The object the constructor builds (its fields and the five slots it sets, as
        # aether/records.py does), with no check and nothing frozen: what an Event costs as
        # a plain record. (model_construct would do this too, at several times the cost.)
        record = object.__new__(Event)
        put(record, "__dict__", {"id": event_id, "event_type": "Happened",
                                "actor_id": "actor-1", "version": 1, "data": {"n": 5},
                                "timestamp": now, "metadata": {}})
        put(record, "__pydantic_fields_set__", fields_set)
        put(record, "__pydantic_extra__", None)
        put(record, "__pydantic_private__", None)
        put(record, "_aether_json", None)
        put(record, "_aether_checked", False)
        return record

    def stored() -> StoredEvent:
        return StoredEvent(originator_id=originator, originator_version=1,
                           topic="bench:Happened", state=b'{"n": %d}' % 5)

    rows = [
        Row("build: Event(...) vs StoredEvent(...)", *rates(
            lambda: Event(id=event_id, event_type="Happened", actor_id="actor-1", version=1,
                          data={"n": 5}, timestamp=now), stored)),
        Row("build: Event, no check, not frozen vs StoredEvent", *rates(unchecked, stored)),
    ]

    async def appends() -> tuple[float, float]:
        best = [float("inf"), float("inf")]
        for _ in range(REPEATS):
            store, event_ids, actor_ids = ours_build_prepared()
            events = [Event(id=event_ids[index], event_type="Happened",
                            actor_id=actor_ids[index % ACTORS], version=index // ACTORS + 1,
                            data={"n": index}, timestamp=now) for index in range(EVENTS)]
            recorder, ids = theirs_build_prepared()
            records = [StoredEvent(originator_id=ids[index % ACTORS],
                                   originator_version=index // ACTORS + 1,
                                   topic="bench:Happened", state=b'{"n": %d}' % index)
                       for index in range(EVENTS)]
            gc.collect()
            start = time.process_time()
            for one in events:
                await store.save_event(one)
            best[0] = min(best[0], time.process_time() - start)
            gc.collect()
            start = time.process_time()
            for record in records:
                recorder.insert_events([record])
            best[1] = min(best[1], time.process_time() - start)
        return EVENTS / best[0], EVENTS / best[1]

    rows.append(Row("append: save_event vs insert_events", *asyncio.run(appends())))

    async def unchecked_build_append(state: tuple[InMemoryEventStore, list[str], list[str]]
                                     ) -> None:
        # The main table's build + append loop with the Event built as unchecked() builds
        # it: what is left of ours when nothing is checked or frozen (the floor of that row
        # for any frozen pydantic Event, as DESIGN.md has it).
        store, event_ids, actor_ids = state
        for index in range(EVENTS):
            record = object.__new__(Event)
            put(record, "__dict__", {
                "id": event_ids[index], "event_type": "Happened",
                "actor_id": actor_ids[index % ACTORS], "version": index // ACTORS + 1,
                "data": {"n": index}, "timestamp": now, "metadata": {}})
            put(record, "__pydantic_fields_set__", fields_set)
            put(record, "__pydantic_extra__", None)
            put(record, "__pydantic_private__", None)
            put(record, "_aether_json", None)
            put(record, "_aether_checked", True)
            await store.save_event(record)

    rows.append(Row("build + append, Event no check, not frozen", *asyncio.run(_compare(
        (ours_build_prepared, unchecked_build_append),
        (theirs_build_prepared, theirs_build_append), EVENTS))))
    return rows


async def _profile() -> None:
    profile = cProfile.Profile()
    for _ in range(3):
        router = make_router(InMemoryEventStore())
        profile.enable()
        await ours_new_orders(router)
        await ours_pay(router)
        await ours_build_append(ours_build_prepared())
        profile.disable()
    pstats.Stats(profile).sort_stats("tottime").print_stats(30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench app")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile summary of ours instead of the table")
    parser.add_argument("--parts", action="store_true",
                        help="only the table of build + append taken apart")
    args = parser.parse_args(argv or [])
    if args.profile:
        asyncio.run(_profile())
        return
    if not args.parts:
        _print_main()
    print_table(
        "Event build + append taken apart (one event, 20,000 times)",
        "eventsourcing StoredEvent(...) and POPOAggregateRecorder.insert_events, same run",
        _part_rows(),
    )


def _print_main() -> None:
    rows = asyncio.run(_measure())
    print_table(
        f"A command end to end, in-memory store ({ORDERS:,} orders, {EVENTS:,} events)",
        "eventsourcing Application + Aggregate on its POPO recorder; StoredEvent + "
        "POPOAggregateRecorder.insert_events, same run",
        rows,
    )
    print_table(
        "One event's own costs (an OrderPlaced with two lines and two metadata entries)",
        "the same event through pydantic's validation / serialization alone, same run",
        _per_event_rows(),
    )
