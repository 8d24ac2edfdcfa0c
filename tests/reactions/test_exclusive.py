"""Runners of one name take turns: one handles events, the others wait as standbys.

The durable read model of these tests (``AppliedLog``) writes one line per event it applies
to a file both runners see, so a second application of any event shows."""

from __future__ import annotations

import asyncio
import pickle
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client

from aether import (
    Event,
    InMemoryCheckpointStore,
    JetStreamCheckpointStore,
    LeaseLostError,
    LeaseStore,
    ParkedEvent,
    ReactionRunner,
    StoreUnavailableError,
)
from aether.lease import LeaseRefused
from aether.registry import EventPayload
from aether.store import InMemoryEventStore, JetStreamConfig, JetStreamEventStore
from aether.testing import NatsServer
from aether.testing.counters import CountsView, IncrementOnTick, make_counter_router, registry
from tests.actors.cluster import wait_for
from tests.reactions.lease_worker import AppliedLog, applied
from tests.reactions.test_runner import counts, tick

RUNNER = "turns"
COUNTERS = ["a", "b", "c"]


@dataclass
class Side:
    """One runner's own connection, store and checkpoint store, as in its own process."""

    nc: Client
    store: JetStreamEventStore
    checkpoints: JetStreamCheckpointStore


@pytest_asyncio.fixture
async def sides(nats_server: NatsServer) -> AsyncIterator[list[Side]]:
    """Three views of one fresh store: the writer's and two runners'."""
    name = f"turns_{uuid4().hex[:8]}"
    made = []
    for _ in range(3):
        nc = await nats.connect(nats_server.url)
        store = await JetStreamEventStore.create(nc, name, JetStreamConfig(storage="memory"))
        made.append(Side(nc, store, await JetStreamCheckpointStore.for_store(nc, store)))
    yield made
    js = made[0].nc.jetstream()
    for stream in (made[0].store.stream_name, made[0].store.snapshot_stream_name,
                   f"KV_{made[0].checkpoints.bucket}"):
        await js.delete_stream(stream)
    for side in made:
        await side.nc.drain()


def runner_on(side: Side, log: Path, tag: str, *, exclusive: bool | None = None,
              lease_ttl: float = 5.0) -> ReactionRunner:
    return ReactionRunner(RUNNER, side.store, registry, make_counter_router(side.store),
                          policies=[IncrementOnTick()], read_models=[AppliedLog(log, tag)],
                          checkpoints=side.checkpoints, checkpoint_every=5,
                          exclusive=exclusive, lease_ttl=lease_ttl)


async def produce(store: JetStreamEventStore | InMemoryEventStore, ticks: int,
                  pause: float = 0.005) -> None:
    """Events keep coming while the runners work: one tick at a time."""
    for number in range(ticks):
        await tick(store, [COUNTERS[number % len(COUNTERS)]])
        await asyncio.sleep(pause)


async def tick_ids(store: JetStreamEventStore | InMemoryEventStore) -> list[str]:
    return [event.id for event in await store.get_events("clock")]


async def ticked(store: JetStreamEventStore | InMemoryEventStore) -> dict[str, int]:
    """Ticks per counter: what each counter's count must be, its policy run once a tick."""
    named = Counter(str(event.data["counter"]) for event in await store.get_events("clock"))
    return {counter: named[counter] for counter in COUNTERS}


async def test_only_one_of_two_runners_of_a_name_handles_and_each_event_is_applied_once(
    sides: list[Side], tmp_path: Path,
) -> None:
    writer, first, second = sides
    log = tmp_path / "applied"
    runners = {"first": runner_on(first, log, "first"), "second": runner_on(second, log, "second")}
    await asyncio.gather(*(runner.start() for runner in runners.values()))
    try:
        states = {tag: runner.active for tag, runner in runners.items()}
        await produce(writer.store, 150)
        # A standby's wait returns once the active one has checkpointed every event.
        await asyncio.wait_for(asyncio.gather(*(r.wait_quiet() for r in runners.values())), 60)
        assert states == {tag: runner.active for tag, runner in runners.items()}
    finally:
        await asyncio.gather(*(runner.stop() for runner in runners.values()))

    ids = await tick_ids(writer.store)
    assert len(ids) == 150
    assert Counter(event_id for event_id, _ in applied(log)) == Counter(ids)  # once each
    assert await counts(writer.store, COUNTERS) == await ticked(writer.store)
    (handled_by,) = {tag for _, tag in applied(log)}
    assert states == {"first": handled_by == "first", "second": handled_by == "second"}
    active = runners[handled_by]
    standby = runners["second" if handled_by == "first" else "first"]
    assert active.exclusive and standby.exclusive  # the default on JetStream
    assert standby.counters.processed == standby.counters.takeovers == 0
    assert (active.counters.takeovers, active.counters.leases_lost) == (1, 0)


