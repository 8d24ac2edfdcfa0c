"""NATSEventBus vs raw nats-py publish/subscribe of the same JSON payloads, one nats-server.

- throughput: events/s from one publisher until every subscriber has every event, to 1
  subscriber, to 10 subscribers on one remote node (one connection) and to 10 remote nodes
  (a connection each). Ours encodes each Event to JSON and decodes it back into an Event once
  per node; the baseline publishes the same pre-encoded JSON with the same headers and counts
  the messages in nats-py callbacks (one nats-py subscription per subscriber).
- the floor: the same raw client calling ``decode_record`` on each message, i.e. building the
  validated Event that any bus handing out Events must build, and nothing else.
- the same 1-subscriber run against a hand-written JSON client: json.dumps on publish,
  json.loads on receipt (what any user of raw nats-py does with JSON).
- latency: one event at a time, publish to receipt by one remote subscriber (p50, p99).

Runs of ours and the baseline alternate in one process; each side reports its median run,
and the spread of the per-round ratios is printed under each table. ``--profile`` prints
where the time of one 1 -> 1 run goes instead, ours and the raw client side by side.
Target (issue 11): throughput >= 0.7x raw.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import enum
import gc
import json
import pstats
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

from aether import Event, NATSEventBus, Subscription
from aether.event import decode_record
from aether.nats_eventbus import INSTANCE_HEADER, NODE_HEADER
from aether.testing import NatsServer
from bench.table import Row, print_table

NAMESPACE = "tenant-bench"


def _event(version: int) -> Event:
    return Event(id=str(uuid4()), event_type="OrderPlaced", actor_id=f"order-{version % 97}",
                 version=version, data={"total": 12.5, "lines": [{"sku": "TEA-1", "qty": 2}],
                                        "note": "x" * 40},
                 timestamp=datetime.now(UTC), metadata={"correlation_id": str(uuid4())})


class Baseline(enum.Enum):
    """What the raw nats-py subscriber does with each message it receives."""

    BYTES = "bytes untouched"
    DECODE = "decode_record into a validated Event"
    JSON = "json.loads (and json.dumps on publish)"


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


@dataclass
class Compared:
    ours: float
    baseline: float
    """Rates (operations/s) of each side's median run by wall time."""
    ratios: list[float]
    """ours/baseline of each round by wall time."""
    cpu_ratio: float
    """ours/baseline by this process's CPU time, median run of each side: every client runs
    in this process and the server in another, so what other processes on the machine take
    from it shows in wall time but hardly here."""


@dataclass
class Measured:
    row: Row
    compared: Compared


async def compare_median(count: int, ours: Callable[[], Awaitable[None]],
                         baseline: Callable[[], Awaitable[None]], repeats: int) -> Compared:
    """Runs alternating (ours first, then baseline, ``repeats`` rounds) so drift on a shared
    machine hits both alike; each side's median run."""
    walls: tuple[list[float], list[float]] = ([], [])
    cpus: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for side, run in enumerate((ours, baseline)):
            gc.collect()  # each run starts from a collected heap, not the other's garbage
            wall, cpu = time.perf_counter(), time.process_time()
            await run()
            walls[side].append(time.perf_counter() - wall)
            cpus[side].append(time.process_time() - cpu)
    ratios = [theirs / mine for mine, theirs in zip(*walls, strict=True)]
    return Compared(count / statistics.median(walls[0]), count / statistics.median(walls[1]),
                    ratios, statistics.median(cpus[1]) / statistics.median(cpus[0]))


@dataclass
class _Setup:
    """One publisher, ``nodes`` subscribing connections with ``per_node`` subscribers each,
    on our bus and on raw nats-py; ``ours`` and ``raw`` publish every event once and return
    when every subscriber has it."""

    ours: Callable[[], Awaitable[None]]
    raw: Callable[[], Awaitable[None]]
    close: Callable[[], Awaitable[None]]


async def _setup(url: str, nodes: int, per_node: int, events: list[Event],
                 baseline: Baseline) -> _Setup:
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
            if baseline is Baseline.DECODE:
                decode_record(Event, message.data, stored=False)
            elif baseline is Baseline.JSON:
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
        if baseline is Baseline.JSON:
            for data in dicts:
                await publisher_nc.publish(subject, json.dumps(data).encode(), headers=headers)
        else:
            for payload in payloads:
                await publisher_nc.publish(subject, payload, headers=headers)
        await asyncio.wait_for(raw.done.wait(), 120)

    async def close() -> None:
        for task in readers:
            task.cancel()
        for bus in [publisher, *buses]:
            await bus.close()
        for nc in [publisher_nc, *subscriber_ncs]:
            await nc.close()

    return _Setup(ours_run, raw_run, close)


