"""NATSEventBus on a real nats-server: the shared conformance suite, several nodes on their own
connections, hostile names and publishers, slow subscribers, cleanup and a server restart."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any
from uuid import uuid4

import nats
import pytest
from nats.aio.client import Client

from aether import (
    EventBroadcaster,
    InvalidEventError,
    NATSEventBus,
    Repository,
    StoreConfigError,
    StoreUnavailableError,
    Subscription,
)
from aether.event import Event, encode_record
from aether.limits import HEADER_RESERVE
from aether.nats_eventbus import INSTANCE_HEADER, NODE_HEADER, namespace_of_token
from aether.store import InMemoryEventStore
from aether.testing import NatsServer, make_event
from aether.testing.conformance import ODD_NAMESPACES, BroadcasterConformance
from aether.testing.conformance.bus import marker, read_n, read_until
from tests.runtime.accounts import Account, registry

Connect = Callable[..., Awaitable[Client]]


async def round_trip(client: Client) -> None:
    """The server has processed everything sent so far (nats-py's flush() sends its PING
    ahead of buffered commands, so one round trip is not enough)."""
    await client.flush()
    await client.flush()


@pytest.fixture
def prefix() -> str:
    """A subject prefix of the test's own, so tests sharing the server never meet."""
    return f"t{uuid4().hex[:10]}.bus"


@pytest.fixture
async def connect(nats_server: NatsServer) -> AsyncIterator[Connect]:
    """Opens connections to the shared server (one per node) and closes them after the test."""
    opened: list[Client] = []

    async def open_connection(server: NatsServer = nats_server, **options: Any) -> Client:
        client = await nats.connect(server.url, connect_timeout=5, **options)
        opened.append(client)
        return client

    yield open_connection
    for client in opened:
        await client.close()


class TestNATSEventBus(BroadcasterConformance):
    @pytest.fixture
    async def bus(self, connect: Connect, prefix: str) -> AsyncIterator[NATSEventBus]:
        bus = NATSEventBus(await connect(), node_id="node-a", subject_prefix=prefix)
        yield bus
        await bus.close()

    @pytest.fixture
    async def peer(self, connect: Connect, prefix: str) -> AsyncIterator[NATSEventBus]:
        bus = NATSEventBus(await connect(), node_id="node-b", subject_prefix=prefix)
        yield bus
        await bus.close()


async def three_nodes(connect: Connect, prefix: str) -> list[NATSEventBus]:
    return [NATSEventBus(await connect(), node_id=f"node-{i}", subject_prefix=prefix)
            for i in range(3)]


def test_nats_event_bus_is_an_event_broadcaster() -> None:
    assert issubclass(NATSEventBus, EventBroadcaster)


async def test_a_repository_publishes_saved_events_to_other_nodes(
    connect: Connect, prefix: str
) -> None:
    here = NATSEventBus(await connect(), subject_prefix=prefix)
    there = NATSEventBus(await connect(), subject_prefix=prefix)
    remote = await there.subscribe("bank")
    repo = Repository(InMemoryEventStore(), Account, registry(), bus=here, namespace="bank")
    account = await repo.load("acc-1")
    account.open("ada")
    account.deposit(Decimal(3))
    saved = await repo.save(account, metadata={"correlation_id": "req-7"})
    assert await read_n(remote, len(saved)) == saved
    await here.close()
    await there.close()


