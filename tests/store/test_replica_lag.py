"""A replica that lags behind what the store wrote never shows the store an older history.

On a replicated stream, direct gets are answered by any replica, and a follower may not yet
hold a write the quorum acknowledged. nats-server 2.15 ignores ADR-53's ``min_last_seq``, so
the store checks each answer against the part of the actor's history it has already seen.

The lagging follower here is made with nats-server's weighted subject mappings (its own tool
for canaries and fault injection): half of the stream's direct gets go to a client that
answers as a follower still catching up does, "no message", the rest to JetStream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from aether.store import JetStreamEventStore
from aether.testing import NatsServer, make_event

STORE = "lag"  # its stream is "lag": the mapping below names it

MAPPING = """
mappings = {
  "$JS.API.DIRECT.GET.lag": [
    {destination: "$JS.API.DIRECT.GET.lag", weight: 50%},
    {destination: "lagging.batch", weight: 50%}
  ]
  "$JS.API.DIRECT.GET.lag.>": [
    {destination: "$JS.API.DIRECT.GET.lag.>", weight: 50%},
    {destination: "lagging.last.>", weight: 50%}
  ]
}
"""


@pytest.fixture
async def lagging(tmp_path: Path) -> AsyncIterator[tuple[NatsServer, list[str]]]:
    """A server whose stream ``lag`` has a follower that holds nothing yet, and the
    requests that follower answered."""
    server = NatsServer(tmp_path, extra_config=MAPPING).start()
    follower = await nats.connect(server.url)
    asked: list[str] = []

    async def answer_empty(message: Msg) -> None:
        asked.append(message.subject)
        await follower.publish(message.reply, b"", headers={"Status": "404",
                                                           "Description": "Message Not Found"})

    await follower.subscribe("lagging.>", cb=answer_empty)
    await follower.flush()
    try:
        yield server, asked
    finally:
        await follower.close()
        server.stop()


async def test_reads_after_a_save_never_show_less_than_the_save(
    lagging: tuple[NatsServer, list[str]],
) -> None:
    server, asked = lagging
    nc: Client = await nats.connect(server.url)
    try:
        store = await JetStreamEventStore.create(nc, STORE)
        assert store.stream_name == "lag"
        shown: list[tuple[str, int, int, int]] = []
        for version in range(1, 41):
            actor = f"order-{version % 4}"
            latest = await store.get_latest_version(actor)
            await store.save_event(make_event(actor, latest + 1))
            after_save = await store.get_latest_version(actor)
            history = len(await store.get_events(actor))
            if (after_save, history) != (latest + 1, latest + 1):
                shown.append((actor, latest + 1, after_save, history))
        assert shown == []
        # The lagging follower did answer: the store asked again rather than never meeting it.
        assert any(s.startswith("lagging.last.") for s in asked)
        assert "lagging.batch" in asked
    finally:
        await nc.close()


async def test_reads_of_another_writers_actor_never_go_back(
    lagging: tuple[NatsServer, list[str]],
) -> None:
    # The floor is what this store has seen of an actor: a store that has seen nothing yet
    # may be shown an empty history by a lagging replica (its save is still checked by the
    # stream leader, so a stale view never overwrites), but once it has seen version 1 it
    # is never shown less; the writer's own reads never go back at all.
    server, _ = lagging
    nc: Client = await nats.connect(server.url)
    try:
        writer = await JetStreamEventStore.create(nc, STORE)
        await writer.save_event(make_event("order-1", 1))
        reader = await JetStreamEventStore.create(nc, STORE)
        seen = [await reader.get_latest_version("order-1") for _ in range(30)]
        assert 1 in seen
        assert set(seen[seen.index(1):]) == {1}
        assert {await writer.get_latest_version("order-1") for _ in range(30)} == {1}
    finally:
        await nc.close()