async def _throughput(url: str, nodes: int, per_node: int, events: list[Event],
                      repeats: int, baseline: Baseline = Baseline.BYTES) -> Measured:
    setup = await _setup(url, nodes, per_node, events, baseline)
    try:
        await setup.ours()  # warm up both sides (connections, caches) outside the clock
        await setup.raw()
        compared = await compare_median(len(events), setup.ours, setup.raw, repeats)
    finally:
        await setup.close()
    subscribers = nodes * per_node
    if subscribers == 1:
        name = "events/s, 1 publisher -> 1 subscriber"
    else:
        where = "1 remote node" if nodes == 1 else f"{nodes} remote nodes"
        name = f"events/s, 1 -> {subscribers} subscribers, {where}"
    return Measured(Row(name, compared.ours, compared.baseline), compared)


def _print(title: str, baseline_name: str, measured: list[Measured]) -> None:
    print_table(title, baseline_name + " (median of alternating runs)",
                [m.row for m in measured])
    print()
    for m in measured:
        low, high = min(m.compared.ratios), max(m.compared.ratios)
        print(f"  {m.row.operation}: ratio per round {low:.2f}x to {high:.2f}x; "
              f"by this process's CPU time {m.compared.cpu_ratio:.2f}x")


_GROUPS = (  # (where a function is defined, its group); builtins go to their callers' groups
    ("/nats/", "nats-py: publish, parse, headers, Msg, callback task"),
    ("/aether/nats_eventbus.py", "the bus: receive, hand-off, reader wake-up, publish"),
    ("/aether/eventbus.py", "the bus: receive, hand-off, reader wake-up, publish"),
    ("/aether/", "Event decode (and encode: cached after the first run)"),
    ("/asyncio/", "asyncio: event loop, socket I/O, futures"),
    ("/selectors.py", "asyncio: event loop, socket I/O, futures"),
    ("/bench/", "the bench's own counting"),
)
_OTHER = "other"
_Key = tuple[str, int, str]


def _group(key: _Key, stats: dict[_Key, Any], depth: int = 0) -> dict[str, float]:
    """Shares of the function ``key``'s own time per group (a builtin's by who called it)."""
    filename = key[0]
    for where, group in _GROUPS:
        if where in filename:
            return {group: 1.0}
    callers = stats[key][4] if key in stats else {}
    total = sum(entry[2] for entry in callers.values())
    if filename != "~" or depth > 3 or not total:
        return {_OTHER: 1.0}
    shares: dict[str, float] = {}
    for caller, entry in callers.items():
        for group, share in _group(caller, stats, depth + 1).items():
            shares[group] = shares.get(group, 0.0) + share * entry[2] / total
    return shares