async def test_a_standby_takes_over_at_once_when_the_active_one_stops(
    sides: list[Side], tmp_path: Path,
) -> None:
    """The lease runs 60 s: only the active one letting go explains a takeover sooner."""
    writer, first, second = sides
    log = tmp_path / "applied"
    active = runner_on(first, log, "first", lease_ttl=60.0)
    standby = runner_on(second, log, "second", lease_ttl=60.0)
    await active.start()
    await standby.start()
    was_standby = not standby.active
    producing = asyncio.create_task(produce(writer.store, 200))
    await wait_for(lambda: len(applied(log)) >= 60, timeout=30)
    await active.stop()  # while events flow
    stopped = time.monotonic()
    by_first = Counter(tag for _, tag in applied(log))["first"]
    await wait_for(lambda: standby.active, timeout=30)
    print(f"\nthe standby took over {time.monotonic() - stopped:.3f}s after the stop")
    await producing
    # On a loaded machine the active one may have applied all 200 before it stopped (CI
    # once saw 200 and 0): these come after the stop, so only the standby can apply them.
    await produce(writer.store, 20)
    await asyncio.wait_for(standby.wait_quiet(), 60)
    await standby.stop()

    ids = await tick_ids(writer.store)
    tags = Counter(tag for _, tag in applied(log))
    assert Counter(event_id for event_id, _ in applied(log)) == Counter(ids)  # none twice
    assert tags["first"] == by_first >= 60 and tags["second"] >= 20  # none after its stop
    assert await counts(writer.store, COUNTERS) == await ticked(writer.store)
    assert was_standby
    assert standby.counters.takeovers == 1 and standby.counters.leases_lost == 0


async def test_exclusive_false_runs_copies_side_by_side_as_before(
    sides: list[Side], tmp_path: Path,
) -> None:
    writer, first, second = sides
    log = tmp_path / "applied"
    runners = [runner_on(first, log, "first", exclusive=False),
               runner_on(second, log, "second", exclusive=False)]
    await asyncio.gather(*(runner.start() for runner in runners))
    assert all(runner.active and not runner.exclusive for runner in runners)
    await produce(writer.store, 30)
    await asyncio.wait_for(asyncio.gather(*(r.wait_quiet() for r in runners)), 60)
    await asyncio.gather(*(runner.stop() for runner in runners))

    # Both did all the work: the durable read model applied every event twice...
    ids = await tick_ids(writer.store)
    twice = [(event_id, tag) for event_id in ids for tag in ("first", "second")]
    assert Counter(applied(log)) == Counter(twice)
    # ...and the policies' commands ran once each, by command id.
    assert await counts(writer.store, COUNTERS) == await ticked(writer.store)


# ---- in one process: InMemoryCheckpointStore ----------------------------------------------


def memory_runner(store: InMemoryEventStore, checkpoints: InMemoryCheckpointStore, log: Path,
                  tag: str, lease_ttl: float = 5.0) -> ReactionRunner:
    return ReactionRunner(RUNNER, store, registry, make_counter_router(store),
                          policies=[IncrementOnTick()], read_models=[AppliedLog(log, tag)],
                          checkpoints=checkpoints, lease_ttl=lease_ttl)


async def test_runners_sharing_an_in_memory_checkpoint_store_take_turns(tmp_path: Path) -> None:
    store, checkpoints, log = InMemoryEventStore(), InMemoryCheckpointStore(), tmp_path / "log"
    first = memory_runner(store, checkpoints, log, "first", lease_ttl=60.0)
    second = memory_runner(store, checkpoints, log, "second", lease_ttl=60.0)
    await first.start()
    await second.start()
    await produce(store, 40, pause=0)
    await asyncio.wait_for(asyncio.gather(first.wait_quiet(), second.wait_quiet()), 30)
    assert first.active and not second.active and second.running
    await first.stop()
    await wait_for(lambda: second.active, timeout=30)  # woken by the release, not by time
    await produce(store, 20, pause=0)
    await asyncio.wait_for(second.wait_quiet(), 30)
    await second.stop()

    ids = await tick_ids(store)
    assert Counter(event_id for event_id, _ in applied(log)) == Counter(ids)
    assert Counter(tag for _, tag in applied(log)) == {"first": 40, "second": 20}
    assert await counts(store, COUNTERS) == await ticked(store)


