"""Outages pause a runner on the same event; they never park it. Real ones: a cluster shard
with no owner for far longer than the retry budget, and the one nats-server of a cluster
(its store, checkpoints, feed and shard table) stopped and started again mid-stream."""

from __future__ import annotations

import asyncio
import contextlib

import nats
import pytest

from aether import (
    ClusterRouter,
    CommandTimeoutError,
    JetStreamCheckpointStore,
    ReactionRunner,
    RetryPolicy,
    StoreUnavailableError,
    TransientError,
)
from aether.cluster import ClusterUnavailableError
from aether.store import InMemoryEventStore, JetStreamConfig, JetStreamEventStore
from aether.testing import NatsServer
from aether.testing.counters import CountsView, IncrementOnTick, commands, registry
from tests.actors.cluster import SHARDS, cluster_name, nodes, wait_for
from tests.reactions.test_runner import counts, tick

BUDGET = RetryPolicy(attempts=2, backoff=0.05, max_backoff=0.2)
"""Two attempts: a handler failure is parked within about half a second."""


def test_infrastructure_errors_are_transient_and_request_errors_are_not() -> None:
    from aether import DomainError, InvalidEventError, VersionConflictError
    assert issubclass(StoreUnavailableError, TransientError)
    assert issubclass(ClusterUnavailableError, TransientError)
    assert issubclass(CommandTimeoutError, TransientError)
    assert issubclass(CommandTimeoutError, TimeoutError)  # what callers caught before
    for error in (DomainError, InvalidEventError, VersionConflictError):
        assert not issubclass(error, TransientError)


@pytest.mark.slow
async def test_a_shard_without_an_owner_pauses_the_runner_past_its_retry_budget(
        nats_server: NatsServer) -> None:
    client = await nats.connect(nats_server.url)
    counters = await JetStreamEventStore.create(client, f"noowner_{cluster_name()[-6:]}")
    ticks = InMemoryEventStore()
    cluster = cluster_name()
    # No node of the cluster runs yet: every command times out (CommandTimeoutError).
    router = ClusterRouter(client, cluster, commands, shard_count=SHARDS, timeout=0.3)
    runner = ReactionRunner("no-owner", ticks, registry, router, policies=[IncrementOnTick()],
                            retry=BUDGET)
    try:
        await runner.start()
        await tick(ticks, ["a", "b"])
        await asyncio.sleep(3.0)  # six times the old budget
        assert runner.counters.parked == 0 and await runner.parked() == []
        assert runner.counters.outages >= 3 and runner.counters.retried == 0
        assert runner.running and runner.error is None and runner.position == 0
        async with nodes(nats_server.url, cluster, ["late"], counters):
            await asyncio.wait_for(runner.wait_caught_up(), 30)
        assert runner.counters.parked == 0 and runner.position == 2
        assert await counts(counters, "ab") == {"a": 1, "b": 1}
    finally:
        await runner.stop()
        await client.drain()


@pytest.mark.slow
async def test_a_server_restart_under_a_cluster_router_parks_nothing_and_loses_nothing(
        private_nats_server: NatsServer) -> None:
    server = private_nats_server
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    config = JetStreamConfig(request_timeout=0.5)
    ticks = await JetStreamEventStore.create(nc, "ticks", config)
    counters = await JetStreamEventStore.create(nc, "counters", config)
    checkpoints = await JetStreamCheckpointStore.for_store(nc, ticks)
    cluster = cluster_name()
    view = CountsView()
    names = ["a", "b", "c", "d"]
    async with nodes(server.url, cluster, ["n1", "n2"], counters):
        client = await nats.connect(server.url, max_reconnect_attempts=-1,
                                    reconnect_time_wait=0.2)
        router = ClusterRouter(client, cluster, commands, shard_count=SHARDS, timeout=0.5)
        runner = ReactionRunner("restart", ticks, registry, router,
                                policies=[IncrementOnTick()], read_models=[view],
                                checkpoints=checkpoints, retry=BUDGET)
        try:
            await tick(ticks, names * 250)
            await runner.start()
            # Stopped once the runner is under way: mid-way through a thousand commands on
            # any machine (a fixed sleep let a fast one finish first).
            await wait_for(lambda: runner.position >= 10)
            stopped_at = runner.position
            await asyncio.to_thread(server.stop)
            await asyncio.sleep(3.0)
            await asyncio.to_thread(server.start)
            await tick(ticks, ["e"])
            await asyncio.wait_for(runner.wait_caught_up(), 90)
            assert runner.error is None and runner.counters.parked == 0
            assert await runner.parked() == []
            assert stopped_at < 1000 and runner.counters.outages >= 1  # it hit mid-way
            assert view.ticks == 1001
            assert await counts(counters, [*names, "e"]) == {**dict.fromkeys(names, 250), "e": 1}
        finally:
            await runner.stop()
            with contextlib.suppress(Exception):
                await client.drain()
    with contextlib.suppress(Exception):
        await nc.drain()
