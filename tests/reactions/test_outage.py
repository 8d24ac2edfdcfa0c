"""A runner lives through its NATS server stopping and starting again."""

from __future__ import annotations

import asyncio
import contextlib

import nats
import pytest

from aether import (
    CheckpointStore,
    InMemoryCheckpointStore,
    JetStreamCheckpointStore,
    ReactionRunner,
    RetryPolicy,
    StoreClosedError,
)
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


@pytest.mark.slow
async def test_a_runner_started_during_an_outage_waits_it_out(
    private_nats_server: NatsServer,
) -> None:
    """A service restarted while its NATS server is down: start() reads no checkpoint, and
    the runner goes on trying in the background instead of start() failing."""
    server = private_nats_server
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    store = await JetStreamEventStore.create(nc, "events", JetStreamConfig(request_timeout=0.5))
    checkpoints = await JetStreamCheckpointStore.for_store(nc, store)
    await tick(store, ["a", "b"] * 20)
    view = CountsView()
    runner = ReactionRunner("late", store, registry, make_counter_router(store),
                            policies=[IncrementOnTick()], read_models=[view],
                            checkpoints=checkpoints,
                            retry=RetryPolicy(attempts=2, backoff=0.05, max_backoff=0.5))
    await asyncio.to_thread(server.stop)
    try:
        await runner.start()  # raised StoreUnavailableError
        assert runner.running and runner.error is None
        await asyncio.sleep(1.0)  # a few tries in the dark
        assert runner.running and runner.error is None and runner.counters.outages >= 1
    finally:
        await asyncio.to_thread(server.start)
    for _ in range(2):  # the ticks, then their increments
        await asyncio.wait_for(runner.wait_caught_up(), 60)
    await runner.stop()
    assert runner.error is None and runner.counters.parked == 0
    assert await counts(store, "ab") == {"a": 20, "b": 20}
    assert view.counts == {"a": 20, "b": 20}
    assert await checkpoints.load("late", "IncrementOnTick") > 0
    with contextlib.suppress(Exception):
        await nc.drain()


@pytest.mark.slow
@pytest.mark.parametrize("kept_in", ["jetstream", "memory"])
async def test_a_connection_closed_for_good_stops_the_runner_saying_so(
    private_nats_server: NatsServer, kept_in: str,
) -> None:
    """nats-py gives up reconnecting after max_reconnect_attempts (60 by default, about two
    minutes), closes the connection, and nothing can go on through it: the runner stops with
    a StoreClosedError that says how to connect instead of a raw nats error, or pausing for
    ever."""
    server = private_nats_server
    nc = await nats.connect(server.url, max_reconnect_attempts=2, reconnect_time_wait=0.1)
    store = await JetStreamEventStore.create(nc, "events", JetStreamConfig(request_timeout=0.5))
    checkpoints: CheckpointStore = (await JetStreamCheckpointStore.for_store(nc, store)
                                    if kept_in == "jetstream" else InMemoryCheckpointStore())
    await tick(store, ["a"])
    runner = ReactionRunner("closing", store, registry, make_counter_router(store),
                            policies=[IncrementOnTick()], checkpoints=checkpoints,
                            retry=RetryPolicy(attempts=2, backoff=0.05, max_backoff=0.2))
    await runner.start()
    await asyncio.wait_for(runner.wait_caught_up(), 30)
    await asyncio.to_thread(server.stop)
    try:
        await wait_for(lambda: nc.is_closed and not runner.running, 30)
    finally:
        await asyncio.to_thread(server.start)
    assert isinstance(runner.error, StoreClosedError)
    assert "max_reconnect_attempts=-1" in str(runner.error)
    await runner.stop()  # nothing can be saved through it: the error already says so
    if kept_in == "memory":  # a checkpoint store elsewhere still saves what was reached
        assert await checkpoints.load("closing", "IncrementOnTick") == runner.position > 0
    with pytest.raises(StoreClosedError):
        await runner.start()
