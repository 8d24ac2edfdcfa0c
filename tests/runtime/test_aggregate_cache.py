"""The Repository's aggregate cache: loads as fresh as a full read, with other writers.

Real stores only: the in-memory store, and JetStream on the test nats-server (two routers
on two connections, or in two OS processes). CountingStore is an InMemoryEventStore that
notes which reads it served, to show where a load started from.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import nats
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.aio.client import Client

from aether import (
    COMMAND_ID,
    DomainError,
    Event,
    EventStore,
    StoreUnavailableError,
    VersionConflictError,
)
from aether.aggregate import InvalidRepositoryError
from aether.store import InMemoryEventStore, JetStreamConfig, JetStreamEventStore
from aether.testing import NatsServer
from tests.runtime import bank
from tests.runtime.bank import Deposit, Open, Withdraw, answer, bank_router

D = Decimal


class CountingStore(InMemoryEventStore):
    """An in-memory store that notes every ``get_events`` it serves, and can let another
    writer in right before the next save (``before_save``)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, int]] = []
        self.before_save: Callable[[], Any] | None = None

    async def get_events(self, actor_id: str, from_version: int = 0) -> list[Event]:
        self.reads.append((actor_id, from_version))
        return await super().get_events(actor_id, from_version)

    async def save_events(self, events: Sequence[Event]) -> None:
        interloper, self.before_save = self.before_save, None
        if interloper is not None:
            await interloper()
        await super().save_events(events)


@pytest.fixture(params=["memory", "jetstream"])
async def two_stores(request: pytest.FixtureRequest
                     ) -> AsyncIterator[tuple[EventStore, EventStore]]:
    """Two handles on one event log: one in-memory store twice, or two JetStream stores
    on one stream over two connections (as two processes would have)."""
    if request.param == "memory":
        store = InMemoryEventStore()
        yield store, store
        return
    server: NatsServer = request.getfixturevalue("nats_server")
    name = f"cache_{uuid4().hex[:10]}"
    connections = [await nats.connect(server.url) for _ in range(2)]
    config = JetStreamConfig(storage="memory")
    stores = [await JetStreamEventStore.create(nc, name, config) for nc in connections]
    yield stores[0], stores[1]
    await connections[0].jetstream().delete_stream(stores[0].stream_name)
    await connections[0].jetstream().delete_stream(stores[0].snapshot_stream_name)
    for nc in connections:
        await nc.drain()


# ---- freshness with other writers ---------------------------------------------------------

async def test_two_cached_routers_decide_on_the_latest_state(
        two_stores: tuple[EventStore, EventStore]) -> None:
    (a, repo_a), (b, repo_b) = bank_router(two_stores[0]), bank_router(two_stores[1])
    assert (await answer(a, "acc-1", Open(owner="ada")))[0] == "ok"
    await b.send("acc-1", Deposit(amount=D(100)))
    # A has the account cached at balance 0: a stale copy would refuse this.
    assert (await answer(a, "acc-1", Withdraw(amount=D(60))))[0] == "ok"
    # B has it cached at balance 100: a stale copy would accept this.
    assert await answer(b, "acc-1", Withdraw(amount=D(60))) == ("refused", [])
    await a.send("acc-1", Deposit(amount=D(10)))
    assert await answer(b, "acc-1", Withdraw(amount=D(50))) == (
        "ok", [(5, "MoneyWithdrawn", {"amount": "50"})])
    assert "acc-1" in repo_a.cache and "acc-1" in repo_b.cache
    for repository in (repo_a, repo_b):
        account = await repository.load("acc-1")
        assert (account.version, account.state.balance) == (5, D(0))


async def test_a_cached_load_reads_only_what_was_written_since() -> None:
    store = CountingStore()
    a, repo_a = bank_router(store)
    b, _ = bank_router(store, cache_size=0)
    await a.send("acc-1", Open(owner="ada"))
    await a.send("acc-1", Deposit(amount=D(5)))
    assert store.reads == [("acc-1", 0)]  # the first load only: the second was cached
    await b.send("acc-1", Deposit(amount=D(7)))
    await b.send("acc-1", Deposit(amount=D(1)))
    store.reads.clear()
    await a.send("acc-1", Withdraw(amount=D(13)))  # needs both of B's deposits
    # From the cached version's own event, which says the history still continues it.
    assert store.reads == [("acc-1", 2)]
    assert (await repo_a.load("acc-1")).state.balance == D(0)


