"""JetStreamEventStore vs the raw nats-py calls doing the same work, on one nats-server.

Baselines, measured in the same run against the same server:
- save_event          js.publish with the same headers (msg id, version, expected seq)
- save_events (x10)   the same atomic batch sent by hand (9 publishes + commit request)
- get_latest_version  jsm.get_last_msg(direct=True)
- get_events          an ordered push consumer reading the actor's subject
Then the scaling check: one actor's 10 events read from a stream of 1,000 events vs
one of ``--large`` events (default 1,000,000).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import nats
from nats.aio.client import Client
from nats.js.api import DeliverPolicy

from aether import Event
from aether.store import JetStreamConfig, JetStreamEventStore
from aether.testing import NatsServer
from bench.table import Row, best_rate_async, compare_async, print_table

SAVES = 1_000
READS = 300


def _event(actor: str, version: int) -> Event:
    return Event(id=str(uuid4()), event_type="Happened", actor_id=actor, version=version,
                 data={"n": version, "note": "x" * 40}, timestamp=datetime.now(UTC))


def _headers(event: Event, expected: int) -> dict[str, str]:
    return {"Nats-Msg-Id": event.id, "Aether-Version": str(event.version),
            "Nats-Expected-Last-Subject-Sequence": str(expected)}


async def _open(nc: Client, name: str) -> JetStreamEventStore:
    return await JetStreamEventStore.create(nc, name, JetStreamConfig())


async def _writes(nc: Client) -> list[Row]:
    js = nc.jetstream()
    ours = await _open(nc, "bench_save")
    raw = await _open(nc, "bench_raw")
    rounds = iter(range(1, 1000))

    async def ours_save() -> None:
        actor = f"a{next(rounds)}"
        for event in [_event(actor, v) for v in range(1, SAVES + 1)]:
            await ours.save_event(event)

    async def raw_save() -> None:
        subject = raw.event_subject(f"r{next(rounds)}")
        expected = 0
        for event in [_event("r", v) for v in range(1, SAVES + 1)]:
            ack = await js.publish(subject, event.model_dump_json().encode(),
                                   headers=_headers(event, expected))
            expected = ack.seq

    async def ours_batches() -> None:
        actor = f"b{next(rounds)}"
        for start in range(1, SAVES + 1, 10):
            await ours.save_events([_event(actor, v) for v in range(start, start + 10)])

    async def raw_batches() -> None:
        subject = raw.event_subject(f"rb{next(rounds)}")
        expected = 0
        for start in range(1, SAVES + 1, 10):
            events = [_event("rb", v) for v in range(start, start + 10)]
            batch_id = uuid4().hex
            for index, event in enumerate(events, start=1):
                headers = {"Nats-Msg-Id": event.id, "Aether-Version": str(event.version),
                           "Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(index)}
                if index == 1:
                    headers["Nats-Expected-Last-Subject-Sequence"] = str(expected)
                payload = event.model_dump_json().encode()
                if index < len(events):
                    await nc.publish(subject, payload, headers=headers)
                else:
                    headers["Nats-Batch-Commit"] = "1"
                    reply = await nc.request(subject, payload, headers=headers, timeout=5)
                    expected = int(json.loads(reply.data)["seq"])

    return [
        Row("save_event", *await compare_async(SAVES, ours_save, raw_save, 8)),
        Row("save_events (atomic batches of 10), events/s",
            *await compare_async(SAVES, ours_batches, raw_batches, 8)),
    ]


async def _reads(nc: Client) -> list[Row]:
    js = nc.jetstream()
    store = await _open(nc, "bench_read")
    for count, actor in ((10, "ten"), (1000, "thousand")):
        for start in range(1, count + 1, 100):
            await store.save_events([_event(actor, v)
                                     for v in range(start, min(start + 100, count + 1))])

    async def ours_latest() -> None:
        for _ in range(READS):
            await store.get_latest_version("thousand")

    async def raw_latest() -> None:
        subject = store.event_subject("thousand")
        for _ in range(READS):
            await js.get_last_msg(store.stream_name, subject, direct=True)

    def ours_events(actor: str, times: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            for _ in range(times):
                await store.get_events(actor)
        return run

    def raw_events(actor: str, count: int, times: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            for _ in range(times):
                sub = await js.subscribe(store.event_subject(actor), ordered_consumer=True,
                                         deliver_policy=DeliverPolicy.ALL)
                for _ in range(count):
                    Event.model_validate_json((await sub.next_msg(timeout=5)).data)
                await sub.unsubscribe()
        return run

    return [
        Row("get_latest_version", *await compare_async(READS, ours_latest, raw_latest)),
        Row("get_events, actor with 10 events", *await compare_async(
            READS, ours_events("ten", READS), raw_events("ten", 10, READS), 3)),
        Row("get_events, actor with 1,000 events", *await compare_async(
            10, ours_events("thousand", 10), raw_events("thousand", 1000, 10), 3)),
    ]


async def _fill(nc: Client, store: JetStreamEventStore, total: int) -> None:
    """``total`` events over total/10 actors, 10 each, as fast as the server takes them."""
    js = nc.jetstream(publish_async_max_pending=20_000)
    stamp = datetime.now(UTC)
    actors = total // 10
    for version in range(1, 11):
        for index in range(actors):
            actor = f"actor-{index}"
            event = Event(id=f"{actor}/{version}", event_type="Happened", actor_id=actor,
                          version=version, data={"n": version}, timestamp=stamp)
            await js.publish_async(store.event_subject(actor), event.model_dump_json().encode(),
                                   headers={"Aether-Version": str(version)})
    await js.publish_async_completed()


async def _scaling(nc: Client, large: int) -> list[Row]:
    rows = []
    rates = {}
    for size in (1_000, large):
        store = await _open(nc, f"bench_scale_{size}")
        started = time.perf_counter()
        await _fill(nc, store, size)
        print(f"  filled a stream with {size:,} events in {time.perf_counter() - started:.1f}s")
        actors = [f"actor-{i}" for i in range(0, size // 10, max(1, size // 10 // READS))]

        async def read(store: JetStreamEventStore = store, actors: list[str] = actors) -> None:
            for actor in actors:
                assert len(await store.get_events(actor)) == 10

        rates[size] = await best_rate_async(len(actors), read, 3)
        await nc.jetstream().delete_stream(store.stream_name)
    rows.append(Row(f"get_events 10 of 1,000 (ours) vs 10 of {large:,} (baseline)",
                    rates[1_000], rates[large]))
    return rows


async def _run(large: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(store_dir=Path(tmp), name="bench").start()
        try:
            nc = await nats.connect(server.url)
            write_rows = await _writes(nc)
            read_rows = await _reads(nc)
            print_table("JetStreamEventStore, one local nats-server (file storage)",
                        "raw nats-py calls doing the same work, same server, same run",
                        write_rows + read_rows)
            scale_rows = await _scaling(nc, large)
            print_table("Reading one actor does not depend on stream size",
                        f"the same read from a stream of {large:,} events; a ratio <= 1.5x "
                        f"meets the target", scale_rows)
            await nc.drain()
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench jetstream")
    parser.add_argument("--large", type=int, default=1_000_000,
                        help="events in the large stream of the scaling check")
    args = parser.parse_args(argv or [])
    asyncio.run(_run(args.large))
