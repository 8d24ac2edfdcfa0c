"""Reactions: how fast a ReactionRunner catches up with the feed, and how soon a policy reacts.

Baselines, measured in the same run against the same stream:
- catch-up (JetStream)   a raw nats-py ordered consumer reading every message of the
                         stream (no decoding): the ceiling of any JetStream reader
- feed via ordered consumer  the same consumer decoding each Event: the design we did not
                         pick for ``read_all``/``follow``, against the batched direct gets we did
- catch-up (memory)      a plain loop handing the same events to the same read model
- reaction latency       one ``save_event`` of the command's event: the floor of a reaction
                         (ours: from the triggering event saved to the command's event saved)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar

import nats
from nats.aio.client import Client
from nats.js.api import DeliverPolicy

from aether import (
    Command,
    CommandSender,
    Event,
    EventPayload,
    ReactionRunner,
    ReadModel,
)
from aether.command import SenderBase
from aether.store import InMemoryEventStore, JetStreamConfig, JetStreamEventStore
from aether.testing import running_nats_server
from aether.testing.counters import (
    Incremented,
    IncrementOnTick,
    Ticked,
    make_counter_router,
    registry,
)
from bench.table import Row, print_table

LATENCY_SAMPLES = 200


class Tally(ReadModel):
    """Counts the events it reads (the cheapest read model: the runner is what is measured)."""

    reads: ClassVar[tuple[str, ...]] = ("Ticked",)

    def __init__(self) -> None:
        self.seen = 0

    def project(self, event: EventPayload, envelope: Event) -> None:
        self.seen += 1


class Timed(SenderBase):
    """A CommandSender that notes when each command's events are saved."""

    def __init__(self, inner: CommandSender) -> None:
        self.inner = inner
        self.done: asyncio.Queue[float] = asyncio.Queue()

    async def send(self, actor_id: str, command: Command,
                   metadata: Mapping[str, str] | None = None) -> list[Event]:
        events = await self.inner.send(actor_id, command, metadata)
        self.done.put_nowait(time.perf_counter())
        return events


def _ticks(total: int) -> list[list[Event]]:
    """``total`` Ticked events over 100 clock actors, in batches of up to 1,000."""
    stamp = datetime.now(UTC)
    per_actor = total // 100
    batches = []
    for actor in range(100):
        events = [registry.to_event(Ticked(counter="c"), f"clock-{actor}", version,
                                    timestamp=stamp) for version in range(1, per_actor + 1)]
        batches += [events[i:i + 1000] for i in range(0, len(events), 1000)]
    return batches


async def _fill_jetstream(nc: Client, store: JetStreamEventStore, total: int) -> None:
    js = nc.jetstream(publish_async_max_pending=20_000)
    for batch in _ticks(total):
        for event in batch:
            await js.publish_async(store.event_subject(event.actor_id),
                                   event.model_dump_json().encode(),
                                   headers={"Aether-Version": str(event.version)})
    await js.publish_async_completed()


async def _catch_up(store: JetStreamEventStore | InMemoryEventStore, total: int) -> float:
    tally = Tally()
    runner = ReactionRunner("bench", store, registry, make_counter_router(store),
                            read_models=[tally])
    started = time.perf_counter()
    await runner.start()
    await runner.wait_caught_up()
    elapsed = time.perf_counter() - started
    await runner.stop()
    assert tally.seen == total, (tally.seen, total)
    return total / elapsed


async def _raw_ordered(nc: Client, store: JetStreamEventStore, total: int, decode: bool,
                       ) -> float:
    js = nc.jetstream()
    started = time.perf_counter()
    sub = await js.subscribe(f"{store.stream_name}.events.>", ordered_consumer=True,
                             deliver_policy=DeliverPolicy.ALL,
                             pending_msgs_limit=total + 1000)
    for _ in range(total):
        message = await sub.next_msg(timeout=10)
        if decode:
            Event.model_validate_json(message.data)
    elapsed = time.perf_counter() - started
    await sub.unsubscribe()
    return total / elapsed