async def test_without_a_cache_every_load_reads_the_whole_history() -> None:
    store = CountingStore()
    router, repository = bank_router(store, cache_size=0)
    await router.send("acc-1", Open(owner="ada"))
    await router.send("acc-1", Deposit(amount=D(5)))
    assert store.reads == [("acc-1", 0), ("acc-1", 0)]
    assert len(repository.cache) == 0


def test_a_negative_cache_size_is_refused() -> None:
    with pytest.raises(InvalidRepositoryError, match="cache_size must be >= 0"):
        bank_router(InMemoryEventStore(), cache_size=-1)


def test_two_processes_alternating_on_jetstream_decide_on_the_latest_state(
        nats_server: NatsServer) -> None:
    stream = f"cache_{uuid4().hex[:10]}"
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    other = context.Process(target=bank.serve, args=(nats_server.url, stream, there))
    other.start()

    def remote(actor_id: str, command: Any) -> bank.Answer:
        here.send((actor_id, command))
        assert here.poll(60), "the other process did not answer (it died?)"
        result, cached = here.recv()
        assert cached == (result[0] == "ok")  # what it saved stays cached; a refusal is not
        return result  # type: ignore[no-any-return]

    async def run() -> list[bank.Answer]:
        nc = await nats.connect(nats_server.url)
        router, _ = bank_router(await JetStreamEventStore.create(nc, stream))
        answers = []
        for actor_id in ("acc-1", "acc-2"):
            answers += [
                await answer(router, actor_id, Open(owner="ada")),
                remote(actor_id, Deposit(amount=D(100))),
                await answer(router, actor_id, Withdraw(amount=D(60))),
                remote(actor_id, Withdraw(amount=D(60))),
                await answer(router, actor_id, Deposit(amount=D(10))),
                remote(actor_id, Withdraw(amount=D(50))),
                await answer(router, actor_id, Withdraw(amount=D(1))),
            ]
        await nc.drain()
        return answers

    try:
        answers = asyncio.run(run())
    finally:
        here.send(None)
        other.join(timeout=30)
        if other.is_alive():
            other.kill()
    expected = [
        ("ok", [(1, "AccountOpened", {"owner": "ada"})]),
        ("ok", [(2, "MoneyDeposited", {"amount": "100"})]),
        ("ok", [(3, "MoneyWithdrawn", {"amount": "60"})]),
        ("refused", []),
        ("ok", [(4, "MoneyDeposited", {"amount": "10"})]),
        ("ok", [(5, "MoneyWithdrawn", {"amount": "50"})]),
        ("refused", []),
    ]
    assert answers == expected * 2


# ---- cached routers decide as one uncached router -----------------------------------------

ACTORS = ("acc-a", "acc-b")
step = st.tuples(
    st.integers(0, 2),                                  # which router
    st.sampled_from(ACTORS),                            # which actor
    # Refusals are what a stale copy would get wrong (a stale acceptance fails its save):
    # withdrawals and deposits of similar amounts make the balance decide often.
    st.sampled_from(["withdraw", "deposit", "withdraw", "deposit", "open", "resend"]),
    st.integers(1, 9),                                  # amount
)


# Cheap examples (a few ms each, in memory): enough of them to find a stale decision.
@settings(max_examples=max(settings().max_examples, 150), deadline=None)
@given(sizes=st.lists(st.integers(1, 3), min_size=2, max_size=3),
       steps=st.lists(step, min_size=10, max_size=40))
async def test_cached_routers_answer_as_one_uncached_router(
        sizes: list[int], steps: list[tuple[int, str, str, int]]) -> None:
    shared = InMemoryEventStore()
    routers = [bank_router(shared, cache_size=size)[0] for size in sizes]
    reference_store = InMemoryEventStore()
    reference, _ = bank_router(reference_store, cache_size=0)
    sent: list[tuple[str, Any, dict[str, str]]] = []
    for index, (which, actor_id, kind, amount) in enumerate(steps):
        if kind == "resend" and sent:
            actor_id, command, metadata = sent[amount % len(sent)]
        else:
            command = {"open": Open(owner=f"o{amount}"), "deposit": Deposit(amount=D(amount)),
                       "withdraw": Withdraw(amount=D(amount)),
                       "resend": Deposit(amount=D(amount))}[kind]
            metadata = {COMMAND_ID: f"c{index}"}
            sent.append((actor_id, command, metadata))
        got = await answer(routers[which % len(routers)], actor_id, command, metadata)
        assert got == await answer(reference, actor_id, command, metadata)
    for actor_id in ACTORS:
        assert _history(await shared.get_events(actor_id)) == _history(
            await reference_store.get_events(actor_id))


