"""NATSEventBus's receive path against a hostile publisher on the bus's own subjects: a raw
nats-py client (no headers, forged ones), and a raw protocol writer (header blocks no client
library writes). Whatever arrives, a feed keeps running, nothing that is not an event within
every limit reaches a subscriber, and each message dropped is counted in ``undecodable``.
tests/bus/test_nats_bus.py covers non-JSON, a partial event and non-canonical subjects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import urlparse
from uuid import uuid4

import nats
import pytest
from nats.aio.client import Client

from aether import NATSEventBus, StoreUnavailableError
from aether.limits import MAX_ACTOR_ID_BYTES, MAX_JSON_DEPTH
from aether.nats_eventbus import INSTANCE_HEADER, NODE_HEADER
from aether.testing import NatsServer, make_event
from aether.testing.conformance.bus import marker, read_until


def _event_text(**fields: str) -> bytes:
    """A valid event's JSON with some members' text replaced ("DROP" drops one)."""
    members = {key: json.dumps(value) for key, value in
               json.loads(make_event("actor-1", 2, note="n").model_dump_json()).items()}
    members.update(fields)
    return ("{" + ",".join(f'"{key}":{value}' for key, value in members.items()
                           if value != "DROP") + "}").encode("utf-8", "surrogatepass")


def _nested(levels: int) -> str:
    inner = "1"
    for _ in range(levels - 1):
        inner = "[" + inner + "]"
    return '{"deep":' + inner + "}"


# Valid JSON (mostly), not an Event within every limit: each one must be dropped.
HOSTILE_PAYLOADS = [
    b"", b"null", b"[]", b'"text"', b"1e400", b"\xff\xfe", b"{" * 10_000,
    _event_text(actor_id=json.dumps("x" * (MAX_ACTOR_ID_BYTES + 1))),
    _event_text(actor_id='""'),
    _event_text(event_type='"Order\\r\\nPlaced"'),
    _event_text(id='" padded "'),
    _event_text(version="0"), _event_text(version="true"), _event_text(version='"2"'),
    _event_text(version="9223372036854775808"),
    _event_text(timestamp='"2026-01-01T00:00:00"'),
    _event_text(timestamp='"2026-01-01T00:00:00+00:00:30"'),
    _event_text(data='{"big":9223372036854775808}'), _event_text(data='{"x":NaN}'),
    _event_text(data='{"x":1e400}'), _event_text(data='{"s":"\\ud800"}'),
    _event_text(data=_nested(MAX_JSON_DEPTH + 1)), _event_text(data=_nested(3000)),
    _event_text(metadata='{"a":1}'), _event_text(extra="1"), _event_text(timestamp="DROP"),
    _event_text(data="[]"),
]


@pytest.fixture
async def raw(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    yield client
    await client.close()


async def _round_trip(client: Client) -> None:
    """The server has the client's subscription before another connection publishes
    (nats-py's flush() sends its PING ahead of buffered commands: one is not enough)."""
    await client.flush()
    await client.flush()


async def _raw_protocol(server: NatsServer, frames: list[tuple[str, bytes, bytes]]) -> None:
    """Writes HPUB frames to the server as a raw socket client, header blocks as given."""
    reader, writer = await asyncio.open_connection("127.0.0.1", urlparse(server.url).port)
    await reader.readline()  # INFO
    writer.write(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\n')
    for subject, headers, payload in frames:
        writer.write(b"HPUB %s %d %d\r\n%s%s\r\n" % (
            subject.encode(), len(headers), len(headers) + len(payload), headers, payload))
    writer.write(b"PING\r\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.readline(), 10) == b"PONG\r\n"
    writer.close()


async def test_hostile_messages_reach_no_subscriber_and_are_counted(
        nats_server: NatsServer, raw: Client) -> None:
    prefix = f"t{uuid4().hex[:10]}.bus"
    nc, peer_nc = await nats.connect(nats_server.url), await nats.connect(nats_server.url)
    bus = NATSEventBus(nc, subject_prefix=prefix)
    peer = NATSEventBus(peer_nc, subject_prefix=prefix)
    exact, every = await bus.subscribe("a"), await bus.subscribe_pattern("*")
    subject = f"{prefix}.a"
    # What a node sends, read off the wire: a forger can copy the headers.
    seen = await raw.subscribe(subject, max_msgs=1)
    await _round_trip(raw)
    first = marker()
    await peer.publish("a", first)
    copied = (await seen.next_msg(timeout=10)).headers
    assert copied is not None and copied[INSTANCE_HEADER]
    assert await read_until(exact, first) == [] and await read_until(every, first) == []

    forged = [None, {}, {NODE_HEADER: "node-x"}, {INSTANCE_HEADER: ""}, copied,
              {INSTANCE_HEADER: "x" * 4000, NODE_HEADER: "\u202e"}]
    for payload in HOSTILE_PAYLOADS:
        for headers in forged:
            await raw.publish(subject, payload, headers=headers)
    # Header blocks no client library writes, around payloads that are no events.
    await _raw_protocol(nats_server, [
        (subject, headers, payload)
        for headers in (b"NATS/1.0\r\n\r\n", b"NATS/1.0\r\nAether-Bus: \xff\r\n\r\n",
                        b"NATS/1.0\r\nAether-Bus\r\n\r\n", b"HTTP/1.1\r\n\r\n",
                        b"NATS/1.0\r\nAether-Bus: a\r\nAether-Bus: b\r\n\r\n")
        for payload in (b"{}", _event_text(version="0"))])
    # A valid event under the peer's own headers is dropped as the peer's echo by the peer
    # only: this bus takes it as the peer's publish.
    valid = make_event("b", 1)
    await raw.publish(subject, valid.model_dump_json().encode(), headers=copied)
    await _round_trip(raw)
    end = marker()
    await peer.publish("a", end)
    assert await read_until(exact, end) == [valid]
    assert await read_until(every, end) == [valid]
    dropped = len(HOSTILE_PAYLOADS) * len(forged) + 5 * 2
    assert bus.undecodable == 2 * dropped  # each one reached both feeds
    # Both feeds still run, on a connection that still reads.
    after = make_event("c", 1)
    await peer.publish("a", after)
    assert await exact.get(timeout=10) == after and await every.get(timeout=10) == after
    assert nc.is_connected
    await bus.close()
    await peer.close()
    for client in (nc, peer_nc):
        await client.close()


async def test_a_forged_copy_of_our_own_headers_is_never_delivered_here(
        nats_server: NatsServer, raw: Client) -> None:
    """Our instance header marks our own echo; a forger who read it off the wire can only
    make this bus drop what it sends, never deliver it (and no event is lost: the local
    subscribers had the real one at publish)."""
    prefix = f"t{uuid4().hex[:10]}.bus"
    nc, peer_nc = await nats.connect(nats_server.url), await nats.connect(nats_server.url)
    bus = NATSEventBus(nc, subject_prefix=prefix)
    sub = await bus.subscribe("a")
    seen = await raw.subscribe(f"{prefix}.a", max_msgs=1)
    await _round_trip(raw)
    mine = make_event("a", 1)
    await bus.publish("a", mine)
    ours = (await seen.next_msg(timeout=10)).headers
    assert await sub.get(timeout=10) == mine
    for payload in (make_event("b", 1).model_dump_json().encode(), b"junk"):
        await raw.publish(f"{prefix}.a", payload, headers=ours)
    await _round_trip(raw)
    peer = NATSEventBus(peer_nc, subject_prefix=prefix)
    end = marker()
    await peer.publish("a", end)
    assert await read_until(sub, end) == []
    assert bus.undecodable == 0  # dropped as our echo before any decoding
    await bus.close()
    await peer.close()
    for client in (nc, peer_nc):
        await client.close()


async def test_flush_reports_a_connection_nats_py_stopped_reading(
        nats_server: NatsServer) -> None:
    # nats-py (2.16) stops reading a connection on a header block it cannot parse, before
    # any bus code runs, still says it is connected, and its own flush() then returns at
    # once: docs/runtime.md tells operators to deny untrusted publishers the bus's subjects
    # and to use the bus's flush() as a health check.
    prefix = f"t{uuid4().hex[:10]}.bus"
    nc = await nats.connect(nats_server.url)
    bus = NATSEventBus(nc, subject_prefix=prefix)
    await bus.subscribe("a")
    await bus.flush()  # healthy: the round trip comes back
    await _raw_protocol(nats_server, [(f"{prefix}.a", b"NATS/1.", b"{}")])
    with pytest.raises(StoreUnavailableError, match="no longer reads"):
        await bus.flush()
    assert nc.is_connected  # what nats-py says, which is why flush() is the check
    await nc.flush()  # and nats-py's own flush does not notice
    await bus.close()
    await nc.close()
