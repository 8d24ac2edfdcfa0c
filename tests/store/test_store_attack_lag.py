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

from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from aether import Event
from aether.store import JetStreamEventStore, jsapi
from aether.testing import NatsServer, make_event

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


@pytest.fixture
async def lagging(tmp_path: Path) -> AsyncIterator[NatsServer]:
    server = NatsServer(tmp_path, extra_config=MAPPING).start()
    follower = await nats.connect(server.url)

    async def answer_empty(message: Msg) -> None:
        await follower.publish(message.reply, b"", headers={"Status": "404",
                                                           "Description": "Message Not Found"})

    await follower.subscribe("lagging.>", cb=answer_empty)
    await follower.flush()
    try:
        yield server
    finally:
        await follower.close()
        server.stop()


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


async def test_a_retried_event_whose_ack_was_lost_is_accepted_once(
    lagging: NatsServer,
) -> None:
    nc = await nats.connect(lagging.url)
    try:
        outcomes = []
        for round_ in range(ROUNDS):
            actor = f"single-{round_}"
            event = make_event(actor, 1)
            await _lost_ack(nc, await JetStreamEventStore.create(nc, STORE), [event])
            retrying = await JetStreamEventStore.create(nc, STORE)  # knows nothing of it
            try:
                await retrying.save_event(event)
            except Exception as exc:  # the outcome is what is asserted
                outcomes.append((actor, repr(exc)))
                continue
            # The retry said the event is stored: this store's reads show it from now on.
            seen = [await retrying.get_latest_version(actor) for _ in range(4)]
            if seen != [1] * 4:
                outcomes.append((actor, f"read back versions {seen}"))
        assert outcomes == []
        assert (await nc.jetstream().stream_info(STORE)).state.messages == ROUNDS
    finally:
        await nc.close()


async def test_a_retried_batch_whose_ack_was_lost_is_accepted_once(
    lagging: NatsServer,
) -> None:
    nc = await nats.connect(lagging.url)
    try:
        outcomes = []
        for round_ in range(ROUNDS):
            actor = f"batch-{round_}"
            batch = [make_event(actor, version) for version in (1, 2, 3)]
            await _lost_ack(nc, await JetStreamEventStore.create(nc, STORE), batch)
            retrying = await JetStreamEventStore.create(nc, STORE)
            try:
                await retrying.save_events(batch)
            except Exception as exc:  # the outcome is what is asserted
                outcomes.append((actor, repr(exc)))
                continue
            seen = [await retrying.get_latest_version(actor) for _ in range(4)]
            if seen != [3] * 4:
                outcomes.append((actor, f"read back versions {seen}"))
        assert outcomes == []
        assert (await nc.jetstream().stream_info(STORE)).state.messages == 3 * ROUNDS
    finally:
        await nc.close()