def _history(events: list[Event]) -> list[tuple[int, str, dict[str, Any], str | None]]:
    return [(e.version, e.event_type, dict(e.data), e.metadata.get(COMMAND_ID))
            for e in events]


# ---- what the cache keeps and forgets -----------------------------------------------------

async def test_the_least_recently_used_aggregate_is_evicted_first() -> None:
    store = InMemoryEventStore()
    router, repository = bank_router(store, cache_size=2)
    for actor_id in ("a", "b"):
        await router.send(actor_id, Open(owner=actor_id))
    assert repository.cache.actor_ids() == ["a", "b"]
    await repository.load("a")  # a load counts as a use
    assert repository.cache.actor_ids() == ["b", "a"]
    await router.send("c", Open(owner="c"))
    assert repository.cache.actor_ids() == ["a", "c"]
    await router.send("a", Deposit(amount=D(1)))
    await router.send("b", Deposit(amount=D(1)))
    assert repository.cache.actor_ids() == ["a", "b"]


async def test_a_conflict_keeps_the_entry_and_the_retry_catches_up() -> None:
    store = CountingStore()
    router, repository = bank_router(store)
    other, _ = bank_router(store, cache_size=0)
    await router.send("acc-1", Open(owner="ada"))
    await router.send("acc-1", Deposit(amount=D(10)))

    async def interloper() -> None:  # another writer lands between our load and our save
        await other.send("acc-1", Deposit(amount=D(5)))

    store.before_save = interloper
    store.reads.clear()
    events = await router.send("acc-1", Withdraw(amount=D(10)))
    assert [(e.version, e.event_type) for e in events] == [(4, "MoneyWithdrawn")]
    # The interloper's full read (it caches nothing), then the retry's: from the entry's
    # own event on (version 2), not the whole history again. A hot aggregate's writers
    # lose races all the time; starting over each time made them quadratic.
    assert store.reads == [("acc-1", 0), ("acc-1", 2)]
    assert (await repository.load("acc-1")).state.balance == D(5)


async def test_retries_of_a_busy_aggregate_read_its_history_once() -> None:
    """A router that has not cached the actor and loses two races in a row: the first
    retry keeps what it reads, and the second reads only what was written since. (Each
    attempt read the whole history before: 600 contended deposits on a history of 3,000
    read 948,451 events, now 6,601.)"""
    store = CountingStore()
    router, repository = bank_router(store)
    other, _ = bank_router(store, cache_size=0)
    await other.send("acc-1", Open(owner="ada"))
    await other.send("acc-1", Deposit(amount=D(10)))
    assert "acc-1" not in repository.cache
    races = 2

    async def interloper() -> None:
        nonlocal races
        races -= 1
        await other.send("acc-1", Deposit(amount=D(5)))
        if races:
            store.before_save = interloper  # this writer loses the next race too

    store.before_save = interloper
    store.reads.clear()
    events = await router.send("acc-1", Withdraw(amount=D(10)))
    assert [e.version for e in events] == [5]
    # router: full (not kept), full (kept, first retry), then from the kept version 3 on;
    # the interloper (caching nothing) reads in full each time.
    assert store.reads == [("acc-1", 0), ("acc-1", 0), ("acc-1", 0), ("acc-1", 0),
                           ("acc-1", 3)]
    assert (await repository.load("acc-1")).state.balance == D(10)


async def test_a_save_that_lost_the_race_keeps_the_entry_to_catch_up() -> None:
    store = InMemoryEventStore()
    _, repository = bank_router(store)
    _, other = bank_router(store)
    stale = await repository.load("acc-1")
    writer = await other.load("acc-1")
    writer.open("bob")
    await other.save(writer)
    stale.open("ada")
    assert "acc-1" in repository.cache
    with pytest.raises(VersionConflictError):
        await repository.save(stale)
    # Kept as it was before the decision: the next load catches it up with bob's event.
    assert repository.cache.get("acc-1") is not None
    assert repository.cache.get("acc-1").version == 0  # type: ignore[union-attr]
    assert (await repository.load("acc-1")).state.owner == "bob"


async def test_a_save_that_failed_otherwise_forgets_the_entry() -> None:
    """A lost answer may have stored the events or not: the next load starts over."""
    store = CountingStore()
    router, repository = bank_router(store)
    await router.send("acc-1", Open(owner="ada"))

    async def outage() -> None:
        raise StoreUnavailableError("no answer")

    store.before_save = outage
    with pytest.raises(StoreUnavailableError):
        await router.send("acc-1", Deposit(amount=D(1)))
    assert "acc-1" not in repository.cache
    store.reads.clear()
    assert (await repository.load("acc-1")).state.balance == D(0)
    assert store.reads == [("acc-1", 0)]


