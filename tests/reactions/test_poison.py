"""Records in the events stream that are not events (a foreign client, damage): the feed
reports each at its position, runners park each once and go on, and nothing good is lost,
reordered or handled twice."""

from __future__ import annotations

import asyncio
import pickle
from typing import ClassVar

import pytest
from nats.aio.client import Client

from aether import (
    UNDECODABLE,
    EventDecodeError,
    EventPayload,
    InMemoryCheckpointStore,
    JetStreamCheckpointStore,
    ReactionRunner,
    ReadModel,
    RetryPolicy,
    RunnerHalted,
    UndecodableEventError,
    settle,
)
from aether.event import Event
from aether.store import InMemoryEventStore, JetStreamEventStore
from aether.testing.counters import CountsView, IncrementOnTick, make_counter_router, registry
from tests.reactions.poison import FOREIGN, foreign_tick, poisons, publish_raw
from tests.reactions.test_runner import tick


class TickLog(ReadModel):
    """The ids of the Ticked events it saw, in the order it saw them."""

    reads: ClassVar[tuple[str, ...]] = ("Ticked",)

    def __init__(self) -> None:
        self.ids: list[str] = []

    def project(self, event: EventPayload, envelope: Event) -> None:
        self.ids.append(envelope.id)


@pytest.fixture
async def store(jetstream_store: JetStreamEventStore) -> JetStreamEventStore:
    return jetstream_store  # a stream of its own per test


async def mixed(nc: Client, store: JetStreamEventStore) -> tuple[list[int], dict[int, str]]:
    """Good ticks with every poison between them, a foreign but valid tick among them, and
    a poison last: (positions of the good events, poison position -> name)."""
    good: list[int] = []
    bad: dict[int, str] = {}
    for number, (name, data) in enumerate(poisons().items()):
        await tick(store, [f"c{number}"])
        good.append(await store.last_position())
        bad[await publish_raw(nc, store, data)] = name
        if number == 2:
            good.append(await publish_raw(nc, store, foreign_tick("outside", 1)))
    bad[await publish_raw(nc, store, b"{truncated")] = "last"
    return good, bad


async def read_everything(store: JetStreamEventStore, limit: int,
                          event_types: list[str] | None = None,
                          ) -> tuple[list[tuple[int, Event]], list[int]]:
    """Page through the whole feed, stepping past each undecodable record; every page
    and every record passed must move forward."""
    after = 0
    pairs: list[tuple[int, Event]] = []
    skipped: list[int] = []
    for _ in range(10_000):
        try:
            page = await store.read_all(after, limit, event_types=event_types)
        except UndecodableEventError as poison:
            assert poison.position > after
            skipped.append(poison.position)
            after = poison.position
            continue
        if not page:
            return pairs, skipped
        assert page[0][0] > after
        pairs.extend(page)
        after = page[-1][0]
    raise AssertionError("the feed never ended")


@pytest.mark.parametrize("limit", [1, 3, 1000])
@pytest.mark.parametrize("event_types", [None, ["Ticked"]])
async def test_read_all_reports_each_undecodable_record_once_at_its_position(
        nc: Client, store: JetStreamEventStore, limit: int,
        event_types: list[str] | None) -> None:
    good, bad = await mixed(nc, store)
    pairs, skipped = await read_everything(store, limit, event_types)
    assert [position for position, _ in pairs] == good
    assert skipped == sorted(bad)
    with pytest.raises(UndecodableEventError) as raised:
        await store.read_all(min(bad) - 1, 10)
    error = raised.value
    assert isinstance(error, EventDecodeError)  # what a read_all caller caught before
    assert (error.position, error.subject) == (min(bad), f"{store.stream_name}.events.{FOREIGN}")
    assert error.excerpt == poisons()["garbage"] and f"read_all(after={min(bad)})" in str(error)
    # The events before a poison come first, in full, without an error.
    assert await store.read_all(0, 10) == pairs[:1]


async def test_a_follower_meets_each_poison_in_order_and_goes_on(
        nc: Client, store: JetStreamEventStore) -> None:
    good, bad = await mixed(nc, store)
    met: list[int] = []

    async def meet(poison: UndecodableEventError) -> None:
        met.append(poison.position)

    async with store.follow() as feed:
        feed.on_undecodable(meet)
        positions = [(await anext(feed))[0] for _ in good]
        waiting = asyncio.ensure_future(anext(feed))  # meets the last poison, then waits
        for _ in range(500):
            if len(met) == len(bad):
                break
            await asyncio.sleep(0.02)
        waiting.cancel()
    assert positions == good and met == sorted(bad)

    # Without a callback, iteration raises the poison; iterating again goes on past it.
    async with store.follow() as feed:
        seen: list[int] = []
        raised: list[int] = []
        while len(seen) < len(good):
            try:
                async for position, _ in feed:
                    seen.append(position)
                    if len(seen) == len(good):
                        break
            except UndecodableEventError as poison:
                raised.append(poison.position)
    assert seen == good and raised == [position for position in sorted(bad) if position < good[-1]]


