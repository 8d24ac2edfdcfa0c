"""Commands per second through the router on JetStream, with 1, 10 and 100 concurrent senders.

Ours: the orders example's ``make_router`` on a ``JetStreamEventStore`` (one local
nats-server, file storage, one connection). Every sender works on aggregates of its own:
it places an order (a new aggregate: load finds nothing, one event saved), then pays it
(an existing aggregate: one event loaded, one saved), and so on for its next order.

Baseline: raw nats-py doing the same round trips at the same concurrency: for each command
a direct get of the actor's last message, then ``js.publish`` of the same JSON with the
same headers (message id, version, expected last subject sequence), on the same server.
Runs alternate between ours and the baseline, each keeping its best.

``--profile`` prints a cProfile summary of ours at the highest concurrency instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import pstats
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import nats
from nats.aio.client import Client

from aether.router import CommandRouter
from aether.store import JetStreamEventStore
from aether.testing import NatsServer
from bench.table import Row, print_table
from examples.orders.project.orders.app import make_router
from examples.orders.project.orders.commands import MarkOrderPaid, PlaceOrder
from examples.orders.project.orders.types import OrderLine

CONCURRENCY = (1, 10, 100)
COMMANDS = {1: 300, 10: 1_000, 100: 2_000}
REPEATS = 3
LINES = [OrderLine(sku="A-1", quantity=2, price=Decimal("4.50"))]
API = "$JS.API.DIRECT.GET"


class _Rounds:
    """A fresh id prefix per run, so every run starts on new aggregates."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> str:
        self.count += 1
        return f"r{self.count}"


def _ours(router: CommandRouter, senders: int, orders: int, rounds: _Rounds
          ) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        prefix = rounds.next()

        async def sender(index: int) -> None:
            for order in range(orders):
                order_id = f"{prefix}-s{index}-o{order}"
                actor_id = f"order-{order_id}"  # the order's own: see PlaceOrder.target_actor_id
                await router.send(actor_id, PlaceOrder(order_id=order_id, customer_id="c-1",
                                                       lines=LINES))
                await router.send(actor_id, MarkOrderPaid(order_id=order_id,
                                                          payment_id=f"p-{order}",
                                                          amount=Decimal("9.00")))

        await asyncio.gather(*(sender(index) for index in range(senders)))
    return run


def _raw(nc: Client, store: JetStreamEventStore, payloads: list[bytes], senders: int,
         orders: int, rounds: _Rounds) -> Callable[[], Awaitable[None]]:
    js = nc.jetstream()
    stream = store.stream_name

    async def run() -> None:
        prefix = rounds.next()

        async def sender(index: int) -> None:
            for order in range(orders):
                subject = store.event_subject(f"order-{prefix}-s{index}-o{order}")
                for version, payload in enumerate(payloads, start=1):
                    last = await nc.request(f"{API}.{stream}.{subject}", b"", timeout=5)
                    expected = (last.headers or {}).get("Nats-Sequence", "0")
                    await js.publish(subject, payload, headers={
                        "Nats-Msg-Id": str(uuid4()), "Aether-Version": str(version),
                        "Nats-Expected-Last-Subject-Sequence": expected,
                    })

        await asyncio.gather(*(sender(index) for index in range(senders)))
    return run


async def _same_json(nc: Client) -> list[bytes]:
    """The JSON our router stores for one order and its payment, for the raw client."""
    store = await JetStreamEventStore.create(nc, "bench_json")
    router = make_router(store)
    placed = await router.send("order-o", PlaceOrder(order_id="o", customer_id="c-1", lines=LINES))
    paid = await router.send("order-o", MarkOrderPaid(order_id="o", payment_id="p-0",
                                                      amount=Decimal("9.00")))
    return [event.model_dump_json().encode() for event in placed + paid]


async def _compare(ours: Callable[[], Awaitable[None]], raw: Callable[[], Awaitable[None]],
                   commands: int) -> tuple[float, float]:
    best = {"ours": float("inf"), "raw": float("inf")}
    for _ in range(REPEATS):
        for name, run in (("ours", ours), ("raw", raw)):
            start = time.perf_counter()
            await run()
            best[name] = min(best[name], time.perf_counter() - start)
    return commands / best["ours"], commands / best["raw"]


@contextlib.asynccontextmanager
async def jetstream_sides(
    name: str,
) -> AsyncIterator[tuple[Client, CommandRouter, JetStreamEventStore, list[bytes]]]:
    """A nats-server of its own and one connection: our router on one stream, the raw
    client's stream, and the JSON the raw client sends."""
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(store_dir=Path(tmp), name=name).start()
        try:
            nc = await nats.connect(server.url)
            router = make_router(await JetStreamEventStore.create(nc, "bench_router"))
            raw_store = await JetStreamEventStore.create(nc, "bench_raw")
            yield nc, router, raw_store, await _same_json(nc)
            await nc.drain()
        finally:
            server.stop()


async def _run(profile: bool) -> None:
    async with jetstream_sides("bench") as (nc, router, raw_store, payloads):
        rounds = _Rounds()
        if profile:
            senders = CONCURRENCY[-1]
            run = _ours(router, senders, COMMANDS[senders] // senders // 2, rounds)
            await run()  # warm up
            profiler = cProfile.Profile()
            profiler.enable()
            await run()
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(45)
            return
        rows = []
        for senders in CONCURRENCY:
            orders = COMMANDS[senders] // senders // 2
            ours, raw = await _compare(
                _ours(router, senders, orders, rounds),
                _raw(nc, raw_store, payloads, senders, orders, rounds),
                senders * orders * 2,
            )
            rows.append(Row(f"commands/s, {senders} concurrent sender(s)", ours, raw))
        print_table(
            "Commands through the router on JetStream (one local nats-server, file "
            "storage, one connection)",
            "raw nats-py: direct get of the actor's last message + js.publish of the same "
            "JSON and headers, same concurrency, same run",
            rows,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench concurrency")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile summary of ours at the highest concurrency")
    args = parser.parse_args(argv or [])
    asyncio.run(_run(args.profile))
