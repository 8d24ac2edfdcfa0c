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

from aether.store import jsapi
from aether.testing import NatsServer


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

