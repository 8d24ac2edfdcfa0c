"""Snapshots on JetStream through failures: a load from a snapshot equals a replay of the
stored events, whatever the server went through, and what a snapshot load teaches the store
never makes it refuse a retry of a save that landed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from aether import ActorSnapshot, CommandRouter, DomainError, StoreUnavailableError
from aether.command import Command
from aether.store import JetStreamConfig, JetStreamEventStore, jsapi
from aether.testing import NatsServer, make_event, shut_down, start_cluster
from tests.runtime.bank import Deposit, Open, Withdraw, bank_router
from tests.store.test_store_attack_cluster import create_on_cluster

pytestmark = pytest.mark.slow
ACCOUNTS = [f"acc.{i}" for i in range(6)]


async def _replayed(store: JetStreamEventStore, actor: str) -> tuple[int, object]:
    """The account as a replay of every stored event gives it: no snapshot, no cache."""
    _, repository = bank_router(store, cache_size=0)
    account = await repository.load(actor)
    return account.version, account.state


async def _from_snapshot(store: JetStreamEventStore, actor: str) -> tuple[int, object]:
    _, repository = bank_router(store, cache_size=0, snapshot_every=3)
    account = await repository.load(actor)
    return account.version, account.state


async def _send_until_done(router: CommandRouter, actor: str, commands: int,
                           deadline: float, busy: asyncio.Event) -> None:
    await _retry(router, actor, Open(owner=actor), deadline)
    for n in range(commands):
        if n == commands // 3:
            busy.set()
        command = Withdraw(amount=Decimal(1)) if n % 4 == 3 else Deposit(amount=Decimal(n))
        await _retry(router, actor, command, deadline)


async def _senders_under_way(router: CommandRouter, commands: int, seconds: float
                             ) -> list[asyncio.Task[None]]:
    """One sender per account, each retrying through outages for ``seconds``; returns once
    they are a third of the way through, so a failure lands mid-work."""
    deadline, busy = time.monotonic() + seconds, asyncio.Event()
    senders = [asyncio.create_task(_send_until_done(router, a, commands, deadline, busy))
               for a in ACCOUNTS]
    await asyncio.wait_for(busy.wait(), timeout=60)
    return senders


async def _retry(router: CommandRouter, actor: str, command: Command, deadline: float) -> None:
    while True:
        try:
            await router.send(actor, command)
            return
        except DomainError:
            return  # already open (an Open whose ack was lost landed), or refused
        except StoreUnavailableError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_a_load_after_a_kill_9_equals_a_replay_of_the_stored_events(
    private_nats_server: NatsServer,
) -> None:
    server = private_nats_server  # sync_interval: always
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    try:
        config = JetStreamConfig(request_timeout=0.5, publish_attempts=2)
        store = await JetStreamEventStore.create(nc, "bank", config)
        router, repository = bank_router(store, snapshot_every=3)
        senders = await _senders_under_way(router, 40, 90)
        server.kill()
        await asyncio.sleep(0.8)
        await asyncio.to_thread(server.start)
        await asyncio.wait_for(asyncio.gather(*senders), timeout=120)

        fresh_nc = await nats.connect(server.url)
        try:
            fresh = await JetStreamEventStore.create(fresh_nc, "bank", config)
            for actor in ACCOUNTS:
                replayed = await _replayed(fresh, actor)
                assert (await fresh.get_latest_snapshot(actor)) is not None
                assert await _from_snapshot(fresh, actor) == replayed, actor
                assert await _from_snapshot(store, actor) == replayed, actor
                assert (await repository.load(actor)).state == replayed[1], actor
        finally:
            await fresh_nc.close()
    finally:
        with contextlib.suppress(Exception):
            await nc.close()


async def test_a_retry_after_a_load_from_a_snapshot_is_not_a_conflict(nc: Client) -> None:
    # A save's ack is lost although its event landed; someone snapshots the actor at that
    # version. The writer, restarted, loads the actor from the snapshot (nothing follows
    # it) and retries the very same event: that is its own write, stored once, not a
    # conflict.
    store = await JetStreamEventStore.create(nc, f"snap{int(time.time() * 1000)}")
    try:
        events = [make_event("a", version) for version in (1, 2, 3)]
        await store.save_events(events[:2])
        last = events[2]
        await jsapi.publish(nc, jsapi.Outgoing(
            store.event_subject("a"), last.model_dump_json().encode(),
            {"Nats-Msg-Id": last.id, "Aether-Version": "3"}), 5.0)  # the lost ack
        snapshotter = await JetStreamEventStore.create(nc, store.stream_name)
        await snapshotter.get_events("a")
        await snapshotter.save_snapshot(ActorSnapshot(
            actor_id="a", version=3, state={"n": 3}, timestamp=datetime.now(UTC)))

        restarted = await JetStreamEventStore.create(nc, store.stream_name)
        snapshot = await restarted.get_latest_snapshot("a")
        assert snapshot is not None and snapshot.version == 3
        assert await restarted.get_events("a", snapshot.version + 1) == []
        await restarted.save_event(last)  # the retry
        assert await restarted.get_events("a") == events
    finally:
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_stream(store.stream_name)
            await nc.jetstream().delete_stream(store.snapshot_stream_name)


async def test_a_load_after_losing_the_stream_leader_equals_a_replay(tmp_path: Path) -> None:
    servers = await asyncio.to_thread(start_cluster, tmp_path, 3)
    clients: list[Client] = []
    try:
        clients.append(admin := await nats.connect(servers=[s.url for s in servers]))
        config = JetStreamConfig(replica_count=3, request_timeout=1.0, publish_attempts=2)
        store = await create_on_cluster(admin, config, "bank")
        info = await admin.jetstream().stream_info(store.stream_name)
        victim = next(s for s in servers if info.cluster and s.name == info.cluster.leader)
        survivor = next(s for s in servers if s is not victim)
        clients.append(nc := await nats.connect(survivor.url, max_reconnect_attempts=-1))
        store = await create_on_cluster(nc, config, "bank")
        router, repository = bank_router(store, snapshot_every=3)
        senders = await _senders_under_way(router, 30, 120)
        await asyncio.to_thread(victim.kill)  # the snapshots' leader too, when it is there
        await asyncio.wait_for(asyncio.gather(*senders), timeout=150)

        for actor in ACCOUNTS:
            replayed = await _replayed(store, actor)
            assert await _from_snapshot(store, actor) == replayed, actor
            assert (await repository.load(actor)).state == replayed[1], actor
    finally:
        await shut_down(clients, servers)
