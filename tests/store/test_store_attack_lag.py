"""A save retried after its ack was lost, on a replicated stream whose replicas lag.

A retry of a save that landed gets its answer from the server's duplicate detection (the
event id): a single event is acknowledged as a duplicate, a batch refused for a duplicate
id. The store then has to look at what is stored, and on a replicated stream a direct get
is answered by any replica, which may not hold the landed write yet. The lagging replica is
made as in tests/store/test_replica_lag.py: nats-server's weighted subject mappings send
half of the stream's direct gets to a client answering "no message", as a follower still
catching up does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from aether import Event, StoreUnavailableError, VersionConflictError
from aether.store import JetStreamConfig, JetStreamEventStore, jsapi
from aether.testing import NatsServer, free_port, make_event

STORE = "lagretry"  # its stream is "lagretry": the mapping below names it
ROUNDS = 12  # each round meets the lagging replica with probability 1/2 or more

MAPPING = """
mappings = {
  "$JS.API.DIRECT.GET.lagretry": [
    {destination: "$JS.API.DIRECT.GET.lagretry", weight: 50%},
    {destination: "lagging.batch", weight: 50%}
  ]
  "$JS.API.DIRECT.GET.lagretry.>": [
    {destination: "$JS.API.DIRECT.GET.lagretry.>", weight: 50%},
    {destination: "lagging.last.>", weight: 50%}
  ]
}
"""


@dataclass
class Lagging:
    """Servers whose stream ``lagretry`` has a replica that holds nothing yet."""

    servers: list[NatsServer]
    config: JetStreamConfig

    async def connect(self) -> Client:
        return await nats.connect(servers=[s.url for s in self.servers])

    async def store(self, nc: Client) -> JetStreamEventStore:
        deadline = time.monotonic() + 30
        while True:  # a cluster just started may still be electing its meta leader
            try:
                return await JetStreamEventStore.create(nc, STORE, self.config)
            except StoreUnavailableError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)


def _cluster(base: Path, size: int) -> list[NatsServer]:
    """start_cluster's layout, each server with the mapping."""
    ports = [free_port() for _ in range(size)]
    name = f"lagretry-{ports[0]}"  # a name of its own, as start_cluster gives
    servers = [NatsServer(store_dir=base / f"n{i}", name=f"n{i}", cluster_port=ports[i],
                          cluster_name=name,
                          routes=[p for j, p in enumerate(ports) if j != i],
                          extra_config=MAPPING)
               for i in range(size)]
    for server in servers:
        server.start(wait=False)
    for server in servers:
        server.wait_ready(timeout=30)
    return servers


@pytest.fixture(params=["single server", "3-node cluster"])
async def lagging(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Lagging]:
    if request.param == "single server":
        servers = [NatsServer(tmp_path, extra_config=MAPPING).start()]
        config = JetStreamConfig(request_timeout=2.0)
    else:
        servers = await asyncio.to_thread(_cluster, tmp_path, 3)
        config = JetStreamConfig(replica_count=3, request_timeout=2.0)
    follower = await nats.connect(servers[0].url)

    async def answer_empty(message: Msg) -> None:
        await follower.publish(message.reply, b"", headers={"Status": "404",
                                                           "Description": "Message Not Found"})

    await follower.subscribe("lagging.>", cb=answer_empty)
    await follower.flush()
    try:
        yield Lagging(servers, config)
    finally:
        await follower.close()
        for server in servers:
            await asyncio.to_thread(server.stop)


async def _lost_ack(nc: Client, store: JetStreamEventStore, events: list[Event]) -> None:
    """Publish ``events`` as the store does, and drop the acknowledgement: what a save
    whose ack was lost leaves behind (the write landed, the caller saw an error)."""
    subject = store.event_subject(events[0].actor_id)
    messages = [jsapi.Outgoing(subject, event.model_dump_json().encode(),
                               {"Nats-Msg-Id": event.id, "Aether-Version": str(event.version)})
                for event in events]
    if len(messages) == 1:
        await jsapi.publish(nc, messages[0], 5.0)
    else:
        await jsapi.publish_atomic(nc, "lost", messages, 5.0)


@pytest.mark.parametrize("size", [1, 3])
async def test_a_retried_save_whose_ack_was_lost_is_accepted_once(
    lagging: Lagging, size: int
) -> None:
    # size 1: save_event; 3: an atomic batch through save_events.
    nc = await lagging.connect()
    try:
        outcomes = []
        for round_ in range(ROUNDS):
            actor = f"size{size}-{round_}"
            batch = [make_event(actor, version) for version in range(1, size + 1)]
            await _lost_ack(nc, await lagging.store(nc), batch)
            retrying = await lagging.store(nc)  # knows nothing of it
            try:
                if size == 1:
                    await retrying.save_event(batch[0])
                else:
                    await retrying.save_events(batch)
            except Exception as exc:  # the outcome is what is asserted
                outcomes.append((actor, repr(exc)))
                continue
            # The retry said the events are stored: this store's reads show them from now on.
            seen = [await retrying.get_latest_version(actor) for _ in range(4)]
            if seen != [size] * 4:
                outcomes.append((actor, f"read back versions {seen}"))
        assert outcomes == []
        assert (await nc.jetstream().stream_info(STORE)).state.messages == size * ROUNDS
    finally:
        await nc.close()


async def test_a_retried_event_no_longer_the_latest_is_a_conflict(lagging: Lagging) -> None:
    # As every store says (the conformance suite's test_retrying_the_latest_save_is_a_no_op),
    # even when a lagging replica shows the retrying store an empty history, so that its
    # publish reaches a clustered server's duplicate check, which comes before the sequence's.
    nc = await lagging.connect()
    try:
        answers: list[int | None] = []
        for round_ in range(ROUNDS):
            actor = f"under-{round_}"
            event = make_event(actor, 1)
            writer = await lagging.store(nc)
            await _lost_ack(nc, writer, [event])
            await writer.save_event(make_event(actor, 2))  # on top of it
            retrying = await lagging.store(nc)
            try:
                await retrying.save_event(event)
            except VersionConflictError as conflict:
                answers.append(conflict.current_version)
            else:
                answers.append(None)
        assert answers == [2] * ROUNDS
        assert (await nc.jetstream().stream_info(STORE)).state.messages == 2 * ROUNDS
    finally:
        await nc.close()