async def test_a_decision_that_raises_leaves_no_trace() -> None:
    store = CountingStore()
    router, repository = bank_router(store)
    await router.send("acc-1", Open(owner="ada"))

    def rogue(account: Any) -> None:
        account.state.owner = "mallory"   # the cached state changed in place
        account.deposit(D(1000))          # and an event recorded, never saved
        raise DomainError("changed my mind")

    with pytest.raises(DomainError):
        await repository.execute("acc-1", rogue)
    assert "acc-1" not in repository.cache
    store.reads.clear()
    account = await repository.load("acc-1")
    assert store.reads == [("acc-1", 0)]
    assert (account.version, account.state.owner, account.state.balance) == (1, "ada", D(0))
    assert await answer(router, "acc-1", Withdraw(amount=D(1))) == ("refused", [])


async def test_a_refused_command_keeps_no_entry_of_it() -> None:
    store = InMemoryEventStore()
    router, repository = bank_router(store)
    await router.send("acc-1", Open(owner="ada"))
    assert await answer(router, "acc-1", Withdraw(amount=D(1))) == ("refused", [])
    assert "acc-1" not in repository.cache
    assert (await answer(router, "acc-1", Deposit(amount=D(2))))[0] == "ok"


async def test_a_resent_command_is_answered_from_the_cache() -> None:
    store = CountingStore()
    router, repository = bank_router(store)
    other, other_repository = bank_router(store)
    await router.send("acc-1", Open(owner="ada"))
    await other_repository.load("acc-1")  # cached at version 1, before the command below
    first = await router.send("acc-1", Deposit(amount=D(5)), {COMMAND_ID: "cmd-1"})
    store.reads.clear()
    again = await router.send("acc-1", Deposit(amount=D(5)), {COMMAND_ID: "cmd-1"})
    assert again == first
    assert store.reads == [("acc-1", 2)]  # only the recorded events, no reload
    # The other router fast-forwards over the command and knows it too.
    assert await other.send("acc-1", Deposit(amount=D(5)), {COMMAND_ID: "cmd-1"}) == first
    assert [e.version for e in await store.get_events("acc-1")] == [1, 2]
    assert (await repository.load("acc-1")).state.balance == D(5)


async def test_commands_racing_on_one_cached_actor_each_run_once() -> None:
    # The aggregates of concurrent commands share their cache entry's command ids: each
    # command must still run exactly once, its resends answered with its events.
    store = InMemoryEventStore()
    router, repository = bank_router(store)
    await router.send("acc-1", Open(owner="ada"))
    sends = [(f"cmd-{index % 5}", D(index % 5 + 1)) for index in range(40)]
    answers = await asyncio.gather(*(
        router.send("acc-1", Deposit(amount=amount), {COMMAND_ID: command_id})
        for command_id, amount in sends), return_exceptions=True)
    events = await store.get_events("acc-1")
    by_command = {e.metadata[COMMAND_ID]: e for e in events[1:]}
    assert sorted(by_command) == [f"cmd-{index}" for index in range(5)]
    assert len(events) == 6  # opened, then one deposit per command id
    for (command_id, _), got in zip(sends, answers, strict=True):
        if not isinstance(got, VersionConflictError):  # out of retries: nothing stored
            assert got == [by_command[command_id]]
    account = await repository.load("acc-1")
    assert account.state.balance == D(1 + 2 + 3 + 4 + 5)
    assert {command_id: account.command_versions(command_id)
            for command_id in by_command} == {
        command_id: (event.version, event.version) for command_id, event in by_command.items()}


async def test_a_miss_starts_from_the_snapshot_and_the_cache_goes_on_from_there() -> None:
    store = CountingStore()
    router, repository = bank_router(store, cache_size=1, snapshot_every=3)
    await router.send("acc-1", Open(owner="ada"))
    for amount in range(1, 5):
        await router.send("acc-1", Deposit(amount=D(amount)))
    assert (await store.get_latest_snapshot("acc-1")).version == 3  # type: ignore[union-attr]
    await router.send("acc-2", Open(owner="bob"))  # cache_size=1: evicts acc-1
    assert repository.cache.actor_ids() == ["acc-2"]
    store.reads.clear()
    await router.send("acc-1", Withdraw(amount=D(10)))
    await router.send("acc-1", Deposit(amount=D(1)))
    assert store.reads == [("acc-1", 4)]  # after the snapshot, then cached
    fresh, _ = bank_router(store, cache_size=0)
    assert await answer(fresh, "acc-1", Withdraw(amount=D(2))) == ("refused", [])
    account = await repository.load("acc-1")
    assert (account.version, account.state.balance) == (7, D(1))


