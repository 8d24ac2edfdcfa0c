"""ReactionRunner: ordering, checkpoints, exactly-once effects, retries, parking, halting."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client

from aether import (
    COMMAND_ID,
    Command,
    Dispatch,
    Event,
    EventPayload,
    InMemoryCheckpointStore,
    JetStreamCheckpointStore,
    Policy,
    ReactionRunner,
    RetryPolicy,
    RunnerHalted,
    settle,
)
from aether.store import InMemoryEventStore, JetStreamEventStore
from aether.testing.counters import (
    CountsView,
    Increment,
    IncrementOnTick,
    Refuse,
    Ticked,
    make_counter_router,
    registry,
)

FAST = RetryPolicy(attempts=3, backoff=0.001)


async def tick(store: Any, counters: Sequence[str], clock: str = "clock") -> None:
    """One Ticked event per counter name, on the ``clock`` actor."""
    version = await store.get_latest_version(clock)
    for offset, counter in enumerate(counters, start=1):
        await store.save_event(registry.to_event(Ticked(counter=counter), clock, version + offset))


async def counts(store: Any, names: Sequence[str]) -> dict[str, int]:
    return {name: len(await store.get_events(name)) for name in names}


def rebuilt(events: list[tuple[int, Event]]) -> CountsView:
    view = CountsView()
    for _, event in events:
        view.handle(event, registry)
    return view


class Flaky(IncrementOnTick):
    """Fails its first ``failures`` calls, then behaves."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def react(self, event: EventPayload, envelope: Event) -> Sequence[Dispatch[Command]]:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"flaky failure {self.calls}")
        return super().react(event, envelope)


class Broken(IncrementOnTick):
    """Fails on ticks for the counter named "poison", until fixed."""

    def __init__(self, fixed: bool = False) -> None:
        self.fixed = fixed

    def react(self, event: EventPayload, envelope: Event) -> Sequence[Dispatch[Command]]:
        assert isinstance(event, Ticked)
        if event.counter == "poison" and not self.fixed:
            raise ValueError("cannot handle poison")
        return super().react(event, envelope)


class RefuseOnTick(Policy):
    reacts_to: ClassVar[tuple[str, ...]] = ("Ticked",)

    def react(self, event: EventPayload, envelope: Event) -> Sequence[Dispatch[Command]]:
        assert isinstance(event, Ticked)
        return [Dispatch(event.counter, Refuse(reason="closed for the day"))]


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore()


async def test_runner_reacts_to_history_and_to_new_events(store: InMemoryEventStore) -> None:
    await tick(store, ["a", "b", "a"])
    view = CountsView()
    runner = ReactionRunner("r", store, registry, make_counter_router(store),
                            policies=[IncrementOnTick()], read_models=[view])
    await runner.start()
    await runner.wait_caught_up()
    await tick(store, ["b", "c"])
    await runner.wait_caught_up()
    await runner.stop()
    assert await counts(store, "abc") == {"a": 2, "b": 2, "c": 1}
    assert runner.lag == 0
    assert runner.position == await store.last_position()
    assert runner.counters.processed == 10  # 5 ticks + 5 increments
    assert (view.counts, view.ticks) == (rebuilt(await store.read_all()).counts, 5)


async def test_a_restarted_runner_resumes_at_its_checkpoints(store: InMemoryEventStore) -> None:
    checkpoints = InMemoryCheckpointStore()
    router = make_counter_router(store)
    first = ReactionRunner("r", store, registry, router, policies=[IncrementOnTick()],
                           read_models=[CountsView()], checkpoints=checkpoints)
    await tick(store, ["a", "b"])
    await first.start()
    await first.wait_caught_up()
    await first.stop()
    assert await checkpoints.load("r", "IncrementOnTick") == await store.last_position()

    await tick(store, ["a"])
    view = CountsView()  # a new in-memory view: it must replay from 0, not resume
    second = ReactionRunner("r", store, registry, router, policies=[IncrementOnTick()],
                            read_models=[view], checkpoints=checkpoints)
    await second.start()
    await second.wait_caught_up()
    await second.stop()
    assert await counts(store, "ab") == {"a": 2, "b": 1}
    assert view.counts == {"a": 2, "b": 1} and view.ticks == 3


async def test_handling_events_again_takes_effect_once(store: InMemoryEventStore) -> None:
    """A crash after dispatching but before checkpointing: the events come again."""
    router = make_counter_router(store)
    await tick(store, ["a", "a", "b"])
    await settle(store, registry, router, [IncrementOnTick()])
    again = await settle(store, registry, router, [IncrementOnTick()])  # from position 0
    assert len(again) == 3
    assert await counts(store, "ab") == {"a": 2, "b": 1}
    ids = [event.metadata[COMMAND_ID] for name in "ab" for event in await store.get_events(name)]
    assert len(set(ids)) == 3 and all("/IncrementOnTick/0" in i for i in ids)


