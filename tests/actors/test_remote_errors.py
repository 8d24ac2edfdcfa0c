"""A command that fails on a remote owner raises, on its caller's side, what a local
CommandRouter raises for it: the same type with the same fields (VersionConflictError with
its versions, so code that retries on conflict works through a ClusterRouter too), and a
hostile owner can make a caller raise nothing but such a refusal."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

import nats
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from aether import (
    AetherError,
    ClusterRouter,
    CommandRouter,
    DomainError,
    InvalidCommandError,
    RemoteCommandError,
    VersionConflictError,
)
from aether.aggregate import AggregateRoot, Repository
from aether.cluster import ActorHost, ClusterManager
from aether.cluster.wire import decode_reply, encode_error, error_reply
from aether.cluster.wire_errors import (
    _SPECS,
    FAILED,
    FLOAT,
    INT,
    NAME,
    NAMES,
    REBUILT,
    TEXT,
    Check,
)
from aether.command import Command, CommandRegistry, UnknownCommandTypeError
from aether.event import COMMAND_ID, Event
from aether.registry import EventPayload, EventRegistry
from aether.store import JetStreamEventStore
from aether.testing import NatsServer, make_event
from aether.testing.counters import Increment, commands, make_counter_router
from tests.actors.cluster import SHARDS, TTL, LocalNode, agreed, cluster_name, wait_for

text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
FIELD: dict[Check, st.SearchStrategy[Any]] = {
    TEXT: text, NAME: text.filter(bool), INT: st.integers(-(2**63), 2**63 - 1),
    FLOAT: st.floats(0, 1e6), NAMES: st.lists(text, max_size=4),
}


@st.composite
def errors(draw: st.DrawFn) -> tuple[str, list[Any]]:
    """(type name, constructor arguments) of any error the wire rebuilds."""
    name = draw(st.sampled_from(sorted(_SPECS)))
    spec = _SPECS[name]
    if not spec.fields:
        return name, [draw(text)]
    return name, [draw(FIELD[check]) for _, check in spec.fields]


def build(name: str, args: Sequence[Any]) -> AetherError:
    return _SPECS[name].cls(*args)


def same(remote: BaseException, local: BaseException) -> None:
    assert type(remote) is type(local), (remote, local)
    assert str(remote) == str(local)
    assert vars(remote) == vars(local)


def actor_of(name: str, args: list[Any]) -> str:
    spec = _SPECS[name]
    names = [field for field, _ in spec.fields]
    return args[names.index("actor_id")] if spec.about_actor else "c-1"


@settings(max_examples=300, deadline=None)
@given(error=errors())
def test_every_rebuilt_error_crosses_the_wire_as_itself(error: tuple[str, list[Any]]) -> None:
    name, args = error
    local = build(name, args)
    try:
        answer: object = decode_reply(error_reply(local), actor_of(name, args), "cid")
    except AetherError as raised:
        answer = raised
    assert isinstance(answer, BaseException)
    same(answer, local)


def test_an_error_about_another_actor_is_not_taken_for_this_ones() -> None:
    # A conflict on actor x is no answer to a command for actor y: a refusal all the same,
    # but not one a retry-on-conflict loop should act on.
    reply = error_reply(VersionConflictError("x", 3, 3))
    result = decode_reply(reply, "y", "cid")
    assert isinstance(result, RemoteCommandError)
    assert result.error_type == "VersionConflictError" and result.kind == FAILED


_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8)


@st.composite
def forged_errors(draw: st.DrawFn) -> dict[str, Any]:
    """Error objects an owner could send: a known type with fields of any JSON at all."""
    name = draw(st.sampled_from([*sorted(_SPECS), "ShardMovedError", "TypeError", "x"]))
    spec = _SPECS.get(name)
    names = [field for field, _ in spec.fields] if spec else ["actor_id"]
    fields = draw(st.fixed_dictionaries({n: st.one_of(_json, st.just("c-1")) for n in names})
                  | _json)
    kind = draw(st.sampled_from(["domain", "invalid", "failed", "moved", "other"]))
    return {"kind": kind, "type": name, "message": draw(st.one_of(text, _json)),
            "fields": fields}


@settings(max_examples=400, deadline=None)
@given(error=forged_errors())
def test_a_forged_error_is_a_refusal_with_fields_the_caller_could_have_made(
        error: dict[str, Any]) -> None:
    reply = json.dumps({"format": 1, "error": error}).encode()
    try:
        answer: object = decode_reply(reply, "c-1", "cid")
    except AetherError as raised:
        answer = raised
    assert isinstance(answer, AetherError)
    result = answer
    assert type(result) in {*REBUILT, RemoteCommandError}
    spec = _SPECS.get(type(result).__name__)
    assert spec is not None or isinstance(result, RemoteCommandError)
    if spec is not None and spec.fields:
        for field, check in spec.fields:
            assert check(getattr(result, field))
        if spec.about_actor:
            assert result.actor_id == "c-1"  # type: ignore[attr-defined]
    assert len(str(result)) < 20_000


# -- the same failure, sent locally and through the cluster ---------------------------


class Raise(Command):
    """Makes the aggregate fail with the error ``name`` built from ``args``."""

    command_type: ClassVar[str] = "Raise"
    name: str
    args: list[Any]


class Crash(Command):
    command_type: ClassVar[str] = "Crash"


class Noted(EventPayload):
    event_type: ClassVar[str] = "Noted"


class Nothing(BaseModel):
    pass


class Failing(AggregateRoot[Nothing]):
    @classmethod
    def initial_state(cls) -> Nothing:
        return Nothing()

    def handle(self, command: Command) -> None:
        if isinstance(command, Raise):
            raise build(command.name, command.args)
        raise TypeError(f"a bug in the handler of {type(command).__name__}")

    def apply(self, event: EventPayload) -> None:
        pass


def failing_router(store: JetStreamEventStore) -> CommandRouter:
    router = CommandRouter()
    repository = Repository(store, Failing, EventRegistry([Noted]))
    router.route(Raise, repository, Failing.handle)
    router.route(Crash, repository, Failing.handle)
    return router


@contextlib.asynccontextmanager
async def remote(url: str, router: CommandRouter, registry: CommandRegistry
                 ) -> AsyncIterator[ClusterRouter]:
    """One owner node serving ``router``'s commands, and a client with no host of its own:
    every command crosses NATS."""
    cluster = cluster_name()
    owner_nc = await nats.connect(url)
    manager = ClusterManager(owner_nc, "owner", cluster=cluster, shard_count=SHARDS,
                             lease_ttl=TTL)
    host = ActorHost(manager, router, registry)
    client_nc = await nats.connect(url)
    try:
        await host.start()
        await manager.start()
        node = LocalNode(owner_nc, manager, host, ClusterRouter.for_host(host))
        await wait_for(lambda: agreed([node]))
        yield ClusterRouter(client_nc, cluster, registry, shard_count=SHARDS, timeout=10)
    finally:
        await host.stop()
        await manager.stop()
        await owner_nc.drain()
        await client_nc.drain()


@pytest.fixture
async def failing(nats_server: NatsServer, jetstream_store: JetStreamEventStore
                  ) -> AsyncIterator[tuple[CommandRouter, ClusterRouter]]:
    local = failing_router(jetstream_store)
    async with remote(nats_server.url, failing_router(jetstream_store),
                      CommandRegistry([Raise, Crash])) as cluster:
        yield local, cluster


@settings(max_examples=40, deadline=None)
@given(error=errors())
async def test_local_and_cluster_router_raise_the_same_error(
        failing: tuple[CommandRouter, ClusterRouter], error: tuple[str, list[Any]]) -> None:
    local_router, cluster_router = failing
    name, args = error
    actor = actor_of(name, args)
    command = Raise(name=name, args=args)
    with pytest.raises(AetherError) as local:
        await local_router.send(actor, command)
    with pytest.raises(AetherError) as remote_error:
        await cluster_router.send(actor, command)
    same(remote_error.value, local.value)


async def test_a_bug_on_the_owner_is_a_remote_command_error_naming_its_type(
        failing: tuple[CommandRouter, ClusterRouter]) -> None:
    local_router, cluster_router = failing
    with pytest.raises(TypeError, match="a bug in the handler"):
        await local_router.send("c-1", Crash())
    with pytest.raises(RemoteCommandError) as raised:
        await cluster_router.send("c-1", Crash())
    assert (raised.value.kind, raised.value.error_type) == ("failed", "TypeError")
    assert "internal error on node 'owner'" in raised.value.message


class Contended:
    """A JetStream store another writer always beats to the actor's next version: every
    save is refused by the server (a real conflict, not a simulated one)."""

    def __init__(self, store: JetStreamEventStore) -> None:
        self.store = store
        self.contended = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def save_events(self, events: Sequence[Event]) -> None:
        first = events[0]
        if self.contended:
            await self.store.save_event(make_event(first.actor_id, first.version,
                                                   event_type="Incremented", by=10))
        await self.store.save_events(events)


async def test_a_remote_version_conflict_is_a_version_conflict_and_a_retry_succeeds(
        nats_server: NatsServer, jetstream_store: JetStreamEventStore) -> None:
    contended: Any = Contended(jetstream_store)
    local = make_counter_router(contended)
    async with remote(nats_server.url, make_counter_router(contended), commands) as cluster:
        with pytest.raises(VersionConflictError) as at_home:
            await local.send("local-1", Increment())
        with pytest.raises(VersionConflictError) as away:
            await cluster.send("remote-1", Increment(), {COMMAND_ID: "first"})
        assert (away.value.actor_id, away.value.current_version,
                away.value.attempted_version) == (
            "remote-1", at_home.value.current_version, at_home.value.attempted_version)
        # What a caller that retries on conflict does, once the other writer stopped.
        contended.contended = False
        events = await cluster.send("remote-1", Increment(by=2), {COMMAND_ID: "second"})
        assert events[0].version == away.value.current_version + 1


async def test_a_refusal_from_an_older_owner_without_fields_is_still_a_refusal() -> None:
    # An owner from before fields were sent answers a conflict with kind and message only.
    old = json.dumps({"format": 1, "error": {
        "kind": "failed", "type": "VersionConflictError", "message": "version conflict"}})
    result = decode_reply(old.encode(), "c-1", "cid")
    assert isinstance(result, RemoteCommandError)
    assert result.error_type == "VersionConflictError"
    with pytest.raises(InvalidCommandError, match="bad"):
        decode_reply(encode_error("invalid", InvalidCommandError("bad"), "SomeSubclass"),
                     "c-1", "cid")
    with pytest.raises(DomainError, match="no"):
        decode_reply(encode_error("domain", DomainError("no"), "MyRefusal"), "c-1", "cid")


def test_oversized_or_unprintable_error_replies_fall_back_to_bounded_text() -> None:
    huge = ["t" * 500] * 1000  # 500 kB of names: the rebuilt message would list them all
    forged = {"kind": "invalid", "type": "UnknownCommandTypeError", "message": "m" * 10**6,
              "fields": {"command_type": "X", "known": huge}}
    with pytest.raises(InvalidCommandError) as raised:
        decode_reply(json.dumps({"format": 1, "error": forged}).encode(), "c-1", "cid")
    assert type(raised.value) is InvalidCommandError and len(str(raised.value)) <= 4000
    # An owner with such a registry sends no fields, and the caller gets the same base.
    sent = error_reply(UnknownCommandTypeError("X", huge))
    with pytest.raises(InvalidCommandError) as again:
        decode_reply(sent, "c-1", "cid")
    assert type(again.value) is InvalidCommandError
    lone = json.dumps({"format": 1, "error": {"kind": "domain", "type": "DomainError",
                                              "message": "no \ud800 way"}}).encode()
    with pytest.raises(DomainError) as refused:
        decode_reply(lone, "c-1", "cid")
    str(refused.value).encode()  # printable and loggable as UTF-8
