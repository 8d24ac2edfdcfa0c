"""Attacks on the reaction runner: what it must not lose, skip or park when the parts it
drives misbehave (a remote owner's store down, hostile feed arguments, failing handlers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from typing import Any, ClassVar
from uuid import uuid4

import nats
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.aio.client import Client

from aether import (
    ClusterRouter,
    InvalidNameError,
    JetStreamCheckpointStore,
    Policy,
    ReactionRunner,
    RetryPolicy,
)
from aether.checkpoints import CheckpointAheadError, InMemoryCheckpointStore
from aether.command import Command, Dispatch
from aether.event import Event
from aether.registry import EventPayload
from aether.store import InMemoryEventStore, JetStreamConfig, JetStreamEventStore
from aether.testing import NatsServer
from aether.testing.counters import (
    IncrementOnTick,
    Ticked,
    commands,
    make_counter_router,
    registry,
)
from tests.actors.cluster import SHARDS, cluster_name, nodes
from tests.reactions.test_runner import tick


@pytest.mark.slow
async def test_an_owners_store_outage_pauses_a_runner_on_a_cluster_router(
        nats_server: NatsServer, private_nats_server: NatsServer) -> None:
    """A local CommandRouter whose store is down raises StoreUnavailableError, and the runner
    waits for the store instead of parking. Behind a ClusterRouter the same outage happens on
    the owning node: the runner must see it as the same outage, not as a handler failure to
    retry a few times and park (the policy's command would then wait for a person to replay
    it, although the store came back seconds later)."""
    store_nc = await nats.connect(private_nats_server.url, max_reconnect_attempts=-1,
                                  reconnect_time_wait=0.2)
    counters = await JetStreamEventStore.create(store_nc, "counters",
                                                JetStreamConfig(request_timeout=0.5))
    ticks = InMemoryEventStore()
    cluster = cluster_name()
    async with nodes(nats_server.url, cluster, ["owner"], counters):
        client = await nats.connect(nats_server.url)
        router = ClusterRouter(client, cluster, commands, shard_count=SHARDS, timeout=5)
        runner = ReactionRunner("outage", ticks, registry, router, policies=[IncrementOnTick()],
                                retry=RetryPolicy(attempts=2, backoff=0.05, max_backoff=0.2))
        try:
            await runner.start()
            await tick(ticks, ["a"])
            await asyncio.wait_for(runner.wait_caught_up(), 30)
            await asyncio.to_thread(private_nats_server.stop)
            await tick(ticks, ["b"])
            await asyncio.sleep(2.5)  # several owner answers of 0.5 s: 2 attempts would park
            assert runner.counters.parked == 0 and await runner.parked() == []
            assert runner.running and runner.error is None
            await asyncio.to_thread(private_nats_server.start)
            await asyncio.wait_for(runner.wait_caught_up(), 60)
            assert runner.counters.parked == 0
            assert [len(await counters.get_events(c)) for c in "ab"] == [1, 1]
        finally:
            await runner.stop()
            await client.drain()
    with contextlib.suppress(Exception):
        await store_nc.drain()


class LongWinded(IncrementOnTick):
    """Fails on the counter "loud" with an error whose text is 2 MB (a response body, a big
    repr): more than one NATS message holds."""

    def react(self, event: EventPayload, envelope: Event) -> Sequence[Dispatch[Command]]:
        assert isinstance(event, Ticked)
        if event.counter == "loud":
            raise RuntimeError("upstream said: " + "x" * 2_000_000)
        return super().react(event, envelope)


async def run_to_the_end(name: str, store: Any, checkpoints: JetStreamCheckpointStore,
                         policy: Policy, attempts: int = 1) -> ReactionRunner:
    """A runner of ``policy`` that parks after ``attempts`` failures, run over every event
    in ``store`` (sending its commands there too) and stopped, with no error."""
    runner = ReactionRunner(name, store, registry, make_counter_router(store),
                            policies=[policy], checkpoints=checkpoints,
                            retry=RetryPolicy(attempts=attempts, backoff=0.001))
    await runner.start()
    try:
        await asyncio.wait_for(runner.wait_caught_up(), 30)
    finally:
        await runner.stop()
    assert runner.error is None
    return runner


async def test_an_event_whose_error_is_huge_is_parked_and_the_runner_goes_on(
        nc: Client, jetstream_store: JetStreamEventStore) -> None:
    ticks = InMemoryEventStore()
    checkpoints = await JetStreamCheckpointStore.for_store(nc, jetstream_store)
    await tick(ticks, ["a", "loud", "b"])
    runner = await run_to_the_end("loud", ticks, checkpoints, LongWinded(), attempts=2)
    [parked] = await runner.parked()
    assert parked.event is not None
    assert (parked.position, parked.event.data) == (2, {"counter": "loud"})
    assert parked.error.startswith("RuntimeError('upstream said: xxx")
    assert [len(await ticks.get_events(c)) for c in ("a", "loud", "b")] == [1, 0, 1]


class Heavy(IncrementOnTick):
    """Fails on every event with a long, non-ASCII error."""

    def react(self, event: EventPayload, envelope: Event) -> Sequence[Dispatch[Command]]:
        raise RuntimeError("é" * 1900)


async def test_an_event_near_the_size_limit_with_a_long_error_is_parked(
        tmp_path: Any) -> None:
    # The parked record (the event and up to 2,000 characters of error, 2 bytes each here)
    # passed the server's max_payload: nats-py raised MaxPayloadError, the runner stopped on
    # the event, and stopped again there on every start.
    server = NatsServer(store_dir=tmp_path, name="small",
                        extra_config="max_payload: 65536\n").start()
    nc = await nats.connect(server.url)
    try:
        store = await JetStreamEventStore.create(nc, "heavy")
        checkpoints = await JetStreamCheckpointStore.for_store(nc, store)
        big = registry.to_event(Ticked(counter="y" * 62_000), "clock", 1)
        await store.save_event(big)  # within the store's limit: max_payload less 1 KiB
        await tick(store, ["after"])
        runner = await run_to_the_end("heavy", store, checkpoints, Heavy())
        first, second = await runner.parked()
        assert first.event == big and first.error.startswith("RuntimeError('éé")
        assert "cut to fit" in first.error
        assert second.error == f"RuntimeError('{'é' * 1900}')"  # a small event keeps it all
    finally:
        await nc.close()
        server.stop()


@pytest.mark.parametrize("name", ["é" * 700, "x" * 513, "a\ud800"])
async def test_a_runner_or_handler_name_checkpoints_cannot_be_kept_under_is_refused(
        nc: Client, jetstream_store: JetStreamEventStore, name: str) -> None:
    # A 700-character name went into the KV subjects, past NATS's 4 KiB protocol line:
    # the server dropped the shared connection, and start() reported an outage.
    checkpoints = await JetStreamCheckpointStore.for_store(nc, jetstream_store)
    router = make_counter_router(jetstream_store)
    with pytest.raises(InvalidNameError, match="ReactionRunner's name"):
        ReactionRunner(name, jetstream_store, registry, router, checkpoints=checkpoints)

    class Named(IncrementOnTick):
        @property
        def name(self) -> str:
            return name

    with pytest.raises(InvalidNameError, match="handler name"):
        ReactionRunner("ok", jetstream_store, registry, router, policies=[Named()],
                       checkpoints=checkpoints)
    with pytest.raises(InvalidNameError):
        await checkpoints.save(name, "h", 1)
    await checkpoints.save("ok", "h", 1)  # the connection is fine
    assert await checkpoints.load("ok", "h") == 1


class Picky(IncrementOnTick):
    """Fails on the events an older writer left (marked "legacy")."""

    def react(self, event: EventPayload, envelope: Event) -> Sequence[Dispatch[Command]]:
        if "legacy" in envelope.metadata:
            raise RuntimeError("cannot handle this one yet")
        return super().react(event, envelope)


@pytest.mark.parametrize("legacy", ["long actor id", "integer over 64 bits", "deep data"])
async def test_history_older_than_todays_limits_is_parked_listed_and_replayed(
        nc: Client, jetstream_store: JetStreamEventStore, legacy: str) -> None:
    # The feed reads what an older writer stored beyond today's limits, but parking held the
    # event to them: a 600-byte actor id stopped the runner (nothing parked), and a parked
    # 2**64 or 70-deep data made parked() and replay_parked() fail for every record.
    store = jetstream_store
    actor = "clock"
    data: dict[str, Any] = {"counter": "a"}
    deep: dict[str, Any] = {"x": 1}
    for _ in range(70):
        deep = {"x": deep}
    if legacy == "long actor id":
        actor = "c" * 600
    elif legacy == "integer over 64 bits":
        data["extra"] = 2**64
    else:
        data["extra"] = deep
    event_id = str(uuid4())
    raw = {"id": event_id, "event_type": "Ticked", "actor_id": actor, "version": 1,
           "data": data, "timestamp": "2020-01-01T00:00:00+00:00",
           "metadata": {"legacy": "yes"}}
    await nc.jetstream().publish(f"{store.stream_name}.events.legacy",
                                 json.dumps(raw).encode(), headers={"Nats-Msg-Id": event_id})
    await store.save_event(registry.to_event(Ticked(counter="b"), "clock-2", 1))
    checkpoints = await JetStreamCheckpointStore.for_store(nc, store)
    runner = await run_to_the_end("legacy", store, checkpoints, Picky())
    (parked,) = await runner.parked()
    assert parked.event is not None and parked.event.id == event_id
    assert parked.event.actor_id == actor and parked.position == 1
    assert await runner.replay_parked() == 0  # fails again, stays parked
    assert [p.attempts for p in await runner.parked()] == [2]
    assert await store.get_latest_version("b") == 1  # the next event was handled


@pytest.fixture(params=["memory", "jetstream"])
def each_store(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{request.param}_store")


async def test_a_runner_catches_up_past_events_none_of_its_handlers_reads(
        each_store: Any) -> None:
    """The policy's own commands write Incremented events, which the runner does not read:
    its position, lag and checkpoint must still reach the end of the feed, and
    wait_caught_up must return (it hung until some later Ticked arrived)."""
    store = each_store
    checkpoints = InMemoryCheckpointStore()
    runner = ReactionRunner("quiet", store, registry, make_counter_router(store),
                            policies=[IncrementOnTick()], checkpoints=checkpoints)
    await runner.start()
    try:
        await tick(store, ["a", "b"])
        for _ in range(200):
            if [len(await store.get_events(c)) for c in "ab"] == [1, 1]:
                break
            await asyncio.sleep(0.05)
        last = await store.last_position()
        assert last == 4  # two ticks, then their two increments
        await asyncio.wait_for(runner.wait_caught_up(), 10)
        assert (runner.position, runner.lag) == (last, 0)
        assert await checkpoints.load("quiet", "IncrementOnTick") == last
    finally:
        await runner.stop()


async def test_checkpoints_of_another_history_are_refused_not_followed(
        nc: Client, jetstream_store: JetStreamEventStore) -> None:
    """The stream is recreated (or restored from an older backup) while its checkpoint
    bucket stays: the checkpoints point past the new history's end. Followed from there,
    the runner skipped every new event up to the old position, silently."""
    store = jetstream_store
    checkpoints = await JetStreamCheckpointStore.for_store(nc, store)
    runner = ReactionRunner("again", store, registry, make_counter_router(store),
                            policies=[IncrementOnTick()], checkpoints=checkpoints)
    await tick(store, ["a", "b", "c"])
    await runner.start()
    await asyncio.wait_for(runner.wait_caught_up(), 30)
    await runner.stop()
    assert await checkpoints.load("again", "IncrementOnTick") >= 3
    await nc.jetstream().delete_stream(store.stream_name)
    store = await JetStreamEventStore.create(nc, store.stream_name,
                                             JetStreamConfig(storage="memory"))
    await tick(store, ["x", "y"])
    runner = ReactionRunner("again", store, registry, make_counter_router(store),
                            policies=[IncrementOnTick()], checkpoints=checkpoints)
    with pytest.raises(CheckpointAheadError, match="ends at 2"):
        await runner.start()
    assert not runner.running
    await checkpoints.reset("again", "IncrementOnTick")  # what the error says to do
    await runner.start()
    try:
        for _ in range(200):
            if [len(await store.get_events(c)) for c in "xy"] == [1, 1]:
                break
            await asyncio.sleep(0.05)
        assert [len(await store.get_events(c)) for c in "xy"] == [1, 1]
    finally:
        await runner.stop()


class Recorder(Policy):
    """Records every Ticked it handles; fails ``failures[counter]`` times per event of that
    counter first (``ALWAYS``: every time), and never dispatches anything."""

    ALWAYS = 99
    reacts_to: ClassVar[tuple[str, ...]] = ("Ticked",)

    def __init__(self, failures: dict[str, int], log: list[tuple[str, int]]) -> None:
        self.failures, self.log = failures, log
        self.tries: dict[str, int] = {}

    def react(self, event: EventPayload, envelope: Event) -> Sequence[Dispatch[Command]]:
        assert isinstance(event, Ticked)
        tries = self.tries[envelope.id] = self.tries.get(envelope.id, 0) + 1
        if tries <= self.failures.get(event.counter, 0):
            raise RuntimeError(f"{event.counter} fails, try {tries}")
        self.log.append((envelope.actor_id, envelope.version))
        return []


_steps = st.lists(st.one_of(
    st.tuples(st.just("tick"), st.lists(st.sampled_from("abcde"), min_size=1, max_size=6)),
    st.tuples(st.just("restart"), st.just([])),
    st.tuples(st.just("crash"), st.just([])),
), min_size=1, max_size=12)


@settings(deadline=None)  # examples: the profile's (25 by default)
@given(steps=_steps, failures=st.dictionaries(st.sampled_from("abcde"),
                                              st.sampled_from([1, 2, Recorder.ALWAYS])))
async def test_every_event_is_handled_in_order_or_parked_across_restarts_and_crashes(
        steps: list[tuple[str, list[str]]], failures: dict[str, int]) -> None:
    """Whatever the handler fails on and whenever the runner restarts (stop: checkpoints
    saved) or crashes (a new runner on the same checkpoints, the old one's unsaved progress
    lost): every event is handled at least once, each clock's events first handled in
    version order, and exactly the events that always fail are parked, none lost."""
    store, checkpoints = InMemoryEventStore(), InMemoryCheckpointStore()
    log: list[tuple[str, int]] = []

    def new_runner() -> ReactionRunner:
        return ReactionRunner("prop", store, registry, make_counter_router(store),
                              policies=[Recorder(failures, log)], checkpoints=checkpoints,
                              retry=RetryPolicy(attempts=3, backoff=0.0001),
                              checkpoint_every=3)

    runner = new_runner()
    await runner.start()
    for step, counters in steps:
        if step == "tick":
            for counter in counters:  # one clock per counter: per-actor order is checkable
                await tick(store, [counter], clock=f"clock-{counter}")
            await asyncio.sleep(0)
        elif step == "restart":
            await runner.stop()
            runner = new_runner()
            await runner.start()
        else:
            task = runner._task
            assert task is not None
            task.cancel()  # dies where it stands: no final checkpoint save
            with contextlib.suppress(asyncio.CancelledError):
                await task
            runner = new_runner()
            await runner.start()
    await asyncio.wait_for(runner.wait_caught_up(), 10)
    await runner.stop()
    assert runner.error is None
    stored = [(e.actor_id, e.version, e.data["counter"]) for _, e in await store.read_all()]
    poisoned = {(a, v) for a, v, c in stored if failures.get(str(c)) == Recorder.ALWAYS}
    handled = list(log)
    assert set(handled) | poisoned == {(a, v) for a, v, _ in stored}
    assert not set(handled) & poisoned
    first_seen: dict[str, list[int]] = {}
    for actor, version in dict.fromkeys(handled):
        first_seen.setdefault(actor, []).append(version)
    assert all(versions == sorted(versions) for versions in first_seen.values())
    assert {(p.event.actor_id, p.event.version) for p in await runner.parked()
            if p.event is not None} == poisoned