async def test_runners_handle_every_good_event_in_order_and_park_each_poison_once(
        nc: Client, store: JetStreamEventStore) -> None:
    good, bad = await mixed(nc, store)
    checkpoints = await JetStreamCheckpointStore.for_store(nc, store)
    counters = InMemoryEventStore()
    ticks = [event.id for _, event in (await read_everything(store, 1000))[0]]

    async def run_once() -> tuple[ReactionRunner, TickLog, CountsView]:
        log, view = TickLog(), CountsView()
        runner = ReactionRunner("poisoned", store, registry, make_counter_router(counters),
                                policies=[IncrementOnTick()], read_models=[log, view],
                                checkpoints=checkpoints, retry=RetryPolicy(attempts=2))
        await runner.start()
        await asyncio.wait_for(runner.wait_caught_up(), 30)
        await runner.stop()
        assert runner.error is None
        return runner, log, view

    first, log, view = await run_once()
    assert log.ids == ticks and view.ticks == len(good)
    assert first.position == max(bad) and first.lag == 0  # a poison last is passed too
    assert (first.counters.undecodable, first.counters.parked) == (len(bad), len(bad))
    assert first.counters.processed == len(good) + len(bad)
    parked = await first.parked()
    assert [(p.handler, p.position, p.event) for p in parked] == [
        (UNDECODABLE, position, None) for position in sorted(bad)]
    assert {p.subject for p in parked} == {f"{store.stream_name}.events.{FOREIGN}"}
    assert all(p.attempts == 1 and "not an event Aether can decode" in p.error for p in parked)
    assert parked[0].excerpt == poisons()["garbage"].decode("utf-8", "backslashreplace")
    assert await checkpoints.load("poisoned", "IncrementOnTick") == max(bad)

    # One record dismissed by an operator (unparked without a replay).
    await checkpoints.unpark(parked[0])
    # Restarted: the policy resumes past the last poison; the in-memory read models replay
    # from 0 and meet the poisons again, which every checkpointed handler passed in the
    # first life: they are passed, not parked again (the dismissed one stays dismissed).
    second, log, view = await run_once()
    assert log.ids == ticks and view.ticks == len(good)
    assert await second.parked() == parked[1:]
    assert (second.counters.undecodable, second.counters.parked) == (len(bad), 0)
    assert [len(await counters.get_events(f"c{n}")) for n in range(len(poisons()))] == \
        [1] * len(poisons())
    assert len(await counters.get_events("outside")) == 1


async def test_a_runner_configured_to_halt_halts_at_the_first_poison(
        nc: Client, store: JetStreamEventStore) -> None:
    _, bad = await mixed(nc, store)
    log = TickLog()
    runner = ReactionRunner("halting", store, registry, make_counter_router(store),
                            read_models=[log], retry=RetryPolicy(on_exhausted="halt"))
    await runner.start()
    with pytest.raises(RunnerHalted) as halted:
        await asyncio.wait_for(runner.wait_caught_up(), 30)
    await runner.stop()
    assert (halted.value.handler, halted.value.position) == (UNDECODABLE, min(bad))
    assert runner.position == min(bad) - 1 and len(log.ids) == 1
    assert await runner.parked() == []
    with pytest.raises(UndecodableEventError):  # settle stops on it too, saying where
        await settle(store, registry, make_counter_router(store), read_models=[TickLog()])


async def test_replaying_a_parked_record_reads_it_again_from_the_store(
        nc: Client, store: JetStreamEventStore) -> None:
    await tick(store, ["a"])
    poison = await publish_raw(nc, store, b"not an event")
    checkpoints = InMemoryCheckpointStore()
    log = TickLog()
    runner = ReactionRunner("replay", store, registry, make_counter_router(store),
                            read_models=[log], checkpoints=checkpoints)
    await runner.start()
    await asyncio.wait_for(runner.wait_caught_up(), 30)
    await runner.stop()
    # Parked by hand: a record an older Aether could not read, which this one can; and one
    # retention has removed since (the stream denies deletes, so: a position past the end).
    readable = (await store.read_all(0, 1))[0]
    gone = await store.last_position() + 5
    (parked,) = await runner.parked()
    for position in (readable[0], gone):
        await checkpoints.park(parked.model_copy(update={"position": position}))

    assert await runner.replay_parked() == 1
    assert log.ids == [readable[1].id, readable[1].id]  # once live, once replayed
    left = {p.position: p for p in await runner.parked()}
    assert set(left) == {poison, gone}
    assert left[poison].attempts == 2 and "not an event" in left[poison].error
    assert left[gone].attempts == 2 and "no longer in the store" in left[gone].error


def test_the_new_errors_survive_pickling_with_their_fields() -> None:
    poison = UndecodableEventError(7, "s.events.x", "not JSON", b"\xff{")
    copy = pickle.loads(pickle.dumps(poison))
    assert (copy.position, copy.subject, copy.reason, copy.excerpt, str(copy)) == \
        (7, "s.events.x", "not JSON", b"\xff{", str(poison))
    halted = pickle.loads(pickle.dumps(RunnerHalted("r", UNDECODABLE, 7, poison)))
    assert (halted.runner, halted.handler, halted.position) == ("r", UNDECODABLE, 7)
    assert isinstance(halted.error, UndecodableEventError) and halted.error.position == 7


async def test_a_tailing_runner_passes_a_foreign_record_that_arrives_last(
        nc: Client, store: JetStreamEventStore) -> None:
    checkpoints = InMemoryCheckpointStore()
    log = TickLog()
    runner = ReactionRunner("tail", store, registry, make_counter_router(store),
                            read_models=[log], checkpoints=checkpoints)
    await tick(store, ["a"])
    await runner.start()
    try:
        await asyncio.wait_for(runner.wait_caught_up(), 30)
        poison = await publish_raw(nc, store, poisons()["non-object"])  # wakes the runner
        await asyncio.wait_for(runner.wait_caught_up(), 30)
        assert runner.position == poison and runner.lag == 0
        assert [p.position for p in await runner.parked()] == [poison]
        await tick(store, ["b"])
        await asyncio.wait_for(runner.wait_caught_up(), 30)
        assert len(log.ids) == 2 and runner.counters.undecodable == 1
    finally:
        await runner.stop()
