"""The checkpoint store conformance suite (``aether.checkpoints.CheckpointStore``).

A subclass provides a ``checkpoints`` fixture returning a fresh, empty checkpoint store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aether.checkpoints import MAX_NAME_BYTES, CheckpointStore, InvalidNameError, ParkedEvent
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
                await checkpoints.park(_parked(name, "p", 1))
            with pytest.raises(InvalidNameError):
                await checkpoints.parked(name)
        assert await checkpoints.load("r", "h") == 0

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
