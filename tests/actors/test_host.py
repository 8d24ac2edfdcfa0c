"""The actor host: hostile requests get an error reply and never stop it; aggregates stay
cached and are passivated; a shard that moves is drained and its commands are retried."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import nats
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client
from nats.aio.msg import Msg

from aether.cluster import ClusterRouter
from aether.cluster.host import SERVED_AT, SERVED_BY, SERVED_IN
from aether.cluster.kv import bucket_name
from aether.cluster.wire import encode_request, shard_subject
from aether.command import MisaddressedCommandError
from aether.event import COMMAND_ID
from aether.store import InMemoryEventStore, JetStreamEventStore
from aether.testing import NatsServer
from aether.testing.counters import Increment, IncrementCounter, commands
from tests.actors.cluster import SHARDS, LocalNode, agreed, cluster_name, nodes, wait_for

_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
_requests = st.one_of(
    st.binary(max_size=200),
    _json.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({
        "format": st.sampled_from([1, 2, "1"]),
        "actor_id": st.one_of(st.text(max_size=30), st.integers(), st.just("x" * 5000)),
        "shard": st.one_of(st.integers(-5, 40), st.text(max_size=3)),
        "command_type": st.sampled_from(["Increment", "Refuse", "Nope", ""]),
        "data": st.one_of(_json, st.just({"by": "many"}), st.just({"by": 1, "extra": 2})),
        "metadata": st.one_of(_json, st.just({COMMAND_ID: ""})),
    }).map(lambda v: json.dumps(v).encode()),
)


@pytest.fixture
async def node(nats_server: NatsServer) -> AsyncIterator[tuple[LocalNode, Client]]:
    async with nodes(nats_server.url, cluster_name(), ["a"], InMemoryEventStore()) as [one]:
        nc = await nats.connect(nats_server.url)
        yield one, nc
        await nc.drain()


# The node outlives the examples: each example is one more request to the same host.
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=_requests, shard=st.integers(0, SHARDS - 1))
async def test_hostile_requests_get_an_error_reply_and_the_host_keeps_serving(
        node: tuple[LocalNode, Client], payload: bytes, shard: int) -> None:
    local, nc = node
    reply = await nc.request(shard_subject(local.manager.cluster, shard), payload, timeout=5)
    answer = json.loads(reply.data)
    if "error" in answer:
        assert answer["error"]["kind"] in {"invalid", "domain"}, answer
        assert answer["error"]["message"]
    events = await local.router.send("c-after", Increment())
    assert events[0].actor_id == "c-after"


async def test_a_bounded_cache_passivates_and_reloads_without_losing_state(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    async with nodes(nats_server.url, cluster_name(), ["a"], jetstream_store) as [node]:
        node.host.max_actors = 2
        for round_ in range(3):
            for counter in ("p-1", "p-2", "p-3"):
                await node.router.send(counter, Increment(by=round_ + 1))
        assert len(node.host.cached_actors()) == 2
        assert node.host.counters.passivated >= 6
        for counter in ("p-1", "p-2", "p-3"):
            assert [e.data["by"] for e in await jetstream_store.get_events(counter)] == [1, 2, 3]


async def test_commands_keep_flowing_while_nodes_join_and_leave(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    """A stream of commands while a node joins and another leaves: every command succeeds
    once, no two nodes serve one counter under the same shard table version, and the old
    owner lets go of a shard before the new one writes to it (no version conflicts)."""
    cluster = cluster_name()
    counters = [f"r-{i}" for i in range(24)]
    async with nodes(nats_server.url, cluster, ["a", "b"], jetstream_store) as [a, b]:
        client = await nats.connect(nats_server.url)
        router = ClusterRouter(client, cluster, commands, shard_count=SHARDS, timeout=30)
        sent: dict[str, int] = dict.fromkeys(counters, 0)
        stop = asyncio.Event()

        async def stream(counter: str) -> None:
            while not stop.is_set():
                await router.send(counter, Increment())
                sent[counter] += 1

        workers = [asyncio.create_task(stream(c)) for c in counters]
        try:
            await asyncio.sleep(0.5)
            async with nodes(nats_server.url, cluster, ["c"], jetstream_store, wait=False) as [c]:
                await wait_for(lambda: agreed([a, b, c]))
                everyone = [a, b, c]
                await asyncio.sleep(0.3)
                await a.host.stop()
                await a.manager.stop()
                await wait_for(lambda: agreed([b, c]))
                await asyncio.sleep(0.3)
                stop.set()
                await asyncio.gather(*workers)
                assert [n.host.counters.conflicts for n in everyone] == [0, 0, 0]
        finally:
            stop.set()
            await client.drain()
        served: dict[tuple[str, str, str], set[str]] = {}
        for counter in counters:
            events = await jetstream_store.get_events(counter)
            assert len(events) == sent[counter] > 0
            assert [e.version for e in events] == list(range(1, len(events) + 1))
            for event in events:
                key = (counter, event.metadata[SERVED_IN], event.metadata[SERVED_AT])
                served.setdefault(key, set()).add(event.metadata[SERVED_BY])
        assert all(len(by) == 1 for by in served.values()), served
        assert {"a", "b", "c"} <= set().union(*served.values())


def _raw_publish(port: int, subject: str, headers: bytes) -> None:
    """One HPUB with these exact header bytes, from a bare socket (no client would send it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.recv(4096)  # INFO
        raw.sendall(b'CONNECT {"verbose":false,"headers":true,"protocol":1}\r\n')
        payload = b"{}"
        raw.sendall(f"HPUB {subject} _INBOX.x {len(headers)} {len(headers) + len(payload)}"
                    f"\r\n".encode() + headers + payload + b"\r\nPING\r\n")
        raw.recv(4096)  # PONG: the server took it


async def test_a_message_its_client_cannot_parse_does_not_leave_a_node_deaf(
        nats_server: NatsServer) -> None:
    # nats-py's reader stops for good on a header status line that is not UTF-8, and the
    # connection stays up: the node heard nothing (heartbeats, commands) until its pings
    # failed minutes later, while still subscribed. It reconnects when heartbeats go
    # unanswered on a connection that is up.
    cluster = cluster_name()
    async with nodes(nats_server.url, cluster, ["a"], InMemoryEventStore()) as [node]:
        client = await nats.connect(nats_server.url)
        router = await ClusterRouter.connect(client, cluster, commands, timeout=30)
        await router.send("c-1", Increment())
        subject = shard_subject(cluster, node.manager.shard_of("c-1"))
        await asyncio.to_thread(_raw_publish, nats_server.port, subject,
                                b"NATS/1.0 \xff\xfe\xfd\r\n\r\n")
        await asyncio.sleep(1)
        events = await router.send("c-1", Increment())
        assert events[0].version == 2
        await client.drain()


async def test_a_message_its_client_cannot_parse_does_not_leave_a_client_router_deaf(
        nats_server: NatsServer) -> None:
    # The same poison sent to a client-only router's reply inbox (anyone who can read
    # aether.actors.> learns it): every later command timed out, the connection up. An
    # attempt that goes unanswered now pings the server, and reconnects when it is deaf.
    cluster = cluster_name()
    async with nodes(nats_server.url, cluster, ["a"], InMemoryEventStore()) as [_]:
        client = await nats.connect(nats_server.url)
        router = await ClusterRouter.connect(client, cluster, commands, timeout=30,
                                             attempt_timeout=1.0)
        spy = await nats.connect(nats_server.url)
        inbox: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def learn(message: Msg) -> None:
            if message.reply and not inbox.done():
                inbox.set_result(message.reply)

        await spy.subscribe("aether.actors.>", cb=learn)
        await spy.flush()
        await router.send("c-1", Increment())
        await asyncio.to_thread(_raw_publish, nats_server.port, await inbox,
                                b"NATS/1.0 \xff\xfe\xfd\r\n\r\n")
        await asyncio.sleep(0.5)
        for version in (2, 3):  # served again, the first after a reconnect
            events = await router.send("c-1", Increment())
            assert events[0].version == version
        assert client.stats["reconnects"] >= 1
        await spy.close()
        await client.drain()


async def test_a_claim_outlasts_a_brief_lapse_of_the_nodes_membership(
        nats_server: NatsServer) -> None:
    # A claim that found the node's membership lease lapsed (my_shards() empty for a moment)
    # gave up without subscribing; when the shard manager never saw the lapse (it reports
    # what differs between its rounds), the shard stayed unserved until the next change.
    async with nodes(nats_server.url, cluster_name(), ["a"], InMemoryEventStore()) as [node]:
        shard = min(node.manager.my_shards())
        await node.host._listeners.lose(frozenset({shard}))  # as if handed over, and now back
        node.manager.discovery._alive_until = 0.0  # lapsed until the next heartbeat
        node.host._listeners.gain(frozenset({shard}))
        await wait_for(lambda: node.host.serves(shard), timeout=10)


async def test_events_name_the_founding_their_table_version_belongs_to(
        nats_server: NatsServer) -> None:
    """Table versions start again from 1 when the cluster's bucket is founded anew, so
    SERVED_AT alone is ambiguous afterwards: SERVED_IN names the founding."""
    store = InMemoryEventStore()
    cluster = cluster_name()
    async with nodes(nats_server.url, cluster, ["a", "b"], store) as started:
        await wait_for(lambda: agreed(started))
        first = started[0].manager.shards.founded
        for index in range(8):
            await started[0].router.send(f"f-{index}", Increment())
        js = started[0].manager.nc.jetstream()
        await js.delete_stream(f"KV_{bucket_name(cluster)}")
        await wait_for(lambda: agreed(started) and all(
            node.manager.shards.founded not in ("", first) for node in started))
        second = started[0].manager.shards.founded
        for index in range(8):
            await started[1].router.send(f"f-{index}", Increment())
    served: dict[tuple[str, str, str], set[str]] = {}
    foundings: list[str] = []
    for index in range(8):
        events = await store.get_events(f"f-{index}")
        assert [e.version for e in events] == [1, 2]
        foundings += [e.metadata[SERVED_IN] for e in events]
        for event in events:
            key = (event.actor_id, event.metadata[SERVED_IN], event.metadata[SERVED_AT])
            served.setdefault(key, set()).add(event.metadata[SERVED_BY])
    assert foundings == [first, second] * 8
    assert all(len(by) == 1 for by in served.values()), served


async def test_a_misaddressed_command_is_refused_by_the_cluster_router_and_the_host(
        node: tuple[LocalNode, Client]) -> None:
    """The cluster router refuses before sending; a host refuses one that came over the wire
    (another client), replying "invalid" and storing nothing."""
    local, nc = node
    with pytest.raises(MisaddressedCommandError, match="is for actor 'counter-a'"):
        await local.router.send("counter-b", IncrementCounter(counter="a"))
    shard = local.manager.shard_of("counter-b")
    payload = encode_request("counter-b", shard, commands.encode(IncrementCounter(counter="a")),
                             {COMMAND_ID: "c-1"})
    reply = json.loads((await nc.request(shard_subject(local.manager.cluster, shard), payload,
                                         timeout=5)).data)
    assert reply["error"]["kind"] == "invalid"
    assert "IncrementCounter is for actor 'counter-a', not 'counter-b'" in reply["error"][
        "message"]
    assert await local.host.router.route_for(IncrementCounter).repository.store.get_events(
        "counter-b") == []
    events = await local.router.send_command(IncrementCounter(counter="a"))
    assert [e.actor_id for e in events] == ["counter-a"]