async def _latency(store: JetStreamEventStore | InMemoryEventStore) -> tuple[list[float],
                                                                              list[float]]:
    """Seconds from a Ticked event saved to its Increment's event saved, and the floor."""
    sender = Timed(make_counter_router(store))
    runner = ReactionRunner("latency", store, registry, sender, policies=[IncrementOnTick()])
    await runner.start()
    await runner.wait_caught_up()
    ours, floor = [], []
    base = await store.get_latest_version("latency-clock")
    for version in range(base + 1, base + LATENCY_SAMPLES + 1):
        # A counter per sample: the measure is the reaction, not replaying a long history.
        event = registry.to_event(Ticked(counter=f"latency-{version}"), "latency-clock",
                                  version)
        # From the start of the save: the runner may react before the save's ack arrives.
        started = time.perf_counter()
        await store.save_event(event)
        ours.append(await asyncio.wait_for(sender.done.get(), 10) - started)
        plain = registry.to_event(Incremented(by=1), "latency-floor", version)
        started = time.perf_counter()
        await store.save_event(plain)
        floor.append(time.perf_counter() - started)
    await runner.stop()
    return ours, floor


def _percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _latency_rows(label: str, ours: list[float], floor: list[float]) -> list[Row]:
    print(f"  {label} reaction latency: p50 {statistics.median(ours) * 1000:.2f} ms, "
          f"p99 {_percentile(ours, 0.99) * 1000:.2f} ms (one save: p50 "
          f"{statistics.median(floor) * 1000:.3f} ms)")
    return [
        Row(f"{label}: reaction latency p50", statistics.median(ours), statistics.median(floor),
            "s"),
        Row(f"{label}: reaction latency p99", _percentile(ours, 0.99), _percentile(floor, 0.99),
            "s"),
    ]


async def _jetstream(total: int) -> tuple[list[Row], list[Row]]:
    with running_nats_server(sync_always=False, name="bench-reactions") as server:
        nc = await nats.connect(server.url)
        store = await JetStreamEventStore.create(nc, "bench_feed", JetStreamConfig())
        started = time.perf_counter()
        await _fill_jetstream(nc, store, total)
        print(f"  filled a stream with {total:,} events in {time.perf_counter() - started:.1f}s")
        ours = raw = decoded = 0.0
        for _ in range(3):  # alternate, keep the best of each
            ours = max(ours, await _catch_up(store, total))
            raw = max(raw, await _raw_ordered(nc, store, total, decode=False))
            decoded = max(decoded, await _raw_ordered(nc, store, total, decode=True))
        latency_store = await JetStreamEventStore.create(nc, "bench_latency", JetStreamConfig())
        ours_latency, floor = await _latency(latency_store)
        await nc.drain()
    rates = [
        Row(f"JetStream catch-up {total:,}: vs raw consumer", ours, raw, "ev/s"),
        Row(f"JetStream catch-up {total:,}: vs decoding one", ours, decoded, "ev/s"),
    ]
    return rates, _latency_rows("JetStream", ours_latency, floor)


async def _memory(total: int) -> tuple[list[Row], list[Row]]:
    store = InMemoryEventStore()
    for batch in _ticks(total):
        await store.save_events(batch)
    events = [event for _, event in await store.read_all(limit=total)]
    ours = plain = 0.0
    for _ in range(3):
        ours = max(ours, await _catch_up(store, total))
        tally = Tally()
        started = time.perf_counter()
        for event in events:
            tally.handle(event, registry)
        plain = max(plain, total / (time.perf_counter() - started))
    ours_latency, floor = await _latency(InMemoryEventStore())
    return ([Row(f"memory catch-up {total:,}: vs plain loop", ours, plain, "ev/s")],
            _latency_rows("memory", ours_latency, floor))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench reactions")
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args(argv)
    js_rates, js_latency = asyncio.run(_jetstream(args.events))
    memory_rates, memory_latency = asyncio.run(_memory(args.events))
    print_table("Reactions: catch-up of the feed by a ReactionRunner with one read model",
                "raw nats-py ordered consumer on the same stream; a plain loop for memory",
                js_rates + memory_rates)
    print_table("Reactions: from a saved event to its policy's command's event saved",
                "one save_event on the same store (the floor of any reaction)",
                js_latency + memory_latency)
