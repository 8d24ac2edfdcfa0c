"""A runner lives through its NATS server stopping and starting again."""

from __future__ import annotations

import asyncio
import contextlib

import nats
import pytest

from aether import JetStreamCheckpointStore, ReactionRunner, RetryPolicy
from aether.store import JetStreamConfig, JetStreamEventStore
from aether.testing import NatsServer
from aether.testing.counters import CountsView, IncrementOnTick, make_counter_router, registry
from tests.actors.cluster import wait_for
from tests.reactions.test_runner import counts, tick


@pytest.mark.slow
async def test_a_server_outage_pauses_the_runner_and_parks_nothing(
    private_nats_server: NatsServer,
) -> None:
    server = private_nats_server
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    store = await JetStreamEventStore.create(nc, "events", JetStreamConfig(request_timeout=1.0))
    checkpoints = await JetStreamCheckpointStore.for_store(nc, store)
    view = CountsView()
    runner = ReactionRunner("outage", store, registry, make_counter_router(store),
                            policies=[IncrementOnTick()], read_models=[view],
                            checkpoints=checkpoints,
                            retry=RetryPolicy(attempts=2, backoff=0.05, max_backoff=0.5))
    await tick(store, ["a", "b"] * 500)
    await runner.start()
    await wait_for(lambda: runner.position >= 10)  # under way, far from done on any machine
    stopped_at = runner.position
    await asyncio.to_thread(server.stop)
    await asyncio.sleep(1.5)
    await asyncio.to_thread(server.start)
    await tick(store, ["c"])
    for _ in range(3):  # the ticks, their increments, and anything left in flight
        await asyncio.wait_for(runner.wait_caught_up(), 60)
    await runner.stop()
    assert stopped_at < 2000  # the outage hit mid-way: 1000 ticks and their increments
    assert runner.error is None and runner.counters.parked == 0
    assert await counts(store, "abc") == {"a": 500, "b": 500, "c": 1}
    assert view.counts == {"a": 500, "b": 500, "c": 1}
    with contextlib.suppress(Exception):
        await nc.drain()
