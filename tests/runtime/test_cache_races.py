"""A cached router against an uncached one (``cache_size=0``), with what the other cache tests
leave out: commands racing on one actor (asyncio.gather) on a store whose calls let the event
loop run as a network round trip does, a second writer landing between a load and its save,
handlers that raise, eviction by a tiny cache, snapshots, and a short memory of command ids
(``remembered_commands``), so that which ids are remembered is decided at its boundary.

Sequential sends must be answered exactly as the uncached router answers them on a store
with the same history. A race has no single right answer (the interleavings differ), so it
is checked for what any answer must keep (a history that sending its commands one by one
produces: no command run again while it is remembered, no decision on a stale state) and
its history is then copied to the uncached side, so that everything sent afterwards,
resends of the racing commands included, is compared exactly. The same runs on JetStream
(two streams, a few examples), where the interleavings are the server's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, ClassVar
from uuid import uuid4

import nats
from hypothesis import given, settings
from hypothesis import strategies as st

from aether import COMMAND_ID, CommandRouter, DomainError, Event, Latest
from aether.command import Command
from aether.store import InMemoryEventStore, JetStreamConfig, JetStreamEventStore
from aether.testing import NatsServer
from tests.runtime.accounts import Account
from tests.runtime.bank import Deposit, Open, Withdraw, bank_router

D = Decimal


class ShortMemory(Account):
    remembered_commands: ClassVar[int] = 2


class Boom(Command):
    """Records an event, then fails with an error that is no DomainError."""

    command_type: ClassVar[str] = "Boom"


def _boom(account: Account, command: Boom) -> None:
    account.deposit(D(1000))
    raise RuntimeError("the handler failed half-way")


class PausingStore(InMemoryEventStore):
    """An in-memory store whose calls let the event loop run before and after their work, as
    a round trip to a server does (a write lands in the middle of its await).
    ``slow_ack`` makes the next save's answer arrive that many loop passes later, as an ack
    queued behind other replies does; ``before_save`` lets another writer in first."""

    def __init__(self) -> None:
        super().__init__()
        self.slow_ack = 0
        self.before_save: Callable[[], Any] | None = None

    async def get_events(self, actor_id: str, from_version: int = 0) -> list[Event]:
        await asyncio.sleep(0)
        events = await super().get_events(actor_id, from_version)
        await asyncio.sleep(0)
        return events

    async def get_latest(self, actor_id: str) -> Latest:
        await asyncio.sleep(0)
        latest = await super().get_latest(actor_id)
        await asyncio.sleep(0)
        return latest

    async def save_events(self, events: Sequence[Event]) -> None:
        interloper, self.before_save = self.before_save, None
        if interloper is not None:
            await interloper()
        passes, self.slow_ack = self.slow_ack, 0
        await asyncio.sleep(0)
        await super().save_events(events)
        for _ in range(passes + 1):
            await asyncio.sleep(0)


def _router(store: Any, cache_size: int, snapshot_every: int = 0
            ) -> CommandRouter:
    router, repository = bank_router(store, cache_size, ShortMemory,
                                     snapshot_every=snapshot_every)
    router.route(Boom, repository, _boom)
    return router


async def _answer(router: CommandRouter, actor_id: str, command: Command,
                  command_id: str) -> tuple[str, Any]:
    try:
        events = await router.send(actor_id, command, {COMMAND_ID: command_id})
    except DomainError:
        return "refused", None
    except Exception as error:  # a handler's own error, or a conflict past the retries
        return type(error).__name__, None
    return "ok", [(e.version, e.event_type, dict(e.data), e.metadata[COMMAND_ID])
                  for e in events]


async def test_a_resent_command_is_remembered_after_a_slow_save_raced_a_later_one() -> None:
    """A save whose answer comes late notes its command id in the cache entry's shared ids
    after a racing command that saved the next version (and caught up over the first one)
    noted both: the late note must not make the first id look newer than the second, or the
    short memory forgets the second first and runs it again when it is resent."""
    store = PausingStore()
    cached = _router(store, cache_size=10)
    await cached.send("acc", Open(owner="ada"), {COMMAND_ID: "open"})

    async def later() -> list[Event]:
        for _ in range(4):  # after the first save landed, before its answer came back
            await asyncio.sleep(0)
        return await cached.send("acc", Deposit(amount=D(2)), {COMMAND_ID: "second"})

    store.slow_ack = 12
    first, second = await asyncio.gather(
        cached.send("acc", Deposit(amount=D(1)), {COMMAND_ID: "first"}), later())
    assert [(e.version, e.metadata[COMMAND_ID]) for e in first + second] == [
        (2, "first"), (3, "second")]
    await cached.send("acc", Deposit(amount=D(3)), {COMMAND_ID: "third"})
    # The last two commands are remembered: "second" is answered, not run again.
    uncached = _router(store, cache_size=0)
    assert await _answer(cached, "acc", Deposit(amount=D(2)), "second") == await _answer(
        uncached, "acc", Deposit(amount=D(2)), "second") == (
        "ok", [(3, "MoneyDeposited", {"amount": "2"}, "second")])
    assert [e.version for e in await store.get_events("acc")] == [1, 2, 3, 4]


def test_a_snapshot_listing_commands_out_of_order_still_remembers_them() -> None:
    """Snapshots taken before the ids were kept in version order may list a command after a
    newer one; restored, each is remembered, oldest first."""
    account = ShortMemory("acc")
    account.remember_command_ids({"second": [3, 4], "first": [2, 2], "bad": "x"})
    assert account.remembered_command_ids() == {"first": [2, 2], "second": [3, 4]}


ACTORS = ("acc-a", "acc-b", "acc-c")
_KINDS = ["deposit", "withdraw", "withdraw", "open", "resend", "resend", "boom"]
_send = st.tuples(st.sampled_from(ACTORS), st.sampled_from(_KINDS), st.integers(1, 9))
_step = st.one_of(
    st.tuples(st.just("send"), _send),
    st.tuples(st.just("interlope"), st.sampled_from(ACTORS)),
    # Each racing send starts some loop passes late: during another's load, save or ack.
    st.tuples(st.just("race"), st.tuples(
        st.lists(st.tuples(_send, st.integers(0, 8)), min_size=2, max_size=4),
        st.integers(0, 12))),
)


async def _late(passes: int, answer: Awaitable[tuple[str, Any]]) -> tuple[str, Any]:
    for _ in range(passes):
        await asyncio.sleep(0)
    return await answer


class _Run:
    """The commands sent so far, by command id, and how to make the next one."""

    def __init__(self) -> None:
        self.sent: dict[str, tuple[str, Command]] = {}
        self.order: list[str] = []

    def command(self, actor_id: str, kind: str, amount: int) -> tuple[str, Command, str]:
        if kind == "resend" and self.order:
            command_id = self.order[amount * 7 % len(self.order)]
            return (*self.sent[command_id], command_id)
        command: Command = {"deposit": Deposit(amount=D(amount)),
                            "withdraw": Withdraw(amount=D(amount)), "open": Open(owner="o"),
                            "resend": Deposit(amount=D(amount)), "boom": Boom()}[kind]
        command_id = f"c{len(self.order)}"
        self.sent[command_id] = (actor_id, command)
        self.order.append(command_id)
        return actor_id, command, command_id


def _history(events: list[Event]) -> list[tuple[int, str, dict[str, Any], str | None]]:
    return [(e.version, e.event_type, dict(e.data), e.metadata.get(COMMAND_ID))
            for e in events]


async def _check_race(store: Any, run: _Run,
                      answers: list[tuple[str, Any]], ids: list[str]) -> None:
    """What any outcome of a race must keep: each actor's history is what sending its
    commands one by one, in stored order, to a fresh router produces (so no command ran
    again while it was remembered, and no decision was taken on a stale state); each answer
    is what the store holds for its command."""
    for actor_id in ACTORS:
        history = _history(await store.get_events(actor_id))
        runs: list[list[tuple[int, str, dict[str, Any], str | None]]] = []
        for item in history:  # one run: the events one save stored for one command
            if runs and runs[-1][0][3] == item[3]:
                runs[-1].append(item)
            else:
                runs.append([item])
        replay = _router(InMemoryEventStore(), cache_size=0)
        for events in runs:
            command_id = events[0][3]
            assert command_id is not None
            assert await _answer(replay, actor_id, run.sent[command_id][1], command_id) == (
                "ok", events), (command_id, runs)
        for command_id, answer in zip(ids, answers, strict=True):
            if run.sent[command_id][0] == actor_id and answer[0] == "ok":
                assert answer[1] in runs, (command_id, answer, runs)


async def _copy_history(source: Any, target: Any) -> None:
    for actor_id in ACTORS:
        latest = await target.get_latest_version(actor_id)
        new = await source.get_events(actor_id, latest + 1)
        if new:
            await target.save_events(new)


class InterlopingJetStream(JetStreamEventStore):
    """JetStream with PausingStore's ``before_save`` (its acks come when they come)."""

    before_save: Callable[[], Any] | None = None
    slow_ack = 0

    async def save_events(self, events: Sequence[Event]) -> None:
        interloper, self.before_save = self.before_save, None
        if interloper is not None:
            await interloper()
        await super().save_events(events)


