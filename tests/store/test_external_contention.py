"""ExternalSystem.record under contention: writers recording facts on one key at the same
moment all land, with the defaults, on a real JetStream store (retries are jittered, so
writers that collided do not collide again in lockstep)."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from aether import AetherError, ExternalSystem
from aether.store import JetStreamEventStore
from aether.testing.counters import Ticked, registry


class Clock(ExternalSystem[Ticked]):
    prefix: ClassVar[str] = "clock"
    emits: ClassVar[tuple[str, ...]] = ("Ticked",)


async def test_sixteen_concurrent_records_on_one_key_all_land(
        jetstream_store: JetStreamEventStore) -> None:
    clock = Clock(jetstream_store, registry)
    for round_ in range(3):  # each round starts 16 writers on a fresh key at once
        key = f"day-{round_}"
        outcomes = await asyncio.gather(
            *(clock.record(Ticked(counter=f"w{i}"), key=key) for i in range(16)),
            return_exceptions=True)
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        assert failed == [], failed
        stored = await jetstream_store.get_events(f"clock-{key}")
        assert [e.version for e in stored] == list(range(1, 17))
        assert sorted(registry.decode(e).counter for e in stored  # type: ignore[attr-defined]
                      ) == sorted(f"w{i}" for i in range(16))
        assert all(isinstance(o, object) and not isinstance(o, AetherError) for o in outcomes)


def test_retry_delays_are_random_bounded_and_grow_to_the_cap() -> None:
    clock = Clock.__new__(Clock)
    for attempt, bound in [(1, 0.01), (2, 0.02), (4, 0.08), (8, 1.0), (60, 1.0)]:
        delays = {clock.retry_delay(attempt) for _ in range(200)}
        assert all(0 <= d <= bound for d in delays)
        assert len(delays) > 100  # random: writers that collided wait differently
        assert max(delays) > bound / 2
