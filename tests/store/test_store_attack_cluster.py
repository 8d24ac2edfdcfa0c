"""A replicated JetStream store while its stream leader is killed (SIGKILL) under load.

The store talks to a node that survives. Writers save single events and atomic batches and
retry the very same events until they are acknowledged; readers on the same store read the
actors all along. Afterwards every actor's history is exactly the events it meant to write,
each once, in order; no retry was ever answered with a conflict or a refused id; and no
read ever showed an actor with less than the store had seen acknowledged.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from aether import AetherError, StoreUnavailableError, VersionConflictError
from aether.store import JetStreamConfig, JetStreamEventStore
from aether.testing import make_event, shut_down, start_cluster
from tests.store.test_store_attack_kill import Writer, _plan

pytestmark = pytest.mark.slow


async def create_on_cluster(nc: Client, config: JetStreamConfig, name: str = "orders"
                            ) -> JetStreamEventStore:
    deadline = time.monotonic() + 30
    while True:  # right after start the cluster may still be electing its meta leader
        try:
            return await JetStreamEventStore.create(nc, name, config)
        except StoreUnavailableError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _write(store: JetStreamEventStore, writer: Writer, acked: dict[str, int],
                 deadline: float, halfway: asyncio.Event) -> None:
    for index, batch in enumerate(writer.batches):
        while True:
            try:
                await store.save_events(batch)
                break
            except StoreUnavailableError as exc:
                writer.failures.append((index, str(exc)[:120]))
            except AetherError as exc:
                writer.wrong.append(f"batch {index}: {type(exc).__name__}: {exc}"[:400])
                return
            if time.monotonic() > deadline:
                writer.wrong.append(f"batch {index}: still unavailable at the deadline")
                return
            await asyncio.sleep(0.05)
        writer.acked += 1
        acked[writer.actor] = batch[-1].version
        if writer.acked * 3 >= len(writer.batches):
            halfway.set()  # a third of the way, in fact: the kill lands among busy writers


async def _read(store: JetStreamEventStore, actor: str, acked: dict[str, int],
                done: asyncio.Event, wrong: list[str]) -> None:
    while not done.is_set():
        floor = acked.get(actor, 0)  # what the store had seen acknowledged before reading
        try:
            version = await store.get_latest_version(actor)
            latest = await store.get_latest(actor)
            events = await store.get_events(actor)
        except StoreUnavailableError:
            await asyncio.sleep(0.05)
            continue
        shown = (version, latest.version, events[-1].version if events else 0)
        if min(shown) < floor:
            wrong.append(f"{actor}: acked {floor}, read (latest version, latest, events) "
                         f"{shown}")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("connected_to", ["a survivor", "every node"])
async def test_saves_and_reads_through_the_loss_of_the_stream_leader(
    tmp_path: Path, connected_to: str
) -> None:
    servers = await asyncio.to_thread(start_cluster, tmp_path, 3)
    clients: list[Client] = []
    try:
        admin = await nats.connect(servers=[s.url for s in servers])
        clients.append(admin)
        config = JetStreamConfig(replica_count=3, request_timeout=1.0, publish_attempts=2)
        store = await create_on_cluster(admin, config)
        info = await admin.jetstream().stream_info(store.stream_name)
        leader = info.cluster.leader if info.cluster else None
        victim = next(s for s in servers if s.name == leader)
        survivor = next(s for s in servers if s.name != leader)
        # On every node, the store's connection may be the victim's and move elsewhere.
        urls = [survivor.url] if connected_to == "a survivor" else [s.url for s in servers]
        nc = await nats.connect(servers=urls, max_reconnect_attempts=-1,
                                reconnect_time_wait=0.1)
        clients.append(nc)
        store = await create_on_cluster(nc, config)

        rng = random.Random(7)
        writers = [Writer(f"order.{i}", _plan(f"order.{i}", 50, rng)) for i in range(6)]
        acked: dict[str, int] = {}
        done, wrong_reads = asyncio.Event(), list[str]()
        deadline = time.monotonic() + 120
        halfway = asyncio.Event()
        tasks = [asyncio.create_task(_write(store, w, acked, deadline, halfway))
                 for w in writers]
        readers = [asyncio.create_task(_read(store, w.actor, acked, done, wrong_reads))
                   for w in writers]
        await asyncio.wait_for(halfway.wait(), timeout=60)
        await asyncio.to_thread(victim.kill)
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=150)
        done.set()
        await asyncio.gather(*readers)

        assert [w.wrong for w in writers if w.wrong] == []
        assert wrong_reads == []
        for writer in writers:
            meant = [event for batch in writer.batches for event in batch]
            assert await store.get_events(writer.actor) == meant, writer.actor
        # The killed node comes back and catches up: a store on it reads the same.
        await asyncio.to_thread(victim.start)
        back = await nats.connect(victim.url)
        clients.append(back)
        returned = await create_on_cluster(back, config)
        for writer in writers:
            meant = [event for batch in writer.batches for event in batch]
            deadline = time.monotonic() + 30
            while (got := await returned.get_events(writer.actor)) != meant:
                assert len(got) <= len(meant) and got == meant[:len(got)], writer.actor
                assert time.monotonic() < deadline, f"{writer.actor} never caught up"
                await asyncio.sleep(0.2)
    finally:
        await shut_down(clients, servers)


async def test_a_retry_no_longer_the_latest_is_a_conflict_whatever_the_store_remembers(
    tmp_path: Path,
) -> None:
    # The conformance suite's rule (test_retrying_the_latest_save_is_a_no_op): retrying the
    # latest save is a no-op, retrying one that is no longer the latest a real conflict. A
    # clustered server checks the event id before the expected sequence, so a store whose
    # view of the actor is stale gets a duplicate ack where a single server refuses.
    servers = await asyncio.to_thread(start_cluster, tmp_path, 3)
    try:
        nc = await nats.connect(servers=[s.url for s in servers])
        config = JetStreamConfig(replica_count=3)
        store, other = await create_on_cluster(nc, config), await create_on_cluster(nc, config)
        first = make_event("a", 1)
        await store.save_event(first)
        await store.save_event(first)  # the latest: a no-op
        await other.save_event(make_event("a", 2))  # store still thinks 1 is the latest
        for retrying in (store, await create_on_cluster(nc, config)):
            with pytest.raises(VersionConflictError) as conflict:
                await retrying.save_event(first)
            assert conflict.value.current_version == 2
        assert [e.version for e in await other.get_events("a")] == [1, 2]
        await store.save_event(make_event("a", 3))  # and it writes on
        await nc.close()
    finally:
        for server in servers:
            await asyncio.to_thread(server.stop)