async def test_a_handler_that_fails_then_succeeds_is_retried(store: InMemoryEventStore) -> None:
    flaky = Flaky(failures=2)
    runner = ReactionRunner("r", store, registry, make_counter_router(store), policies=[flaky],
                            retry=FAST)
    await tick(store, ["a"])
    await runner.settle()
    assert runner.counters.retried == 2 and runner.counters.parked == 0
    assert await counts(store, "a") == {"a": 1}


async def test_an_always_failing_event_is_parked_and_the_runner_goes_on(
    store: InMemoryEventStore,
) -> None:
    checkpoints = InMemoryCheckpointStore()
    router = make_counter_router(store)
    runner = ReactionRunner("r", store, registry, router, policies=[Broken()], retry=FAST,
                            checkpoints=checkpoints)
    await tick(store, ["a", "poison", "b"])
    await runner.start()
    await runner.wait_caught_up()
    await runner.stop()
    assert await counts(store, ["a", "poison", "b"]) == {"a": 1, "poison": 0, "b": 1}
    assert runner.counters.parked == 1 and runner.counters.retried == 2
    (parked,) = await runner.parked()
    assert (parked.handler, parked.position, parked.attempts) == ("Broken", 2, 3)
    assert parked.event is not None and parked.event.data == {"counter": "poison"}
    assert "cannot handle poison" in parked.error

    # Fixed: replaying the parked event applies it once and unparks it.
    fixed = ReactionRunner("r", store, registry, router, policies=[Broken(fixed=True)],
                           checkpoints=checkpoints)
    assert await fixed.replay_parked() == 1
    assert await fixed.parked() == []
    assert await counts(store, ["poison"]) == {"poison": 1}


async def test_a_runner_configured_to_halt_stops_at_the_failing_event(
    store: InMemoryEventStore,
) -> None:
    checkpoints = InMemoryCheckpointStore()
    router = make_counter_router(store)
    runner = ReactionRunner("r", store, registry, router, policies=[Broken()],
                            retry=RetryPolicy(attempts=2, backoff=0.001, on_exhausted="halt"),
                            checkpoints=checkpoints)
    await tick(store, ["a", "poison", "b"])
    await runner.start()
    with pytest.raises(RunnerHalted, match="position 2"):
        await runner.wait_caught_up()
    await runner.stop()
    assert runner.position == 1 and not runner.running
    assert await checkpoints.load("r", "Broken") == 1
    assert await counts(store, ["a", "b"]) == {"a": 1, "b": 0}


async def test_a_refused_command_is_an_outcome_not_a_failure(store: InMemoryEventStore) -> None:
    runner = ReactionRunner("r", store, registry, make_counter_router(store),
                            policies=[RefuseOnTick()], retry=FAST)
    await tick(store, ["a", "b"])
    await runner.settle()
    assert runner.counters.rejected == 2
    assert runner.counters.retried == runner.counters.parked == 0
    assert [(r.position, r.policy) for r in runner.rejections] == [(1, "RefuseOnTick"),
                                                                   (2, "RefuseOnTick")]
    assert "closed for the day" in str(runner.rejections[0].outcome.refused)


async def test_settle_continues_where_it_stopped_and_raises_handler_errors(
    store: InMemoryEventStore,
) -> None:
    router = make_counter_router(store)
    view, policy = CountsView(), IncrementOnTick()
    await tick(store, ["a"])
    reactions = await settle(store, registry, router, [policy], [view])
    assert [(event.event_type, p) for event, p in reactions] == [("Ticked", policy)]
    await tick(store, ["a"])
    await settle(store, registry, router, [policy], [view])
    assert view.counts == {"a": 2} and view.ticks == 2
    await tick(store, ["poison"])
    with pytest.raises(ValueError, match="poison"):
        await settle(store, registry, router, [Broken()])


@pytest.fixture
async def checkpoint_bucket(
    nc: Client, jetstream_store: JetStreamEventStore
) -> AsyncIterator[JetStreamCheckpointStore]:
    bucket = await JetStreamCheckpointStore.for_store(nc, jetstream_store)
    yield bucket
    await nc.jetstream().delete_key_value(bucket.bucket)


