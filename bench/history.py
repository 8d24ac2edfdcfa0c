"""A command on an aggregate with a long history, against the eventsourcing library: where
the Repository's aggregate cache pays (bench/app.py prints these rows with its table).

Both sides hold ``ACCOUNTS`` counters (ours: aether.testing.counters) of ``HISTORY`` events
each, written before the clock starts, and each counter has taken one command already (so a
cache holds it, as a hot aggregate's would be). Timed: one more command on every counter.
Ours: a CommandRouter over a Repository on an InMemoryEventStore, with its default cache and
with ``cache_size=0`` (every load reads and replays the whole history). Theirs:
``Application.repository.get`` (which replays the whole history: its cache is off unless
configured), the command, and ``app.save``.
"""

from __future__ import annotations

import time
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from aether import CommandRouter, Repository
from aether.store import InMemoryEventStore
from aether.testing.counters import Counter, Increment, Incremented, registry

HISTORY = 100
ACCOUNTS = 200
REPEATS = 3


async def ours_prepared(cache_size: int | None) -> CommandRouter:
    """Counters with HISTORY events each, and one command sent to each through the router."""
    store = InMemoryEventStore()
    for index in range(ACCOUNTS):
        await store.save_events(registry.to_events(
            [Incremented(by=1)] * (HISTORY - 1), f"counter-{index}", 1))
    repository = (Repository(store, Counter, registry) if cache_size is None else
                  Repository(store, Counter, registry, cache_size=cache_size))
    router = CommandRouter()
    router.route(Increment, repository, Counter.handle)
    await ours_run(router)
    return router


async def ours_run(router: CommandRouter) -> None:
    for index in range(ACCOUNTS):
        await router.send(f"counter-{index}", Increment(by=2))


class EsCounter(Aggregate):
    @event("Created")
    def __init__(self) -> None:
        self.total = 0

    @event("Counted")
    def add(self, amount: int) -> None:
        self.total += amount


def theirs_prepared() -> tuple[Application[UUID], list[UUID]]:
    app: Application[UUID] = Application()
    counters = []
    for _ in range(ACCOUNTS):
        counter = EsCounter()
        for _ in range(HISTORY - 2):
            counter.add(1)
        counters.append(counter)
    app.save(*counters)
    ids = [counter.id for counter in counters]
    theirs_run((app, ids))
    return app, ids


def theirs_run(state: tuple[Application[UUID], list[UUID]]) -> None:
    app, ids = state
    for counter_id in ids:
        counter: EsCounter = app.repository.get(counter_id)
        counter.add(2)
        app.save(counter)


async def compare(cache_size: int | None) -> tuple[float, float]:
    """Commands per second (process CPU time) of ours and theirs, best of REPEATS
    alternating rounds, each on freshly prepared counters."""
    best = [float("inf"), float("inf")]
    for _ in range(REPEATS):
        router = await ours_prepared(cache_size)
        start = time.process_time()
        await ours_run(router)
        best[0] = min(best[0], time.process_time() - start)
        state = theirs_prepared()
        start = time.process_time()
        theirs_run(state)
        best[1] = min(best[1], time.process_time() - start)
    return ACCOUNTS / best[0], ACCOUNTS / best[1]
