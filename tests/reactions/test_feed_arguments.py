"""Hostile arguments to the feed: every backend refuses them the same clear way, and none
reaches JetStream, whose "malformed request" would read as an outage."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from aether import ReactionRunner
from aether.checkpoints import CheckpointAheadError, InMemoryCheckpointStore
from aether.feed import MAX_POSITION, FeedArgumentError
from aether.store import InMemoryEventStore, JetStreamEventStore
from aether.testing.counters import CountsView, IncrementOnTick, make_counter_router, registry
from tests.reactions.test_runner import tick

BAD_READS: list[dict[str, Any]] = [
    {"after": -1}, {"after": 1.5}, {"after": float("nan")}, {"after": True}, {"after": "1"},
    {"after": None}, {"after": MAX_POSITION + 1}, {"after": 2**64 + 5}, {"after": 10**30},
    {"limit": 0}, {"limit": -5}, {"limit": 2.5}, {"limit": True},
    {"event_types": "Ticked"}, {"event_types": b"Ticked"}, {"event_types": [1, 2]},
]


@pytest.fixture(params=["memory", "jetstream"])
def feed(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{request.param}_store")


@pytest.mark.parametrize("arguments", BAD_READS, ids=repr)
async def test_a_read_no_feed_can_take_is_refused_clearly(feed: Any,
                                                          arguments: dict[str, Any]) -> None:
    await tick(feed, ["a", "b"])
    with pytest.raises(FeedArgumentError):
        await feed.read_all(**arguments)
    if "limit" not in arguments:
        with pytest.raises(FeedArgumentError):
            async with feed.follow(**arguments) as follower:
                await asyncio.wait_for(anext(follower), 5)
    assert [p for p, _ in await feed.read_all(0, 10, event_types=["Ticked"])] == [1, 2]


async def test_odd_event_type_names_filter_like_any_other(feed: Any) -> None:
    await tick(feed, ["a"])
    assert await feed.read_all(0, event_types=["a.b", "*", ">", "", "\ud800"]) == []
    assert await feed.read_all(0, event_types=[]) == []
    assert await feed.read_all(MAX_POSITION) == []


async def test_a_runner_with_an_impossible_checkpoint_refuses_to_start(
        jetstream_store: JetStreamEventStore) -> None:
    """A checkpoint no stream can reach (hand-edited, or written by a bug) once made
    JetStream answer "malformed request": StoreUnavailableError, which the runner takes for
    an outage and retries forever, logging that the store is unavailable. It is beyond the
    end of the feed, so the runner now refuses it before following anything."""
    checkpoints = InMemoryCheckpointStore()
    await checkpoints.save("r", "IncrementOnTick", 2**64)
    runner = ReactionRunner("r", jetstream_store, registry, make_counter_router(jetstream_store),
                            policies=[IncrementOnTick()], checkpoints=checkpoints)
    with pytest.raises(CheckpointAheadError):
        await runner.start()
    assert not runner.running


class ReactsToAString(IncrementOnTick):
    reacts_to: ClassVar[tuple[str, ...]] = "Ticked"  # type: ignore[assignment]


class ReadsAString(CountsView):
    reads: ClassVar[tuple[str, ...]] = "Incremented"  # type: ignore[assignment]


@pytest.mark.parametrize("handlers", [{"policies": [ReactsToAString()]},
                                      {"read_models": [ReadsAString()]}], ids=repr)
def test_a_handler_declaring_its_event_types_as_one_string_is_refused(
        handlers: dict[str, Any]) -> None:
    """Taken as the set of its characters, the string matched no event: the handler never
    ran and nothing said why."""
    store = InMemoryEventStore()
    with pytest.raises(FeedArgumentError, match=r"event_types=\["):
        ReactionRunner("r", store, registry, make_counter_router(store), **handlers)
