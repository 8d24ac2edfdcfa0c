"""A write nobody takes is asked again for the whole of the store's ``request_timeout``
(aether.store.jsapi.through_elections), on a real nats-server: a subject no stream captures
is refused exactly as a replicated stream between leaders refuses one ("no responders").
The cluster itself is in test_jetstream_resilience.py."""

from __future__ import annotations

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
