"""Hostile traffic on the actor wire: requests an owner must refuse clearly without doing
anything on the requester's behalf, and replies a caller must never take for its result."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import nats
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.aio.client import Client
from nats.aio.msg import Msg

from aether import ClusterRouter, DomainError, InvalidCommandError, InvalidEventError
from aether.cluster.shard import shard_for
from aether.cluster.wire import RemoteCommandError, decode_reply, shard_subject
from aether.event import COMMAND_ID
from aether.store import InMemoryEventStore, JetStreamEventStore
from aether.store.naming import encode_token
from aether.testing import NatsServer
from aether.testing.counters import Increment, commands
from tests.actors.cluster import SHARDS, cluster_name, nodes, wait_for

DEEP = b"[" * 100_000 + b"]" * 100_000


def request(actor_id: str, *, data: bytes = b'{"by":1}', shard: int | None = None) -> bytes:
    """A well-formed request around raw ``data`` (so it can hold what json.dumps cannot)."""
    shard = shard_for(actor_id, SHARDS) if shard is None else shard
    head = json.dumps({"format": 1, "actor_id": actor_id, "shard": shard,
                       "command_type": "Increment", "metadata": {}})
    return head[:-1].encode() + b',"data":' + data + b"}"


async def test_requests_nested_or_out_of_range_are_refused_as_invalid(
        nats_server: NatsServer) -> None:
    store = InMemoryEventStore()
    async with nodes(nats_server.url, cluster_name(), ["a"], store) as [node]:
        nc = await nats.connect(nats_server.url)
        try:
            hostile = {
                "nested": DEEP,
                "nested data": request("n-1", data=DEEP),
                "inf": request("n-2", data=b'{"by":1e400}'),
                "nan": request("n-3", data=b'{"by":NaN}'),
                "long int": request("n-4", data=b'{"by":' + b"9" * 5000 + b"}"),
                "int beyond 64 bits": request("n-5", data=b'{"by":' + b"9" * 30 + b"}"),
                "lone surrogate id": request("n-\ud800", shard=0),
                "10 kB id": request("x" * 10_000),
            }
            for name, payload in hostile.items():
                subject = shard_subject(node.manager.cluster, shard_for("n-1", SHARDS))
                answer = json.loads((await nc.request(subject, payload, timeout=5)).data)
                assert answer["error"]["kind"] == "invalid", (name, answer)
            assert node.host.counters.bad_requests == len(hostile)
            assert await store.read_all() == []
            assert (await node.router.send("n-after", Increment()))[0].version == 1
        finally:
            await nc.drain()


async def test_an_owner_never_answers_into_the_stream_or_the_jetstream_api(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    """The answer goes out on the owner's connection: a reply subject naming the event
    stream would append the answer to the log every reaction runner reads (and stop them
    all on a message that is no event); one naming the JetStream API would call it. None of
    these requests (nor one without a reply subject) is executed."""
    store = jetstream_store
    async with nodes(nats_server.url, cluster_name(), ["a"], store) as [node]:
        await node.router.send("r-1", Increment())
        nc = await nats.connect(nats_server.url)
        try:
            subject = shard_subject(node.manager.cluster, shard_for("r-2", SHARDS))
            for reply in (f"{store.stream_name}.events.r-2", f"{store.stream_name}.events.x",
                          f"$JS.API.STREAM.PURGE.{store.stream_name}", "aether.actors.x.1"):
                await nc.publish(subject, request("r-2"), reply=reply)
                await nc.publish(subject, b"not json", reply=reply)
            await nc.publish(subject, request("r-2"))  # no reply subject: nobody to answer
            await nc.flush()
            await wait_for(lambda: node.host.counters.bad_requests == 8)
            # A request from a real inbox is served after them, so they were all handled.
            assert (await node.router.send("r-1", Increment()))[0].version == 2
            assert [(e.actor_id, e.version) for _, e in await store.read_all()] == [
                ("r-1", 1), ("r-1", 2)]
        finally:
            await nc.drain()


async def test_a_request_for_an_actor_of_another_nodes_shard_is_not_executed(
        nats_server: NatsServer) -> None:
    """Sent on the subject of a shard this node owns, for an actor whose shard it does not:
    answered ``moved``, never executed here."""
    store = InMemoryEventStore()
    async with nodes(nats_server.url, cluster_name(), ["a", "b"], store) as [a, b]:
        table = a.manager.table
        assert table is not None
        mine, theirs = table.shards_of("a"), table.shards_of("b")
        actor = next(f"o-{i}" for i in range(10_000) if shard_for(f"o-{i}", SHARDS) in theirs)
        nc = await nats.connect(nats_server.url)
        try:
            for shard in sorted(mine):
                subject = shard_subject(a.manager.cluster, shard)
                answer = json.loads((await nc.request(subject, request(actor), timeout=5)).data)
                assert answer["error"]["kind"] == "moved", answer
            assert await store.read_all() == []
            assert a.host.counters.served == b.host.counters.served == 0
        finally:
            await nc.drain()


def _event(actor_id: str, version: int = 1, command_id: str | None = None,
           **changes: Any) -> dict[str, Any]:
    event = {"id": f"e-{version}", "event_type": "Incremented", "actor_id": actor_id,
             "version": version, "data": {"by": 1}, "timestamp": "2026-01-01T00:00:00Z",
             "metadata": {} if command_id is None else {COMMAND_ID: command_id}}
    return {**event, **changes}


def _events(*events: dict[str, Any]) -> bytes:
    return json.dumps({"format": 1, "events": list(events)}).encode()


Forger = Callable[[str, str], bytes]
FORGED: dict[str, Forger] = {
    "another actor's event": lambda actor, cid: _events(_event("someone-else", 1, cid)),
    "an event without the command id": lambda actor, cid: _events(_event(actor, 1)),
    "another command's event": lambda actor, cid: _events(_event(actor, 1, "other")),
    "one forged event among real ones": lambda actor, cid: _events(
        _event(actor, 1, cid), _event(actor, 2, "other")),
    "versions going back": lambda actor, cid: _events(_event(actor, 2, cid),
                                                      _event(actor, 1, cid)),
    "nested JSON": lambda actor, cid: DEEP,
    "nested events": lambda actor, cid: b'{"format":1,"events":' + DEEP + b"}",
    "an event that is no Event": lambda actor, cid: _events(_event(actor, 0, cid)),
    "an event with a float version": lambda actor, cid: _events(
        {**_event(actor, 1, cid), "version": 1.0}),
    "an event with a bad timestamp": lambda actor, cid: _events(
        _event(actor, 1, cid, timestamp="yesterday")),
    "events that are text": lambda actor, cid: b'{"format":1,"events":"abc"}',
    "an error that is text": lambda actor, cid: b'{"format":1,"error":"boom"}',
}


@pytest.fixture
async def fake_owner(nats_server: NatsServer) -> AsyncIterator[tuple[Client, dict[str, Forger]]]:
    """A raw nats-py client answering every shard of cluster ``fake`` with ``answer[0]``."""
    owner = await nats.connect(nats_server.url)
    answer: dict[str, Forger] = {}

    async def respond(message: Msg) -> None:
        sent = json.loads(message.data)
        await message.respond(answer["now"](sent["actor_id"], sent["metadata"][COMMAND_ID]))

    await owner.subscribe(f"aether.actors.{encode_token('fake')}.*", cb=respond)
    await owner.flush()
    client = await nats.connect(nats_server.url)
    yield client, answer
    await client.drain()
    await owner.drain()


@pytest.mark.parametrize("forgery", list(FORGED))
async def test_a_reply_that_is_not_the_commands_answer_is_never_its_result(
        fake_owner: tuple[Client, dict[str, Forger]], forgery: str) -> None:
    client, answer = fake_owner
    answer["now"] = FORGED[forgery]
    router = ClusterRouter(client, "fake", commands, shard_count=SHARDS, timeout=2,
                           attempt_timeout=1)
    with pytest.raises(RemoteCommandError) as raised:
        await router.send("c-1", Increment())
    assert raised.value.kind == "failed"
    assert "unreadable reply" in raised.value.message


async def test_the_real_answer_is_accepted(
        fake_owner: tuple[Client, dict[str, Forger]]) -> None:
    client, answer = fake_owner
    answer["now"] = lambda actor, cid: _events(_event(actor, 4, cid), _event(actor, 5, cid))
    router = ClusterRouter(client, "fake", commands, shard_count=SHARDS, timeout=2)
    events = await router.send("c-1", Increment(), {COMMAND_ID: "mine"})
    assert [(e.actor_id, e.version, e.metadata[COMMAND_ID]) for e in events] == [
        ("c-1", 4, "mine"), ("c-1", 5, "mine")]


_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["format", "events", "more", "error", "kind", "type", "message",
                         "actor_id", "version", "metadata", COMMAND_ID]), inner, max_size=4),
    max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(reply=st.one_of(st.binary(max_size=64), _json.map(lambda v: json.dumps(v).encode()),
                       _json.map(lambda v: json.dumps({"format": 1, "events": [v]}).encode()),
                       _json.map(lambda v: json.dumps({"format": 1, "error": v}).encode())))
def test_any_reply_is_the_commands_events_or_a_documented_error(reply: bytes) -> None:
    try:
        result = decode_reply(reply, "c-1", "cid")
    except (RemoteCommandError, DomainError, InvalidCommandError, InvalidEventError):
        return
    if not isinstance(result, RemoteCommandError):
        assert all(e.actor_id == "c-1" and e.metadata[COMMAND_ID] == "cid"
                   for e in result.events)


