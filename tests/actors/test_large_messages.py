"""Commands and results near the server's max_payload through a remote owner: a result
larger than one message arrives whole (in parts, never by running the command again), a
command too large is refused before it is sent, wherever its actor lives, and an event no
reply can carry is an error that says so. Before: the reply was dropped silently (every
send and resend of the command timed out, though it had run), an oversized request raised
nats-py's own MaxPayloadError, and non-ASCII text took up to 3x its size on the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import nats
import pytest
from pydantic import BaseModel

from aether.aggregate import AggregateRoot, Repository
from aether.cluster import ActorHost, ClusterManager, ClusterRouter
from aether.cluster.shard import shard_for
from aether.cluster.wire import (
    FROM_VERSION_RESERVE,
    RemoteCommandError,
    decode_reply,
    encode_request,
    error_reply,
)
from aether.command import (
    Command,
    CommandRegistry,
    InvalidCommandError,
    UnknownCommandTypeError,
    command_metadata,
)
from aether.errors import DomainError
from aether.event import COMMAND_ID, encode_record
from aether.registry import EventPayload, EventRegistry
from aether.router import CommandRouter
from aether.store import InMemoryEventStore
from aether.testing import NatsServer
from tests.actors.cluster import cluster_name

MAX_PAYLOAD = 64 * 1024


class Filled(EventPayload):
    event_type: ClassVar[str] = "Filled"
    text: str


class Fill(Command):
    """Record ``events`` events, each holding ``text`` repeated ``times`` times."""

    command_type: ClassVar[str] = "Fill"
    text: str = "x"
    times: int = 1
    events: int = 1
    pad: str = ""  # makes the request as large as a test needs; recorded nowhere


class BlobState(BaseModel):
    fills: int = 0


class Blob(AggregateRoot[BlobState]):
    @classmethod
    def initial_state(cls) -> BlobState:
        return BlobState()

    def handle(self, command: Command) -> None:
        assert isinstance(command, Fill)
        if command.times < 0:
            raise DomainError(f"blob {self.id} cannot hold {command.text[:10]!r} fewer than 0 "
                              f"times")
        for _ in range(command.events):
            self.record(Filled(text=command.text * command.times))

    def apply(self, event: EventPayload) -> None:
        self.state = BlobState(fills=self.state.fills + 1)


commands = CommandRegistry([Fill])


class Node:
    def __init__(self, store: InMemoryEventStore, host: ActorHost, router: ClusterRouter
                 ) -> None:
        self.store = store
        self.host = host
        self.router = router


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    """One node on a server of a small max_payload, and a client router whose every command
    goes over the wire to it."""
    server = NatsServer(store_dir=tmp_path, name="small",
                        extra_config=f"max_payload: {MAX_PAYLOAD}\n").start()
    store = InMemoryEventStore()
    router = CommandRouter()
    router.route(Fill, Repository(store, Blob, EventRegistry([Filled])), Blob.handle)
    nc, client = await nats.connect(server.url), await nats.connect(server.url)
    cluster = cluster_name()
    manager = ClusterManager(nc, "only", cluster=cluster, shard_count=4, lease_ttl=1.0)
    host = ActorHost(manager, router, commands)
    try:
        await host.start()
        await manager.start()
        remote = await ClusterRouter.connect(client, cluster, commands, timeout=20)
        yield Node(store, host, remote)
        here = ClusterRouter.for_host(host)
        # The owner's own router refuses what the client's refuses.
        with pytest.raises(InvalidCommandError, match="max_payload"):
            await here.send("b-local", Fill(text="é" * (MAX_PAYLOAD // 2)))
    finally:
        await host.stop()
        await manager.stop()
        await nc.drain()
        await client.drain()
        server.stop()


async def test_a_result_larger_than_one_message_arrives_whole_and_runs_once(node: Node) -> None:
    # Five events of 20,000 "é" (40 kB as UTF-8, 120 kB as JSON escapes): 200 kB of result
    # through a 64 kB max_payload.
    command = Fill(text="é", times=20_000, events=5)
    events = await node.router.send("b-1", command, {COMMAND_ID: "fill-1"})
    stored = await node.store.get_events("b-1")
    assert events == stored and len(stored) == 5
    assert all(event.data["text"] == "é" * 20_000 for event in events)
    again = await node.router.send("b-1", command, {COMMAND_ID: "fill-1"})
    assert again == stored and await node.store.get_events("b-1") == stored  # not run twice
    # The rest of a reply, as the owner serves it (to a router in its own process too):
    # read, never executed; a command it does not remember is an error, not a new run.
    assert await node.host.recorded("b-1", command, "fill-1", 4) == stored[3:]
    with pytest.raises(InvalidCommandError, match="read the events from the store"):
        await node.host.recorded("b-1", command, "never-sent", 2)
    assert await node.store.get_events("b-1") == stored


async def test_an_event_no_reply_can_carry_is_an_error_saying_so(node: Node) -> None:
    # The in-memory store has no size limit: it keeps an event of 70 kB, which no reply
    # through this server can carry. The command ran; the error says so and where to look.
    with pytest.raises(RemoteCommandError, match="max_payload") as caught:
        await node.router.send("b-2", Fill(times=70_000), {COMMAND_ID: "fill-2"})
    assert caught.value.error_type == "ReplyTooLargeError"
    assert "events are stored" in str(caught.value)
    assert len(await node.store.get_events("b-2")) == 1


async def test_a_command_too_large_is_refused_before_it_is_sent(node: Node) -> None:
    with pytest.raises(InvalidCommandError, match=f"max_payload \\({MAX_PAYLOAD}\\)"):
        await node.router.send("b-3", Fill(text="é" * (MAX_PAYLOAD // 2)))
    assert await node.store.get_events("b-3") == []
    # 20,000 "é" are 40 kB as sent (UTF-8), not the 120 kB of JSON's escapes: it goes through.
    with pytest.raises(DomainError, match="fewer than 0"):
        await node.router.send("b-3", Fill(text="é" * 20_000, times=-1))
    (event,) = await node.router.send("b-3", Fill(text="é" * 20_000))
    assert event.data["text"] == "é" * 20_000


def sized(target: int, actor_id: str, command_id: str, **fields: int) -> Fill:
    """A Fill whose request is ``target`` bytes on the wire."""
    def size(pad: str) -> int:
        command = Fill(pad=pad, **fields)
        return len(encode_request(actor_id, shard_for(actor_id, 4), commands.encode(command),
                                  command_metadata(actor_id, command, {COMMAND_ID: command_id})))
    pad = "x" * (target - size(""))
    assert size(pad) == target
    return Fill(pad=pad, **fields)


async def test_a_command_near_the_limit_whose_result_comes_in_parts(node: Node) -> None:
    # The request for the rest of a result is the request plus "from_version": a command
    # within max_payload but not within that was executed, and then every request for the
    # rest of its result was refused, as if the command were invalid.
    fits = MAX_PAYLOAD - FROM_VERSION_RESERVE
    command = sized(fits, "b-5", "near", times=40_000, events=3)  # 3 x 40 kB of result
    events = await node.router.send("b-5", command, {COMMAND_ID: "near"})
    assert events == await node.store.get_events("b-5") and len(events) == 3
    too_big = sized(fits + 1, "b-6", "over", times=40_000, events=3)
    with pytest.raises(InvalidCommandError, match="max_payload"):
        await node.router.send("b-6", too_big, {COMMAND_ID: "over"})
    assert await node.store.get_events("b-6") == []


async def test_an_event_that_fits_a_reply_alone_is_delivered(node: Node) -> None:
    # A reply reserved room for the "more" ending even after its last event: events within
    # 13 bytes of the limit were refused as too large for any reply.
    (probe,) = await node.router.send("b-7", Fill(times=1000))
    overhead = len(encode_record(probe)) - 1000
    envelope = len(b'{"format":1,"events":[]}')
    (event,) = await node.router.send("b-8", Fill(times=MAX_PAYLOAD - envelope - overhead))
    assert len(encode_record(event)) + envelope == MAX_PAYLOAD


def test_an_error_reply_fits_max_payload_and_keeps_its_kind() -> None:
    # A refusal quoting a long non-ASCII text was sent with JSON's escapes (12 bytes an
    # emoji) and never cut to max_payload: the owner could not send it, and remote callers
    # timed out where local ones got the DomainError.
    refusal = DomainError("🙂" * 4000)
    assert len(error_reply(refusal)) < 4000 * 5  # UTF-8: 4 bytes an emoji
    reply = error_reply(refusal, max_payload=2000)
    assert len(reply) <= 2000
    with pytest.raises(DomainError, match=r"^🙂+"):
        decode_reply(reply, "b-1", "cid")
    known = UnknownCommandTypeError("Nope", [f"Command{n:05}" for n in range(3000)])
    assert len(error_reply(known, max_payload=1000)) <= 1000