async def test_runner_on_jetstream_checkpoints_and_parks_in_the_bucket(
    jetstream_store: JetStreamEventStore, checkpoint_bucket: JetStreamCheckpointStore,
) -> None:
    store = jetstream_store
    router = make_counter_router(store, snapshot_store=store, snapshot_every=2)
    await tick(store, ["a", "poison", "a"])
    runner = ReactionRunner("shop", store, registry, router, policies=[Broken()],
                            read_models=[CountsView()], checkpoints=checkpoint_bucket,
                            retry=FAST)
    await runner.start()
    await runner.wait_caught_up()
    await tick(store, ["b"])
    await runner.wait_caught_up()
    await runner.wait_caught_up()  # and the event its command produced
    await runner.stop()
    assert await counts(store, ["a", "b", "poison"]) == {"a": 2, "b": 1, "poison": 0}
    assert await checkpoint_bucket.load("shop", "Broken") == await store.last_position()
    assert [p.position for p in await checkpoint_bucket.parked("shop")] == [2]

    # Rewound checkpoints: everything is handled again, nothing takes effect twice.
    await checkpoint_bucket.reset("shop", "Broken")
    again = ReactionRunner("shop", store, registry, router, policies=[Broken(fixed=True)],
                           checkpoints=checkpoint_bucket)
    await again.settle()
    assert await counts(store, ["a", "b", "poison"]) == {"a": 2, "b": 1, "poison": 1}


@given(plan=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 100)),
                     min_size=1, max_size=20))
async def test_crashing_anywhere_before_a_checkpoint_never_doubles_an_effect(
    plan: list[tuple[str, int]],
) -> None:
    """Each step ticks a counter, settles, then 'crashes': the policy's checkpoint falls back
    to a random earlier position, as if it had never been saved. Effects stay exactly once."""
    store = InMemoryEventStore()
    router = make_counter_router(store, snapshot_store=store, snapshot_every=2)
    checkpoints = InMemoryCheckpointStore()
    for counter, rewind in plan:
        await tick(store, [counter])
        runner = ReactionRunner("r", store, registry, router, policies=[IncrementOnTick()],
                                checkpoints=checkpoints)
        await runner.settle()
        reached = await checkpoints.load("r", "IncrementOnTick")
        await checkpoints.reset("r", "IncrementOnTick", reached * rewind // 100)
    await ReactionRunner("r", store, registry, router, policies=[IncrementOnTick()],
                         checkpoints=checkpoints).settle()
    ticks = [counter for counter, _ in plan]
    assert await counts(store, "abc") == {name: ticks.count(name) for name in "abc"}


async def test_a_durable_read_model_resumes_from_its_checkpoint(store: InMemoryEventStore) -> None:
    class StoredCounts(CountsView):
        durable = True  # pretend its state lives in a database beside the checkpoint

    checkpoints = InMemoryCheckpointStore()
    router = make_counter_router(store)
    await tick(store, ["a", "b"])
    first = StoredCounts()
    await ReactionRunner("r", store, registry, router, read_models=[first],
                         checkpoints=checkpoints).settle()
    assert await checkpoints.load("r", "StoredCounts") == 2
    await tick(store, ["c"])
    second = StoredCounts()  # a new process: only events after the checkpoint arrive
    await ReactionRunner("r", store, registry, router, read_models=[second],
                         checkpoints=checkpoints).settle()
    assert (first.ticks, second.ticks) == (2, 1)


class Relay(Policy):
    """Each increment of counter ``n`` increments counter ``n + 1``, up to ``last``: one
    event sets off a chain of commands, each stored after the event that caused it."""

    reacts_to: ClassVar[tuple[str, ...]] = ("Incremented",)

    def __init__(self, last: int) -> None:
        self.last = last

    def react(self, event: EventPayload, envelope: Event) -> Sequence[Dispatch[Command]]:
        step = int(envelope.actor_id)
        return [Dispatch(str(step + 1), Increment())] if step < self.last else []


@pytest.fixture(params=["memory", "jetstream"])
def any_store(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{request.param}_store")


async def test_wait_quiet_waits_for_the_events_the_runners_own_commands_cause(
        any_store: Any) -> None:
    store = any_store
    view = CountsView()
    router = make_counter_router(store)
    runner = ReactionRunner("relay", store, registry, router, policies=[Relay(last=20)],
                            read_models=[view], checkpoints=InMemoryCheckpointStore())
    await runner.start()
    await router.send("0", Increment())
    await runner.wait_quiet()
    try:
        # Every link of the chain, read by the view: not only what was stored at the call.
        assert view.counts == {str(step): 1 for step in range(21)}
        assert runner.position == await store.last_position() == 21
    finally:
        await runner.stop()
