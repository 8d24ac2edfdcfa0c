"""The cluster router as a CommandSender: the shipped conformance suite, with the owner in
the same process and behind NATS, and what a caller sees when nobody owns the shard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

import nats
import pytest

from aether import (
    ClusterRouter,
    Command,
    CommandRegistry,
    CommandTimeoutError,
    DomainError,
    InvalidCommandError,
    StoreClosedError,
    StoreUnavailableError,
)
from aether.cluster.shard import shard_for
from aether.event import COMMAND_ID
from aether.store import JetStreamEventStore
from aether.testing import NatsServer
from aether.testing.conformance import SenderConformance
from aether.testing.counters import Increment, Refuse, commands
from tests.actors.cluster import SHARDS, cluster_name, nodes


class TestOwnerInProcess(SenderConformance):
    """Every shard is this process's: no network hop."""

    @pytest.fixture
    def store(self, jetstream_store: JetStreamEventStore) -> JetStreamEventStore:
        return jetstream_store

    @pytest.fixture
    async def sender(self, nats_server: NatsServer,
                     store: JetStreamEventStore) -> AsyncIterator[ClusterRouter]:
        async with nodes(nats_server.url, cluster_name(), ["solo"], store) as [node]:
            yield node.router


class TestOwnerRemote(SenderConformance):
    """The sender holds no host: every command crosses NATS to the owning node, which keeps
    its aggregates cached and snapshots every 2 versions."""

    @pytest.fixture
    def store(self, jetstream_store: JetStreamEventStore) -> JetStreamEventStore:
        return jetstream_store

    @pytest.fixture
    async def sender(self, nats_server: NatsServer,
                     store: JetStreamEventStore) -> AsyncIterator[ClusterRouter]:
        cluster = cluster_name()
        async with nodes(nats_server.url, cluster, ["owner"], store, store, 2):
            nc = await nats.connect(nats_server.url)
            yield ClusterRouter(nc, cluster, commands, shard_count=SHARDS)
            await nc.drain()


async def test_a_refusal_reaches_the_remote_caller_with_its_message(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    cluster = cluster_name()
    async with nodes(nats_server.url, cluster, ["a", "b"], jetstream_store) as [a, b]:
        actor = next(f"c-{i}" for i in range(100)
                     if a.manager.owner_of(f"c-{i}") == "b")
        with pytest.raises(DomainError, match="refuses: closed"):
            await a.router.send(actor, Refuse(reason="closed"))
        events = await a.router.send(actor, Increment(by=2))
        assert events[0].metadata["aether_served_by"] == "b"
        assert b.host.counters.served == 1 and a.host.counters.served == 0


async def test_with_no_owner_the_caller_gets_a_timeout_naming_the_command_id(
        nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        router = ClusterRouter(nc, cluster_name(), commands, shard_count=SHARDS, timeout=0.3)
        with pytest.raises(CommandTimeoutError, match="no node serves the shard") as info:
            await router.send("c-1", Increment(), {COMMAND_ID: "lost-1"})
        assert info.value.command_id == "lost-1"
    finally:
        await nc.drain()


async def test_a_closed_connection_is_store_unavailable_as_on_a_local_router(
        nats_server: NatsServer) -> None:
    # nats-py's own error leaked before. Closed for good, it is the StoreUnavailableError a
    # reaction runner stops on (StoreClosedError), saying how to connect instead.
    nc = await nats.connect(nats_server.url)
    router = ClusterRouter(nc, cluster_name(), commands, shard_count=SHARDS, timeout=5)
    await nc.close()
    with pytest.raises(StoreClosedError, match="max_reconnect_attempts=-1") as closed:
        await router.send("c-1", Increment())
    assert isinstance(closed.value, StoreUnavailableError)


async def test_send_command_without_a_declared_identity_says_what_to_do(
        nats_server: NatsServer) -> None:
    from aether import InvalidCommandError

    nc = await nats.connect(nats_server.url)
    try:
        router = ClusterRouter(nc, cluster_name(), commands, shard_count=SHARDS)
        with pytest.raises(InvalidCommandError, match=r"send\(actor_id, command\)"):
            await router.send_command(Increment())
    finally:
        await nc.drain()


async def test_a_client_reads_the_shard_count_from_the_cluster(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    from aether.cluster import UnknownClusterError

    cluster = cluster_name()
    nc = await nats.connect(nats_server.url)
    try:
        with pytest.raises(UnknownClusterError):
            await ClusterRouter.connect(nc, cluster_name(), commands)
        async with nodes(nats_server.url, cluster, ["a"], jetstream_store):
            client = await ClusterRouter.connect(nc, cluster, commands)
            assert client.shard_count == SHARDS
            assert (await client.send("c-9", Increment()))[0].metadata["aether_served_by"] == "a"
    finally:
        await nc.drain()


class Unrouted(Command):
    """A command the client's registry knows and the owner's does not."""

    command_type: ClassVar[str] = "Unrouted"


async def test_a_request_the_owner_cannot_execute_raises_invalid_command_error(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    cluster = cluster_name()
    nc = await nats.connect(nats_server.url)
    try:
        async with nodes(nats_server.url, cluster, ["owner"], jetstream_store):
            wider = CommandRegistry([Increment, Unrouted])
            router = ClusterRouter(nc, cluster, wider, shard_count=SHARDS, timeout=5)
            with pytest.raises(InvalidCommandError, match=r"no command class registered for "
                               r"command type 'Unrouted'.*known: Increment, Inc"):
                await router.send("c-1", Unrouted())
            # A sender hashing with another shard count is told so, not served wrongly.
            actor = next(f"c-{i}" for i in range(200)
                         if shard_for(f"c-{i}", SHARDS + 1) < SHARDS
                         and shard_for(f"c-{i}", SHARDS + 1) != shard_for(f"c-{i}", SHARDS))
            other = ClusterRouter(nc, cluster, commands, shard_count=SHARDS + 1, timeout=5)
            with pytest.raises(InvalidCommandError, match="shard_count differs"):
                await other.send(actor, Increment())
            assert await jetstream_store.get_events(actor) == []
    finally:
        await nc.drain()