class Stalling(AppliedLog):
    """Blocks the whole event loop once (a long GC, a blocking call), past its lease."""

    def __init__(self, path: Path, stall_at: int, seconds: float) -> None:
        super().__init__(path, "only")
        self.stall_at, self.seconds, self.seen = stall_at, seconds, 0

    def project(self, event: EventPayload, envelope: Event) -> None:
        super().project(event, envelope)
        self.seen += 1
        if self.seen == self.stall_at:
            time.sleep(self.seconds)


async def test_a_runner_that_outlived_its_lease_stops_then_goes_on_from_its_own_positions(
    tmp_path: Path,
) -> None:
    """Nobody else took the lease meanwhile: it takes its own again at once and resumes
    where it stood, not from the checkpoints (none saved yet), so nothing is applied twice."""
    store, checkpoints, log = InMemoryEventStore(), InMemoryCheckpointStore(), tmp_path / "log"
    await tick(store, ["a"] * 10)
    runner = ReactionRunner(RUNNER, store, registry, make_counter_router(store),
                            read_models=[Stalling(log, stall_at=5, seconds=1.2)],
                            checkpoints=checkpoints, checkpoint_every=1000, lease_ttl=1.0)
    await runner.start()
    await asyncio.wait_for(runner.wait_quiet(), 30)
    await runner.stop()
    assert runner.counters.takeovers == runner.counters.leases_lost + 1 >= 2
    assert Counter(event_id for event_id, _ in applied(log)) == Counter(await tick_ids(store))


async def test_a_standby_replays_no_parked_event(tmp_path: Path) -> None:
    store, checkpoints = InMemoryEventStore(), InMemoryCheckpointStore()
    first = memory_runner(store, checkpoints, tmp_path / "log", "first")
    second = memory_runner(store, checkpoints, tmp_path / "log", "second")
    await first.start()
    await second.start()
    try:
        with pytest.raises(LeaseLostError, match="standby"):
            await second.replay_parked()
        assert await first.replay_parked() == 0
    finally:
        await second.stop()
        await first.stop()
    error = pickle.loads(pickle.dumps(LeaseLostError(RUNNER)))
    assert isinstance(error, LeaseLostError) and error.runner == RUNNER


# ---- the API -----------------------------------------------------------------------------


class NoLeases:
    """A checkpoint store of someone else's that keeps no leases."""

    async def load(self, runner: str, handler: str) -> int:
        return 0

    async def save(self, runner: str, handler: str, position: int) -> None: ...

    async def reset(self, runner: str, handler: str, position: int = 0) -> None: ...

    async def park(self, parked: ParkedEvent) -> None: ...

    async def parked(self, runner: str) -> list[ParkedEvent]:
        return []

    async def unpark(self, parked: ParkedEvent) -> None: ...


def build(**options: object) -> ReactionRunner:
    store = InMemoryEventStore()
    return ReactionRunner(RUNNER, store, registry, make_counter_router(store),
                          policies=[IncrementOnTick()], **options)  # type: ignore[arg-type]


def test_a_runner_of_in_memory_read_models_alone_takes_no_lease() -> None:
    """Each process keeps its own in-memory read models: a lease would leave a standby's
    empty, and its wait_caught_up had nothing to wait on (it hung)."""
    shared = InMemoryCheckpointStore()
    views = ReactionRunner("views", InMemoryEventStore(), registry,
                           make_counter_router(InMemoryEventStore()),
                           read_models=[CountsView()], checkpoints=shared)
    assert not views.exclusive
    with pytest.raises(ValueError, match="checkpoints nothing"):
        ReactionRunner("views", InMemoryEventStore(), registry,
                       make_counter_router(InMemoryEventStore()), read_models=[CountsView()],
                       checkpoints=shared, exclusive=True)


def test_runners_are_exclusive_by_default_on_a_store_that_keeps_leases() -> None:
    assert build(checkpoints=InMemoryCheckpointStore()).exclusive
    assert not build(checkpoints=InMemoryCheckpointStore(), exclusive=False).exclusive
    assert not build().exclusive  # no checkpoints: nothing changes
    assert not build(checkpoints=NoLeases()).exclusive
    assert isinstance(InMemoryCheckpointStore(), LeaseStore)
    assert not isinstance(NoLeases(), LeaseStore)


@pytest.mark.parametrize(("options", "says"), [
    ({"exclusive": True}, "NoneType keeps none"),
    ({"exclusive": True, "checkpoints": NoLeases()}, "NoLeases keeps none"),
    ({"exclusive": 1, "checkpoints": InMemoryCheckpointStore()}, "True, False or None"),
    *(({"lease_ttl": bad, "checkpoints": InMemoryCheckpointStore()},
       rf"lease_ttl is the seconds a runner's lease lasts without renewal: a number of at "
       rf"least 0\.1, got {re.escape(repr(bad))}")
      for bad in (0, "5", None, True, 1e-9, float("inf"), float("nan"))),
    ({"lease_ttl": -1, "exclusive": False}, "lease_ttl is the seconds"),  # even unused
])
def test_an_exclusive_runner_that_cannot_be_is_refused(options: dict[str, object],
                                                        says: str) -> None:
    with pytest.raises(ValueError, match=says):
        build(**options)


