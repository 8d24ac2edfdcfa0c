"""The JetStream store while its server is killed (SIGKILL) and restarted under load.

Many actors save through one store, single events and atomic batches alike. Whatever a save
answered, retrying the very same events until they are acknowledged must end with every
actor's history exactly the events it meant to write, each once, in order: a save that
raised either landed once or not at all, and its retry never reports a conflict or a reused
id for what is its own write.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field

import nats
import pytest

from aether import AetherError, Event, StoreUnavailableError
from aether.store import JetStreamConfig, JetStreamEventStore
from aether.testing import NatsServer, make_event

pytestmark = pytest.mark.slow
KILLS = 3


@dataclass
class Writer:
    """One actor's writer: the batches it means to save, and what the store answered."""

    actor: str
    batches: list[list[Event]]
    acked: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)  # (batch, error) on the way
    wrong: list[str] = field(default_factory=list)  # answers that must never come


def _plan(actor: str, count: int, rng: random.Random) -> list[list[Event]]:
    batches, version = [], 0
    for _ in range(count):
        size = rng.choice([1, 1, 2, 3])
        batches.append([make_event(actor, version + i) for i in range(1, size + 1)])
        version += size
    return batches


async def _save_until_acked(store: JetStreamEventStore, writer: Writer, deadline: float,
                            progress: asyncio.Event, threshold: int, total: list[int]) -> None:
    for index, batch in enumerate(writer.batches):
        while True:
            try:
                if len(batch) == 1:
                    await store.save_event(batch[0])
                else:
                    await store.save_events(batch)
                break
            except StoreUnavailableError as exc:
                writer.failures.append((index, str(exc)[:120]))
            except AetherError as exc:  # a conflict or a refused id: our own retry, refused
                writer.wrong.append(f"batch {index}: {type(exc).__name__}: {exc}"[:400])
                return
            if time.monotonic() > deadline:
                writer.wrong.append(f"batch {index}: still unavailable at the deadline")
                return
            await asyncio.sleep(0.1)
        writer.acked += 1
        total[0] += 1
        if total[0] >= threshold:
            progress.set()


async def test_saves_through_a_kill_9_land_exactly_once(
    private_nats_server: NatsServer,
) -> None:
    server = private_nats_server  # sync_interval: always
    rng = random.Random(6)
    writers = [Writer(f"acct.{i}", _plan(f"acct.{i}", 90, rng)) for i in range(8)]
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    try:
        store = await JetStreamEventStore.create(
            nc, "events", JetStreamConfig(request_timeout=0.5, publish_attempts=2))
        progress, total = asyncio.Event(), [0]
        deadline = time.monotonic() + 90
        tasks = [asyncio.create_task(_save_until_acked(store, w, deadline, progress, 100, total))
                 for w in writers]
        for _ in range(KILLS):
            await asyncio.wait_for(progress.wait(), timeout=60)
            server.kill()  # mid-flight: some saves are sent, some acked, some waiting
            # Sometimes long enough for every save in flight to fail, sometimes not.
            await asyncio.sleep(rng.choice([0.05, 0.3, 1.2]))
            await asyncio.to_thread(server.start)
            progress.clear()
            total[0] = 0
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
        print({w.actor: len(w.failures) for w in writers})

        assert [w.wrong for w in writers if w.wrong] == []
        assert sum(len(w.failures) for w in writers) > 0  # the kill did hit saves in flight
        fresh_nc = await nats.connect(server.url)
        try:
            fresh = await JetStreamEventStore.create(fresh_nc, "events")
            for writer in writers:
                meant = [event for batch in writer.batches for event in batch]
                assert await fresh.get_events(writer.actor) == meant, writer.actor
                assert await store.get_events(writer.actor) == meant, writer.actor
                assert await fresh.get_latest_version(writer.actor) == meant[-1].version
        finally:
            await fresh_nc.close()
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
