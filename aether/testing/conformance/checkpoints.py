"""The checkpoint store conformance suite (``aether.checkpoints.CheckpointStore``).

A subclass provides a ``checkpoints`` fixture returning a fresh, empty checkpoint store.
The store outlives hypothesis's examples, so each example keeps its own handler name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aether.checkpoints import (
    MAX_NAME_BYTES,
    CheckpointStore,
    InvalidNameError,
    InvalidPositionError,
    ParkedEvent,
)
from aether.testing.conformance.store import ODD_ACTOR_IDS
from aether.testing.factories import make_event


def _parked(runner: str, handler: str, position: int) -> ParkedEvent:
    return ParkedEvent(runner=runner, handler=handler, position=position,
                       event=make_event("a", position), error="ValueError('boom')", attempts=3,
                       parked_at=datetime.now(UTC))


class CheckpointConformance:
    # Every test is a coroutine: marked here so subclasses run in pytest-asyncio's default
    # strict mode too, with no configuration from the user (auto mode ignores the mark).
    pytestmark = pytest.mark.asyncio

    async def test_is_a_checkpoint_store(self, checkpoints: Any) -> None:
        assert isinstance(checkpoints, CheckpointStore)

    async def test_unknown_checkpoint_is_zero(self, checkpoints: Any) -> None:
        assert await checkpoints.load("runner", "handler") == 0

    async def test_saved_positions_read_back_per_runner_and_handler(
        self, checkpoints: Any
    ) -> None:
        await checkpoints.save("r1", "h1", 10)
        await checkpoints.save("r1", "h2", 20)
        await checkpoints.save("r2", "h1", 30)
        await checkpoints.save("r1", "h1", 11)
        assert [await checkpoints.load(r, h) for r, h in
                (("r1", "h1"), ("r1", "h2"), ("r2", "h1"), ("r2", "h2"))] == [11, 20, 30, 0]

    async def test_a_lower_or_equal_save_leaves_the_checkpoint_as_it_is(
        self, checkpoints: Any
    ) -> None:
        # Two runners of one name (a deploy overlap) save their own positions: the slower
        # one's must not move the checkpoint back, or a restart repeats more work.
        await checkpoints.save("r", "h", 10)
        for lower in (4, 10, 0):
            await checkpoints.save("r", "h", lower)
            assert await checkpoints.load("r", "h") == 10
        await checkpoints.save("r", "h", 12)
        assert await checkpoints.load("r", "h") == 12

    async def test_reset_sets_a_checkpoint_lower(self, checkpoints: Any) -> None:
        for handler in ("h", "other"):
            await checkpoints.save("r", handler, 10)
        await checkpoints.reset("r", "h", 3)
        assert await checkpoints.load("r", "h") == 3
        await checkpoints.reset("r", "h")
        assert [await checkpoints.load("r", h) for h in ("h", "other")] == [0, 10]
        await checkpoints.save("r", "h", 2)  # saves go on from the reset position
        assert await checkpoints.load("r", "h") == 2
        await checkpoints.reset("r", "h", 5)
        assert await checkpoints.load("r", "h") == 5

    # Every backend subclass runs this method, and the store outlives the examples.
    @settings(suppress_health_check=[HealthCheck.differing_executors, HealthCheck.too_slow,
                                     HealthCheck.function_scoped_fixture])
    @given(steps=st.lists(st.tuples(st.sampled_from(["save", "save", "save", "reset"]),
                                    st.integers(0, 50)), max_size=12))
    async def test_any_saves_and_resets_end_at_the_highest_save_since_the_last_reset(
        self, checkpoints: Any, steps: list[tuple[str, int]]
    ) -> None:
        handler = uuid4().hex
        expected = 0
        for step, position in steps:
            if step == "reset":
                await checkpoints.reset("r", handler, position)
                expected = position
            else:
                await checkpoints.save("r", handler, position)
                expected = max(expected, position)
        assert await checkpoints.load("r", handler) == expected

    async def test_odd_names_never_share_a_checkpoint(self, checkpoints: Any) -> None:
        for index, name in enumerate(ODD_ACTOR_IDS, start=1):
            await checkpoints.save(name, name, index)
        for index, name in enumerate(ODD_ACTOR_IDS, start=1):
            assert await checkpoints.load(name, name) == index

    async def test_a_name_no_checkpoint_store_keeps_is_refused(self, checkpoints: Any
                                                             ) -> None:
        for name in ("", "x" * (MAX_NAME_BYTES + 1), "é" * 300, "a\ud800"):
            with pytest.raises(InvalidNameError):
                await checkpoints.save(name, "h", 1)
            with pytest.raises(InvalidNameError):
                await checkpoints.save("r", name, 1)
            with pytest.raises(InvalidNameError):
                await checkpoints.reset(name, "h")
            with pytest.raises(InvalidNameError):
                await checkpoints.reset("r", name, 1)
            with pytest.raises(InvalidNameError):
                await checkpoints.park(_parked(name, "p", 1))
            with pytest.raises(InvalidNameError):
                await checkpoints.parked(name)
        assert await checkpoints.load("r", "h") == 0

    async def test_a_position_that_is_no_feed_position_is_refused(self, checkpoints: Any
                                                                 ) -> None:
        await checkpoints.save("r", "h", 4)
        for position in (-1, 1.5, True, "7", None, 2**63 * -1):
            with pytest.raises(InvalidPositionError):
                await checkpoints.save("r", "h", position)
            with pytest.raises(InvalidPositionError):
                await checkpoints.reset("r", "h", position)
        assert await checkpoints.load("r", "h") == 4

    async def test_parked_events_are_listed_and_unparked(self, checkpoints: Any) -> None:
        second, first, other = _parked("r", "p", 7), _parked("r", "p", 3), _parked("x", "p", 1)
        for parked in (second, first, other, _parked("r", "a.b", 5)):
            await checkpoints.park(parked)
        listed = await checkpoints.parked("r")
        assert [(p.handler, p.position) for p in listed] == [("a.b", 5), ("p", 3), ("p", 7)]
        assert listed[1] == first
        await checkpoints.unpark(first)
        assert [(p.handler, p.position) for p in await checkpoints.parked("r")] == [
            ("a.b", 5), ("p", 7)]
        assert await checkpoints.parked("x") == [other]
        assert await checkpoints.parked("nobody") == []