_cache_sizes = st.integers(1, 3)
_snapshots = st.sampled_from([0, 0, 2, 3])
_steps = st.lists(_step, min_size=5, max_size=25)


@settings(max_examples=400, deadline=None)
@given(cache_size=_cache_sizes, snapshot_every=_snapshots, steps=_steps)
async def test_a_cached_router_answers_as_an_uncached_one_through_races(
        cache_size: int, snapshot_every: int, steps: list[tuple[str, Any]]) -> None:
    await _drive((PausingStore(), PausingStore()), cache_size, snapshot_every, steps)


# A few examples: each opens two streams and makes some hundred round trips.
@settings(max_examples=20, deadline=None)
@given(cache_size=_cache_sizes, snapshot_every=_snapshots, steps=_steps)
async def test_a_cached_router_answers_as_an_uncached_one_through_races_on_jetstream(
        nats_server: NatsServer, cache_size: int, snapshot_every: int,
        steps: list[tuple[str, Any]]) -> None:
    nc = await nats.connect(nats_server.url)
    config = JetStreamConfig(storage="memory")
    stores = [await InterlopingJetStream.create(nc, f"race_{uuid4().hex[:10]}", config)
              for _ in range(2)]
    try:
        await _drive((stores[0], stores[1]), cache_size, snapshot_every, steps)
    finally:
        for store in stores:
            await nc.jetstream().delete_stream(store.stream_name)
            await nc.jetstream().delete_stream(store.snapshot_stream_name)
        await nc.close()