# ---- the stores' leases: one contract, both stores ---------------------------------------


@pytest_asyncio.fixture(params=["memory", "jetstream"])
async def lease_store(request: pytest.FixtureRequest, nc: Client,
                      jetstream_store: JetStreamEventStore) -> AsyncIterator[LeaseStore]:
    if request.param == "memory":
        yield InMemoryCheckpointStore()
        return
    store = await JetStreamCheckpointStore.for_store(nc, jetstream_store)
    yield store
    await nc.jetstream().delete_stream(f"KV_{store.bucket}")


async def test_a_lease_is_written_and_deleted_only_on_its_last_revision(
    lease_store: LeaseStore,
) -> None:
    key = "runner.with ~ odd*chars>"
    assert await lease_store.read_lease(key) == (None, 0)
    first = await lease_store.write_lease(key, b"one", 0)
    entry, revision = await lease_store.read_lease(key)
    assert entry is not None and (entry.value, entry.revision, revision) == (b"one", first, first)
    with pytest.raises(LeaseRefused):
        await lease_store.write_lease(key, b"late", 0)
    second = await lease_store.write_lease(key, b"two", first)
    assert second > first
    with pytest.raises(LeaseRefused):
        await lease_store.delete_lease(key, first)
    await lease_store.delete_lease(key, second)
    entry, deleted = await lease_store.read_lease(key)
    assert entry is None and deleted > second
    assert await lease_store.write_lease(key, b"three", deleted) > deleted
    assert (await lease_store.read_lease("another runner"))[0] is None


async def test_a_watcher_hears_of_deletes_until_it_stops_watching(
    lease_store: LeaseStore,
) -> None:
    heard: list[str] = []
    stop: Callable[[], Awaitable[None]] = await lease_store.watch_lease(
        "w", lambda: heard.append("w"))
    revision = await lease_store.write_lease("w", b"held", 0)
    await lease_store.delete_lease("w", revision)
    await wait_for(lambda: heard == ["w"], timeout=10)
    await stop()
    _, revision = await lease_store.read_lease("w")
    revision = await lease_store.write_lease("w", b"again", revision)
    await lease_store.delete_lease("w", revision)
    await asyncio.sleep(0.2)
    assert heard == ["w"]



# ---- the attack helper's cases -----------------------------------------------------------


class LostAnswer:
    """A checkpoint store shared with other runners (``inner``) whose first lease write
    lands but whose answer is lost, as a reply NATS dropped or a timeout is."""

    def __init__(self, inner: InMemoryCheckpointStore) -> None:
        self.inner = inner
        self.lost = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def write_lease(self, key: str, value: bytes, expect: int) -> int:
        revision = await self.inner.write_lease(key, value, expect)
        if not self.lost:
            self.lost += 1
            raise StoreUnavailableError("the answer to a lease write was lost")
        return revision


async def test_a_standby_whose_lease_write_lost_its_answer_reads_the_checkpoints(
        tmp_path: Path) -> None:
    """The standby's write landed, its answer did not; the next round found its own record
    and took the lease as if its positions, loaded when it started, were current: it
    applied all 200 events again. It reads the checkpoints on every takeover now."""
    store, shared, log = InMemoryEventStore(), InMemoryCheckpointStore(), tmp_path / "log"
    first = memory_runner(store, shared, log, "first", lease_ttl=1.0)
    second = ReactionRunner(RUNNER, store, registry, make_counter_router(store),
                            policies=[IncrementOnTick()], read_models=[AppliedLog(log, "second")],
                            checkpoints=LostAnswer(shared),
                            lease_ttl=1.0)
    await first.start()
    await second.start()  # a standby: its positions are those of now, 0
    await produce(store, 50, pause=0)
    await asyncio.wait_for(first.wait_quiet(), 30)
    await first.stop()  # the lease deleted: the standby writes its own, and hears nothing
    await wait_for(lambda: second.active, timeout=30)
    await produce(store, 10, pause=0)
    await asyncio.wait_for(second.wait_quiet(), 30)
    await second.stop()
    assert Counter(tag for _, tag in applied(log)) == {"first": 50, "second": 10}
    assert Counter(event_id for event_id, _ in applied(log)) == Counter(await tick_ids(store))
