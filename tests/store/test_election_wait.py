"""A write nobody takes is asked again for the whole of the store's ``request_timeout``
(aether.store.jsapi.through_elections), on a real nats-server: a subject no stream captures
is refused exactly as a replicated stream between leaders refuses one ("no responders").
The cluster itself is in test_jetstream_resilience.py."""

from __future__ import annotations

import asyncio
import time
from uuid import uuid4

import nats
import nats.errors
import pytest
from nats.js.api import PubAck

from aether import StoreUnavailableError
from aether.store import JetStreamConfig, JetStreamEventStore, jsapi
from aether.testing import NatsServer, make_event


async def test_a_refused_write_is_asked_again_until_its_wait_ends(
        nats_server: NatsServer) -> None:
    """The last try comes at the end of the wait, not up to one pause (0.5 s) before it,
    where a leader elected in that pause was never asked."""
    nc = await nats.connect(nats_server.url)
    message = jsapi.Outgoing(f"nothing.captures.{uuid4().hex}", b"{}", {})
    tries: list[float] = []

    async def publish() -> PubAck:
        tries.append(time.monotonic())
        return await jsapi.publish(nc, message, 1.0)

    try:
        with pytest.raises(nats.errors.NoRespondersError):
            await jsapi.through_elections(nc, 1.0, publish)
    finally:
        await nc.close()
    # The wait runs from the first refusal, which came after the first try.
    assert tries[-1] - tries[0] >= 1.0


async def test_a_save_nobody_takes_says_what_to_do(nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        store = await JetStreamEventStore.create(
            nc, f"gone{uuid4().hex[:8]}", JetStreamConfig(request_timeout=0.3))
        await store.save_event(make_event("order-1", 1))
        await nc.jetstream().delete_stream(store.stream_name)
        with pytest.raises(StoreUnavailableError) as raised:
            await store.save_event(make_event("order-1", 2))
    finally:
        await nc.close()
    assert "without a leader" in str(raised.value)
    assert "request_timeout" in str(raised.value)


async def test_a_save_tries_again_when_the_look_between_tries_goes_unanswered(
        private_nats_server: NatsServer) -> None:
    """A try whose ack never came is followed by a look at where the actor's history ends
    (it may have landed). On a stream between leaders that look can go unanswered too: the
    surviving replicas lag the write they acked until a new leader commits it, and only a
    leader could settle that. A save with tries left must try again (the event id makes it
    safe), not fail: in 2 of 62 trials with the defaults, a save lost in flight at a stream
    leader's SIGKILL failed so after 10 s, though the election was over at 5.7 and 7.2 s.
    A frozen server stands in: its try and its look time out, and it wakes during a later
    try."""
    server = private_nats_server
    nc = await nats.connect(server.url)
    try:
        store = await JetStreamEventStore.create(
            nc, "events", JetStreamConfig(request_timeout=2.0, publish_attempts=3))
        await store.save_event(make_event("order-1", 1))
        event = make_event("order-1", 2)
        await asyncio.to_thread(server.pause)
        try:
            saving = asyncio.create_task(store.save_event(event))
            # try 1 until 2 s, its look until 4 s; then try 2 (4-6 s), a look, try 3 (8-10 s)
            await asyncio.sleep(5.0)
        finally:
            await asyncio.to_thread(server.resume)
        await saving
        assert [e.id for e in await store.get_events("order-1")][1:] == [event.id]
    finally:
        await nc.close()
