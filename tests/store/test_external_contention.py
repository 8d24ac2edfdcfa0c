"""ExternalSystem.record under contention: writers recording facts on one key at the same
moment all land, with the defaults, on a real JetStream store (retries are jittered, so
writers that collided do not collide again in lockstep)."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import nats

from aether import AetherError, Event, ExternalSystem, StoreUnavailableError
from aether.store import JetStreamConfig, JetStreamEventStore
from aether.testing import NatsServer
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


async def test_records_racing_through_a_server_restart_land_once_or_say_unavailable(
        private_nats_server: NatsServer) -> None:
    """Writers keep recording on one key while the server restarts under them: each record
    returns an event the store holds at exactly that version, or raises
    StoreUnavailableError (it may or may not have landed); the stream stays one gapless
    history, one event per version."""
    server = private_nats_server
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    try:
        store = await JetStreamEventStore.create(
            nc, "extrestart", JetStreamConfig(request_timeout=1.0))
        clock = Clock(store, registry)
        returned: list[Event] = []
        unavailable = 0
        others: list[BaseException] = []

        async def writer(index: int) -> None:
            nonlocal unavailable
            for n in range(6):
                try:
                    returned.append(await clock.record(Ticked(counter=f"w{index}-{n}"),
                                                       key="restart"))
                except StoreUnavailableError:
                    unavailable += 1
                except Exception as exc:  # collected, asserted on below
                    others.append(exc)

        writers = [asyncio.create_task(writer(i)) for i in range(16)]
        await asyncio.sleep(0.05)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(server.start)
        await asyncio.gather(*writers)
        assert others == []
        stored = await store.get_events("clock-restart")
        assert [e.version for e in stored] == list(range(1, len(stored) + 1))
        by_version = {e.version: e for e in stored}
        assert all(by_version.get(e.version) == e for e in returned)
        assert len(returned) + unavailable == 16 * 6
        assert len(returned) <= len(stored) <= len(returned) + unavailable
    finally:
        await nc.close()