async def test_three_nodes_each_get_every_event_once(connect: Connect, prefix: str) -> None:
    nodes = await three_nodes(connect, prefix)
    subs = [[await node.subscribe("shop"), await node.subscribe("shop")] for node in nodes]
    sent: list[Event] = []
    for round_ in range(1, 4):  # every node publishes, interleaved
        for index, node in enumerate(nodes):
            event = make_event(f"actor-{index}", round_, node=index)
            sent.append(event)
            await node.publish("shop", event)
    # Each node publishes a marker only after it has everything: its echoes are all in.
    ends = [marker() for _ in nodes]
    for node_subs, node, end in zip(subs, nodes, ends, strict=True):
        await read_n(node_subs[1], len(sent))
        await node.publish("shop", end)
    for index, node_subs in enumerate(subs):
        got = await read_until(node_subs[0], ends[-1])
        got = [e for e in got if e.event_type != "Marker"]
        assert sorted(e.id for e in got) == sorted(e.id for e in sent), index
        for publisher in range(3):  # one publisher's events keep their order
            mine = [e.version for e in got if e.data["node"] == publisher]
            assert mine == [1, 2, 3]
    for node in nodes:
        await node.close()


async def test_events_travel_as_json_with_the_node_id_in_a_header(
    connect: Connect, prefix: str
) -> None:
    bus = NATSEventBus(await connect(), node_id="node-7", subject_prefix=prefix)
    raw = await connect()
    seen: asyncio.Queue[Any] = asyncio.Queue()
    await raw.subscribe(f"{prefix}.>", cb=seen.put)
    await round_trip(raw)
    event = make_event("order-1", 3, "OrderPlaced", total=12.5)
    for namespace, token in [("tenant-a", "tenant-a"), ("a.b", "a~2Eb"), ("a_b", "a_b"),
                             ("", "~"), ("*", "~2A"), ("été", "~C3~A9t~C3~A9")]:
        await bus.publish(namespace, event)
        message = await asyncio.wait_for(seen.get(), 10)
        assert message.subject == f"{prefix}.{token}"
        assert bus.subject(namespace) == message.subject
        assert namespace_of_token(token) == namespace
        assert json.loads(message.data) == json.loads(event.model_dump_json())
        assert message.headers[NODE_HEADER] == "node-7"
        assert INSTANCE_HEADER in message.headers
    await bus.close()


async def test_foreign_messages_on_bus_subjects_are_dropped_and_counted(
    connect: Connect, prefix: str
) -> None:
    bus = NATSEventBus(await connect(), subject_prefix=prefix)
    sub = await bus.subscribe("a")
    every = await bus.subscribe_pattern("*")
    raw = await connect()
    await raw.publish(f"{prefix}.a", b"not json")
    await raw.publish(f"{prefix}.a", b'{"id": "x"}')
    await raw.publish(f"{prefix}.~61", make_event("a", 1).model_dump_json().encode())
    await raw.publish(f"{prefix}.~ZZ", make_event("a", 1).model_dump_json().encode())
    await raw.publish(f"{prefix}.~C3", make_event("a", 1).model_dump_json().encode())
    valid = make_event("b", 1)
    await raw.publish(f"{prefix}.a", valid.model_dump_json().encode())  # any client may
    end = marker()
    peer = NATSEventBus(await connect(), subject_prefix=prefix)
    await round_trip(raw)
    await peer.publish("a", end)
    assert await read_until(sub, end) == [valid]
    assert await read_until(every, end) == [valid]
    # 2 bad payloads on "a" reach both feeds; 3 subjects no bus writes reach the wildcard.
    assert bus.undecodable == 2 + 2 + 3
    await bus.close()
    await peer.close()


async def test_a_never_read_subscription_stalls_nothing(connect: Connect, prefix: str) -> None:
    nodes = await three_nodes(connect, prefix)
    count = 5_000
    stuck = await nodes[1].subscribe("busy", max_pending=10)
    reader = await nodes[1].subscribe("busy", max_pending=count)
    other_ns = await nodes[1].subscribe("quiet")
    for version in range(1, count + 1):
        await nodes[0].publish("busy", make_event("a", version))
    await nodes[0].publish("quiet", quiet := make_event("q", 1))
    assert [e.version for e in await read_n(reader, count)] == list(range(1, count + 1))
    assert await read_n(other_ns, 1) == [quiet]
    assert stuck.pending == 10 and stuck.dropped == count - 10
    assert [e.version for e in await read_n(stuck, 10)] == list(range(count - 9, count + 1))
    for node in nodes:
        await node.close()