async def _drive(stores: tuple[Any, Any], cache_size: int, snapshot_every: int,
                 steps: list[tuple[str, Any]]) -> None:
    """Runs ``steps`` on a cached router over ``stores[0]`` and an uncached one over
    ``stores[1]`` (each store with ``before_save`` and ``slow_ack``), comparing as the
    module docstring says."""
    cached = _router(stores[0], cache_size, snapshot_every)
    uncached = _router(stores[1], 0, snapshot_every)
    writers = [_router(store, 0) for store in stores]  # the second writer on each store
    run = _Run()
    for index, (kind, what) in enumerate(steps):
        if kind == "send":
            actor_id, command, command_id = run.command(*what)
            got = await _answer(cached, actor_id, command, command_id)
            assert got == await _answer(uncached, actor_id, command, command_id), (
                index, actor_id, command, command_id)
        elif kind == "interlope":  # lands right before each side's next save
            command_id = f"i{index}"
            run.sent[command_id] = (what, Deposit(amount=D(5)))
            run.order.append(command_id)
            for store, writer in zip(stores, writers, strict=True):
                store.before_save = (
                    lambda writer=writer, actor_id=what, command_id=command_id: writer.send(
                        actor_id, Deposit(amount=D(5)), {COMMAND_ID: command_id}))
        else:
            sends, slow_ack = what
            for store in stores:
                store.before_save = None
            commands = [run.command(*send) for send, _ in sends]
            stores[0].slow_ack = slow_ack
            answers = await asyncio.gather(*(
                _late(delay, _answer(cached, actor_id, command, command_id))
                for (actor_id, command, command_id), (_, delay) in zip(
                    commands, sends, strict=True)))
            await _check_race(stores[0], run, answers, [c[2] for c in commands])
            await _copy_history(stores[0], stores[1])
    for store in stores:
        store.before_save = None
    for command_id in run.order:  # every command again: answered alike, run at most once
        actor_id, command = run.sent[command_id]
        got = await _answer(cached, actor_id, command, command_id)
        assert got == await _answer(uncached, actor_id, command, command_id), command_id
    for actor_id in ACTORS:
        assert _history(await stores[0].get_events(actor_id)) == _history(
            await stores[1].get_events(actor_id))
