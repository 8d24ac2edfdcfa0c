"""Policies that read read models: they see them up to date through the event they react
to, also after a restart that rebuilds the read models from 0; and their scenarios."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pytest

from aether import (
    AetherError,
    Command,
    Dispatch,
    Event,
    EventPayload,
    InMemoryCheckpointStore,
    MissingReadModelError,
    Policy,
    ReactionRunner,
    read_model_of,
    run_policy_scenario,
    settle,
)
from aether.store import InMemoryEventStore
from aether.testing.counters import (
    CountsView,
    Increment,
    Incremented,
    Ticked,
    make_counter_router,
    registry,
)


class IncrementByTicksSeen(Policy):
    """On each tick, increments its counter by the ticks the view has seen so far: what
    it dispatches shows what it read."""

    reacts_to: ClassVar[tuple[str, ...]] = ("Ticked",)

    def __init__(self, counts: CountsView) -> None:
        self.counts = counts

    def react(self, event: EventPayload, envelope: Event) -> Sequence[Dispatch[Command]]:
        assert isinstance(event, Ticked)
        return [Dispatch(event.counter, Increment(by=self.counts.ticks))]


async def tick(store: InMemoryEventStore, count: int) -> None:
    version = await store.get_latest_version("clock")
    for offset in range(1, count + 1):
        await store.save_event(registry.to_event(Ticked(counter="c"), "clock", version + offset))


async def increments(store: InMemoryEventStore) -> list[int]:
    return [Incremented.model_validate(event.data).by for event in await store.get_events("c")]


async def test_a_policy_reads_its_read_models_through_the_event_it_reacts_to() -> None:
    store = InMemoryEventStore()
    router = make_counter_router(store)
    view = CountsView()
    await tick(store, 3)
    await settle(store, registry, router, [IncrementByTicksSeen(view)], [view])
    assert await increments(store) == [1, 2, 3]  # never 0, never a later tick


async def test_after_a_restart_the_read_models_catch_up_before_the_policy_resumes() -> None:
    store = InMemoryEventStore()
    router = make_counter_router(store)
    checkpoints = InMemoryCheckpointStore()  # the policy resumes; the view starts from 0
    for round_ in range(2):
        view = CountsView()
        runner = ReactionRunner("r", store, registry, router,
                                policies=[IncrementByTicksSeen(view)], read_models=[view],
                                checkpoints=checkpoints)
        await tick(store, 2)
        await runner.settle()
        assert view.ticks == 2 * (round_ + 1)
    assert await increments(store) == [1, 2, 3, 4]


def test_read_model_of_finds_exactly_one_instance() -> None:
    view = CountsView()
    assert read_model_of([view], CountsView) is view
    with pytest.raises(MissingReadModelError, match=r"reads CountsView, and 0 instances"):
        read_model_of([], CountsView)
    with pytest.raises(MissingReadModelError, match=r"2 instances .* CountsView, CountsView"):
        read_model_of([view, CountsView()], CountsView)


def test_a_policy_scenario_feeds_given_and_when_to_the_read_models_first() -> None:
    view = CountsView()
    dispatches = run_policy_scenario(
        IncrementByTicksSeen(view), registry, ("clock", Ticked(counter="c")),
        given=[("clock", Ticked(counter="x")), ("other", Ticked(counter="y"))],
        read_models=[view])
    assert dispatches == [Dispatch("c", Increment(by=3))]
    with pytest.raises(AetherError, match="does not react to Incremented"):
        run_policy_scenario(IncrementByTicksSeen(view), registry,
                            ("c", Incremented(by=1)))