async def test_a_reader_that_keeps_up_takes_a_burst_as_it_arrives(
    connect: Connect, prefix: str
) -> None:
    """nats-py hands a subscription's queued messages over without pausing; the bus pauses
    every few of them so that a reader takes them as they come: a burst never piles up whole
    in a subscription's buffer (its memory, and the wait for its first event, stay small)."""
    publisher = NATSEventBus(await connect(), subject_prefix=prefix)
    receiver = NATSEventBus(await connect(), subject_prefix=prefix)
    count = 3_000
    exact = await receiver.subscribe("burst", max_pending=count)
    pattern = await receiver.subscribe_pattern("burs?", max_pending=count)

    async def take(subscription: Subscription) -> tuple[list[int], int]:
        versions: list[int] = []
        most_buffered = 0
        while len(versions) < count:
            event = await subscription.get(timeout=30)
            most_buffered = max(most_buffered, subscription.pending + 1)
            versions.append(event.version)
        return versions, most_buffered

    readers = [asyncio.create_task(take(exact)), asyncio.create_task(take(pattern))]
    for version in range(1, count + 1):  # nats-py sends and receives them in large batches
        await publisher.publish("burst", make_event("a", version))
    for versions, most_buffered in await asyncio.gather(*readers):
        assert versions == list(range(1, count + 1))
        assert most_buffered <= 64, f"{most_buffered} of {count} events waited at once"
    await publisher.close()
    await receiver.close()


def server_subjects(server: NatsServer) -> list[str]:
    url = f"http://127.0.0.1:{server.monitor_port}/subsz?subs=1&limit=10000"
    with urllib.request.urlopen(url, timeout=5) as response:
        listing = json.load(response).get("subscriptions_list") or []
    return [entry["subject"] for entry in listing]


async def test_the_nats_subscription_goes_away_with_the_last_local_subscriber(
    connect: Connect, prefix: str, nats_server: NatsServer
) -> None:
    bus = NATSEventBus(await connect(), subject_prefix=prefix)
    subject, wildcard = bus.subject("orders"), f"{prefix}.*"
    first, second = await bus.subscribe("orders"), await bus.subscribe("orders")
    patterns = [await bus.subscribe_pattern("o*"), await bus.subscribe_pattern("*")]
    subjects = server_subjects(nats_server)
    assert subjects.count(subject) == 1 and subjects.count(wildcard) == 1  # shared
    first.close()
    patterns[0].close()
    await bus.flush()
    assert server_subjects(nats_server).count(subject) == 1
    second.close()
    patterns[1].close()
    await bus.flush()
    subjects = server_subjects(nats_server)
    assert subject not in subjects and wildcard not in subjects
    # Re-subscribing right after the last close gets exactly one copy of each event.
    third = await bus.subscribe("orders")
    third.close()
    fourth = await bus.subscribe("orders")
    peer = NATSEventBus(await connect(), subject_prefix=prefix)
    event, end = make_event("a", 1), marker()
    await peer.publish("orders", event)
    await peer.publish("orders", end)
    assert await read_until(fourth, end) == [event]
    await bus.close()
    await bus.flush()
    assert subject not in server_subjects(nats_server)
    await peer.close()