async def _expiring_store(nc: Client) -> JetStreamEventStore:
    # Events older than the stream's retention expire: the actor reads as version 0 and
    # starts again at 1 (JetStreamConfig.stream_retention); the streams deny purges.
    return await JetStreamEventStore.create(nc, f"cache_{uuid4().hex[:10]}", JetStreamConfig(
        storage="memory", stream_retention=timedelta(seconds=1),
        duplicate_window=timedelta(milliseconds=500)))


async def _expire(store: JetStreamEventStore, actor_id: str) -> None:
    for _ in range(100):  # until the server expires its events (about a second)
        if await store.get_latest_version(actor_id) == 0:
            break
        await asyncio.sleep(0.1)
    assert await store.get_latest_version(actor_id) == 0


async def _delete(nc: Client, store: JetStreamEventStore) -> None:
    await nc.jetstream().delete_stream(store.stream_name)
    await nc.jetstream().delete_stream(store.snapshot_stream_name)


async def test_a_history_that_shrank_drops_the_entry(nc: Client) -> None:
    store = await _expiring_store(nc)
    router, repository = bank_router(store)
    await router.send("acc-1", Open(owner="ada"))
    await router.send("acc-1", Deposit(amount=D(5)))
    assert "acc-1" in repository.cache
    await _expire(store, "acc-1")
    # The cached account is open with 5: trusting it would refuse this and accept a withdraw.
    assert await answer(router, "acc-1", Open(owner="bob")) == (
        "ok", [(1, "AccountOpened", {"owner": "bob"})])
    assert await answer(router, "acc-1", Withdraw(amount=D(5))) == ("refused", [])
    await _delete(nc, store)


async def test_a_history_that_expired_and_grew_again_past_the_entry_drops_it(
        nc: Client) -> None:
    # The cached account (ada, 5, version 2) expires; another writer starts the actor again
    # and writes three events: the store's latest version (3) is past the entry's, but its
    # version 3 does not follow the entry's version 2.
    store = await _expiring_store(nc)
    router, repository = bank_router(store)
    other, _ = bank_router(store, cache_size=0)
    await router.send("acc-1", Open(owner="ada"))
    await router.send("acc-1", Deposit(amount=D(5)))
    await _expire(store, "acc-1")
    await other.send("acc-1", Open(owner="bob"))
    await other.send("acc-1", Deposit(amount=D(1)))
    await other.send("acc-1", Deposit(amount=D(1)))
    # Bob's account holds 2: the cached router must refuse what the other one refuses.
    assert await answer(router, "acc-1", Withdraw(amount=D(5))) == ("refused", [])
    assert await answer(other, "acc-1", Withdraw(amount=D(5))) == ("refused", [])
    assert (await repository.load("acc-1")).state.owner == "bob"
    await _delete(nc, store)


@pytest.mark.parametrize("from_snapshot", [False, True])
async def test_a_history_that_expired_and_grew_again_to_the_entry_drops_it(
        nc: Client, from_snapshot: bool) -> None:
    # As above, but the new history (bob, 1) is exactly as long as the cached one (ada, 5):
    # only the id of the last event tells them apart (EventStore.get_latest). With
    # from_snapshot, the entry was loaded from a snapshot with no event after it, so the id
    # it knows is the one the snapshot recorded.
    store = await _expiring_store(nc)
    router, repository = bank_router(store, snapshot_every=2 if from_snapshot else 0)
    other, _ = bank_router(store, cache_size=0)
    await router.send("acc-1", Open(owner="ada"))
    await router.send("acc-1", Deposit(amount=D(5)))
    if from_snapshot:
        repository.cache.clear()
        assert (await repository.load("acc-1")).state.balance == D(5)  # from the snapshot
        assert repository.cache.get("acc-1") is not None
    await _expire(store, "acc-1")
    await other.send("acc-1", Open(owner="bob"))
    await other.send("acc-1", Deposit(amount=D(1)))
    assert await store.get_latest_version("acc-1") == 2
    assert await answer(router, "acc-1", Withdraw(amount=D(5))) == ("refused", [])
    assert await answer(router, "acc-1", Withdraw(amount=D(1))) == (
        "ok", [(3, "MoneyWithdrawn", {"amount": "1"})])
    assert (await repository.load("acc-1")).state.owner == "bob"
    await _delete(nc, store)
