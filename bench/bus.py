"""NATSEventBus vs raw nats-py publish/subscribe of the same JSON payloads, one nats-server.

- throughput: events/s from one publisher until every subscriber has every event, to 1
  subscriber, to 10 subscribers on one remote node (one connection) and to 10 remote nodes
  (a connection each). Ours encodes each Event to JSON and decodes it back into an Event once
  per node; the baseline publishes the same pre-encoded JSON with the same headers and counts
  the messages in nats-py callbacks (one nats-py subscription per subscriber).
- the same 1-subscriber run against a hand-written JSON client: json.dumps on publish,
  json.loads on receipt (what any user of raw nats-py does with JSON).
- latency: one event at a time, publish to receipt by one remote subscriber (p50, p99).
Target (issue 11): throughput >= 0.7x raw.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

from aether import Event, NATSEventBus, Subscription
from aether.nats_eventbus import INSTANCE_HEADER, NODE_HEADER
from aether.testing import NatsServer
from bench.table import Row, compare_async, print_table

NAMESPACE = "tenant-bench"


def _event(version: int) -> Event:
    return Event(id=str(uuid4()), event_type="OrderPlaced", actor_id=f"order-{version % 97}",
                 version=version, data={"total": 12.5, "lines": [{"sku": "TEA-1", "qty": 2}],
                                        "note": "x" * 40},
                 timestamp=datetime.now(UTC), metadata={"correlation_id": str(uuid4())})


@dataclass
class _Tally:
    """Counts what each subscriber received in the current run."""

    subscribers: int
    target: int = 0
    counts: list[int] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def reset(self, target: int) -> None:
        self.target, self.counts, self.done = target, [0] * self.subscribers, asyncio.Event()

    def hit(self, index: int) -> None:
        self.counts[index] += 1
        if self.counts[index] == self.target and min(self.counts) == self.target:
            self.done.set()


async def _connections(url: str, count: int) -> list[Client]:
    return [await nats.connect(url) for _ in range(count)]


async def _throughput(url: str, nodes: int, per_node: int, events: list[Event],
                      repeats: int, with_json: bool = False) -> Row:
    """``nodes`` subscribing connections with ``per_node`` subscriptions each; ``with_json``
    makes the baseline json.dumps each event's dict on publish and json.loads it on receipt."""
    count, subscribers = len(events), nodes * per_node
    publisher_nc, *subscriber_ncs = await _connections(url, nodes + 1)
    publisher = NATSEventBus(publisher_nc, node_id="publisher")
    buses = [NATSEventBus(nc, node_id=f"s{i}") for i, nc in enumerate(subscriber_ncs)]
    ours, raw = _Tally(subscribers), _Tally(subscribers)
    readers = []
    for index in range(subscribers):
        subscription = await buses[index % nodes].subscribe(NAMESPACE, max_pending=count)

        async def read(subscription: Subscription = subscription, index: int = index) -> None:
            async for _ in subscription:
                ours.hit(index)

        readers.append(asyncio.create_task(read()))

    subject = publisher.subject(NAMESPACE) + "-raw"
    headers = {NODE_HEADER: "publisher", INSTANCE_HEADER: uuid4().hex[:12]}
    payloads = [event.model_dump_json().encode() for event in events]
    dicts = [event.model_dump(mode="json") for event in events]
    for index in range(subscribers):
        async def count_raw(message: Msg, index: int = index) -> None:
            if with_json:
                json.loads(message.data)
            raw.hit(index)

        await subscriber_ncs[index % nodes].subscribe(subject, cb=count_raw)
    for nc in subscriber_ncs:
        await nc.flush()
        await nc.flush()  # nats-py's PING overtakes buffered SUBs: the second round trip counts

    async def ours_run() -> None:
        ours.reset(count)
        for event in events:
            await publisher.publish(NAMESPACE, event)
        await asyncio.wait_for(ours.done.wait(), 120)

    async def raw_run() -> None:
        raw.reset(count)
        if with_json:
            for data in dicts:
                await publisher_nc.publish(subject, json.dumps(data).encode(), headers=headers)
        else:
            for payload in payloads:
                await publisher_nc.publish(subject, payload, headers=headers)
        await asyncio.wait_for(raw.done.wait(), 120)

    rates = await compare_async(count, ours_run, raw_run, repeats)
    for task in readers:
        task.cancel()
    for bus in [publisher, *buses]:
        await bus.close()
    for nc in [publisher_nc, *subscriber_ncs]:
        await nc.close()
    if subscribers == 1:
        return Row("events/s, 1 publisher -> 1 subscriber", *rates)
    where = "1 remote node" if nodes == 1 else f"{nodes} remote nodes"
    return Row(f"events/s, 1 -> {subscribers} subscribers, {where}", *rates)