async def test_events_flow_again_after_a_server_restart(
    private_nats_server: NatsServer, connect: Connect, prefix: str
) -> None:
    reconnected = asyncio.Event()

    async def on_reconnect() -> None:
        reconnected.set()

    options = {"max_reconnect_attempts": -1, "reconnect_time_wait": 0.1}
    sender = NATSEventBus(await connect(private_nats_server, **options), subject_prefix=prefix)
    receiver_nc = await connect(private_nats_server, reconnected_cb=on_reconnect, **options)
    receiver = NATSEventBus(receiver_nc, subject_prefix=prefix)
    sub = await receiver.subscribe("live")
    pattern = await receiver.subscribe_pattern("l*")
    before = make_event("a", 1)
    await sender.publish("live", before)
    assert await read_n(sub, 1) == [before]
    assert await read_n(pattern, 1) == [before]

    private_nats_server.stop()
    private_nats_server.start()
    await asyncio.wait_for(reconnected.wait(), 30)  # nats-py reconnects and re-subscribes
    await round_trip(receiver_nc)  # its subscriptions are back on the server
    after = [make_event("a", version) for version in range(2, 12)]
    for event in after:
        await sender.publish("live", event)
    # The sender may have published while still reconnecting: nats-py buffers those.
    assert await read_n(sub, len(after)) == after
    assert await read_n(pattern, len(after)) == after
    assert sub.dropped == 0
    await sender.close()
    await receiver.close()


async def test_refusals_are_clear(connect: Connect, prefix: str) -> None:
    nc = await connect()
    for bad in ["", "a\r\nb", " lead", "x" * 65]:
        with pytest.raises(StoreConfigError, match="node_id"):
            NATSEventBus(nc, node_id=bad)
    for bad_prefix in ["", "a..b", "a.*", "a.>", "a b", ".a", "x" * 100]:
        with pytest.raises(StoreConfigError, match="subject_prefix"):
            NATSEventBus(nc, subject_prefix=bad_prefix)
    bus = NATSEventBus(nc, subject_prefix=prefix)
    huge = make_event("a", 1, blob="x" * (nc.max_payload + 1))
    sub = await bus.subscribe("ns")
    with pytest.raises(InvalidEventError, match="max_payload"):
        await bus.publish("ns", huge)
    assert sub.pending == 0  # refused before anyone saw it
    await bus.publish("ns", ok := make_event("a", 2))  # the connection is fine
    assert await read_n(sub, 1) == [ok]
    await bus.close()


async def test_an_event_over_max_payload_by_its_headers_is_refused(
    connect: Connect, prefix: str
) -> None:
    # The server counts headers with the payload and closes the connection past
    # max_payload: the bus counts HEADER_RESERVE bytes for them, as the stores do.
    nc = await connect()
    bus = NATSEventBus(nc, subject_prefix=prefix)
    sub = await bus.subscribe("ns")
    empty = len(encode_record(make_event("a", 1, blob="")))
    room = nc.max_payload - HEADER_RESERVE - empty
    fits, over = make_event("a", 1, blob="x" * room), make_event("a", 2, blob="x" * (room + 1))
    with pytest.raises(InvalidEventError, match="max_payload"):
        await bus.publish("ns", over)
    assert sub.pending == 0
    await bus.publish("ns", fits)
    assert await read_n(sub, 1) == [fits]
    await bus.flush()  # the server took it: the connection is still open
    assert nc.is_connected
    await bus.close()


async def test_publishing_on_a_closed_connection_raises_store_unavailable(
    connect: Connect, prefix: str
) -> None:
    nc = await connect()
    bus = NATSEventBus(nc, subject_prefix=prefix)
    sub = await bus.subscribe("ns")
    await nc.close()
    with pytest.raises(StoreUnavailableError, match="other nodes did not"):
        await bus.publish("ns", make_event("a", 1))
    assert sub.pending == 1  # local subscribers still got it
    with pytest.raises(StoreUnavailableError):
        await bus.subscribe("other")
    await bus.close()


async def test_odd_namespaces_map_to_distinct_subjects(connect: Connect) -> None:
    bus = NATSEventBus(await connect())
    subjects = {bus.subject(ns) for ns in ODD_NAMESPACES}
    assert len(subjects) == len(ODD_NAMESPACES)
    for subject in subjects:
        token = subject.removeprefix("aether.bus.")
        assert "." not in token and "*" not in token and ">" not in token and " " not in token
        assert len(subject) < 300
    await bus.close()