def _per_group(profile: cProfile.Profile, count: int) -> dict[str, tuple[float, float]]:
    """Microseconds of own time and function calls per group, per event (call counts do not
    depend on the machine's load: they show what a change removed where times are noisy)."""
    stats: dict[_Key, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    groups: dict[str, tuple[float, float]] = {}
    for key, (_, calls, own, _, _) in stats.items():
        for group, share in _group(key, stats).items():
            time_so_far, calls_so_far = groups.get(group, (0.0, 0.0))
            groups[group] = (time_so_far + own * share * 1e6 / count,
                             calls_so_far + calls * share / count)
    return groups


async def _profile(url: str, events: list[Event]) -> None:
    setup = await _setup(url, 1, 1, events, Baseline.BYTES)
    profiles = {"ours": cProfile.Profile(), "raw": cProfile.Profile()}
    cpu: dict[str, list[float]] = {"ours": [], "raw": []}
    try:
        await setup.ours()
        await setup.raw()
        for _ in range(5):  # first without the profiler: what an event costs, in µs of CPU
            for side, run in (("ours", setup.ours), ("raw", setup.raw)):
                gc.collect()
                start = time.process_time()
                await run()
                cpu[side].append((time.process_time() - start) * 1e6 / len(events))
        for _ in range(2):
            for side, run in (("ours", setup.ours), ("raw", setup.raw)):
                gc.collect()
                profiles[side].enable()
                await run()
                profiles[side].disable()
    finally:
        await setup.close()
    count = 2 * len(events)
    ours_cpu, raw_cpu = statistics.median(cpu["ours"]), statistics.median(cpu["raw"])
    print(f"\nThis process's CPU time per event without the profiler (median of 5 alternating "
          f"runs of {len(events):,} events): ours {ours_cpu:.1f} us, raw {raw_cpu:.1f} us, "
          f"ours - raw {ours_cpu - raw_cpu:.1f} us; 0.7x would allow "
          f"{raw_cpu / 0.7 - raw_cpu:.1f} us more than raw")
    ours, raw = _per_group(profiles["ours"], count), _per_group(profiles["raw"], count)
    print(f"\nWhere the time of 1 publisher -> 1 subscriber goes, per event (cProfile, "
          f"{count:,} events per side; both sides run in this one process; the profiler "
          f"inflates every call, so read the times as shares)\n")
    print(f"| {'part':<56} | {'ours us':>8} | {'raw us':>8} | {'ours calls':>10} | "
          f"{'raw calls':>10} |")
    print(f"|{'-' * 58}|{'-' * 9}:|{'-' * 9}:|{'-' * 11}:|{'-' * 11}:|")
    nothing = (0.0, 0.0)
    for group in sorted(set(ours) | set(raw), key=lambda g: -ours.get(g, nothing)[0]):
        (ours_us, ours_calls), (raw_us, raw_calls) = ours.get(group, nothing), raw.get(
            group, nothing)
        print(f"| {group:<56} | {ours_us:>8.2f} | {raw_us:>8.2f} | {ours_calls:>10.1f} | "
              f"{raw_calls:>10.1f} |")
    total = [sum(side[g][i] for g in side) for side in (ours, raw) for i in (0, 1)]
    print(f"| {'total':<56} | {total[0]:>8.2f} | {total[2]:>8.2f} | {total[1]:>10.1f} | "
          f"{total[3]:>10.1f} |")
    print("\nours, the 25 functions with the most own time:")
    pstats.Stats(profiles["ours"]).sort_stats("tottime").print_stats(25)

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


async def _run(events: int, samples: int, repeats: int, profile: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(store_dir=Path(tmp), name="bench", jetstream=False).start()
        try:
            batch = [_event(v) for v in range(1, events + 1)]
            tenth = batch[: events // 10]
            if profile:
                await _profile(server.url, batch)
                return
            url = server.url
            _print("NATSEventBus, one local nats-server, every node on its own connection",
                   "raw nats-py publish/subscribe of the same JSON payloads and headers, "
                   "bytes untouched, same run; target >= 0.7x",
                   [await _throughput(url, 1, 1, batch, repeats),
                    await _throughput(url, 1, 10, tenth, repeats),
                    await _throughput(url, 10, 1, tenth, repeats)])
            _print("NATSEventBus vs its floor: the raw client building the same Events",
                   "raw nats-py publish/subscribe, decode_record(Event, data) on receipt (the "
                   "validated Event any bus handing out Events builds), same run",
                   [await _throughput(url, 1, 1, batch, repeats, Baseline.DECODE),
                    await _throughput(url, 10, 1, tenth, repeats, Baseline.DECODE)])
            _print("NATSEventBus vs a hand-written JSON client",
                   "raw nats-py publish/subscribe with json.dumps of the event's dict on "
                   "publish and json.loads on receipt, same headers, same run",
                   [await _throughput(url, 1, 1, batch, repeats, Baseline.JSON)])
            print_table("NATSEventBus latency, one event at a time (lower is better)",
                        "the same raw nats-py publish/subscribe", await _latency(url, samples))
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench bus")
    parser.add_argument("--events", type=int, default=20_000,
                        help="events per throughput run (the 10-subscriber runs send a tenth)")
    parser.add_argument("--samples", type=int, default=1_500, help="latency samples per side")
    # 15: with 7, the ten-node row's median moved by 0.05x between identical runs (its
    # rounds range from 0.5x to 1.1x on this shared machine).
    parser.add_argument("--repeats", type=int, default=15,
                        help="alternating runs per side; each side reports its median run")
    parser.add_argument("--profile", action="store_true",
                        help="print where the time of a 1 -> 1 run goes, ours and raw")
    args = parser.parse_args(argv or [])
    asyncio.run(_run(args.events, args.samples, args.repeats, args.profile))