async def _latencies(samples: int, send: Callable[[int], Awaitable[None]],
                     received: asyncio.Queue[float]) -> list[float]:
    latencies = []
    for index in range(samples):
        started = time.perf_counter()
        await send(index)
        latencies.append(await asyncio.wait_for(received.get(), 30) - started)
    return latencies


async def _latency(url: str, samples: int) -> list[Row]:
    publisher_nc, subscriber_nc = await _connections(url, 2)
    publisher = NATSEventBus(publisher_nc)
    receiver = NATSEventBus(subscriber_nc)
    subscription = await receiver.subscribe(NAMESPACE)
    ours_times: asyncio.Queue[float] = asyncio.Queue()
    raw_times: asyncio.Queue[float] = asyncio.Queue()

    async def read() -> None:
        async for _ in subscription:
            ours_times.put_nowait(time.perf_counter())

    reader = asyncio.create_task(read())

    async def on_raw(_: Msg) -> None:
        raw_times.put_nowait(time.perf_counter())

    subject = publisher.subject(NAMESPACE) + "-raw"
    await subscriber_nc.subscribe(subject, cb=on_raw)
    await subscriber_nc.flush()
    await subscriber_nc.flush()  # see _throughput
    events = [_event(v) for v in range(1, samples + 1)]
    payloads = [event.model_dump_json().encode() for event in events]
    headers = {NODE_HEADER: "publisher", INSTANCE_HEADER: uuid4().hex[:12]}

    async def ours_send(index: int) -> None:
        await publisher.publish(NAMESPACE, events[index])

    async def raw_send(index: int) -> None:
        await publisher_nc.publish(subject, payloads[index], headers=headers)

    ours, raw = [], []
    for _ in range(3):  # alternate, so drift on a shared machine hits both alike
        ours += await _latencies(samples // 3, ours_send, ours_times)
        raw += await _latencies(samples // 3, raw_send, raw_times)
    reader.cancel()
    await publisher.close()
    await receiver.close()
    await publisher_nc.close()
    await subscriber_nc.close()
    micro = 1e6
    return [
        Row("publish-to-receive latency p50", statistics.median(ours) * micro,
            statistics.median(raw) * micro, "us"),
        Row("publish-to-receive latency p99", _p99(ours) * micro, _p99(raw) * micro, "us"),
    ]


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


async def _run(events: int, samples: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(store_dir=Path(tmp), name="bench", jetstream=False).start()
        try:
            batch = [_event(v) for v in range(1, events + 1)]
            tenth = batch[: events // 10]
            rows = [await _throughput(server.url, 1, 1, batch, repeats),
                    await _throughput(server.url, 1, 10, tenth, repeats),
                    await _throughput(server.url, 10, 1, tenth, repeats)]
            print_table("NATSEventBus, one local nats-server, every node on its own connection",
                        "raw nats-py publish/subscribe of the same JSON payloads and headers, "
                        "bytes untouched, same run; target >= 0.7x", rows)
            print_table("NATSEventBus vs a hand-written JSON client",
                        "raw nats-py publish/subscribe with json.dumps of the event's dict on "
                        "publish and json.loads on receipt, same headers, same run",
                        [await _throughput(server.url, 1, 1, batch, repeats, with_json=True)])
            print_table("NATSEventBus latency, one event at a time (lower is better)",
                        "the same raw nats-py publish/subscribe", await _latency(server.url,
                                                                                 samples))
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench bus")
    parser.add_argument("--events", type=int, default=20_000,
                        help="events per throughput run (the 10-subscriber runs send a tenth)")
    parser.add_argument("--samples", type=int, default=1_500, help="latency samples per side")
    parser.add_argument("--repeats", type=int, default=5, help="runs per side; best is kept")
    args = parser.parse_args(argv or [])
    asyncio.run(_run(args.events, args.samples, args.repeats))
