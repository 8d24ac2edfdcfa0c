"""A command on an aggregate with a long history, against the eventsourcing library: where
the Repository's aggregate cache pays (bench/app.py prints these rows with its table).

Both sides hold ``ACCOUNTS`` counters of ``HISTORY`` events each, written before the clock
starts, and each counter has taken one command already (so a cache holds it, as a hot
aggregate's would be). Timed: one more command on every counter. Ours: a CommandRouter over
a Repository on an InMemoryEventStore, with its default cache and with ``cache_size=0``
(every load reads and replays the whole history). Theirs: ``Application.repository.get``
(which replays the whole history: its cache is off unless configured), the command, and
``app.save``.
"""

from __future__ import annotations

import time
from typing import ClassVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from pydantic import BaseModel

from aether import AggregateRoot, CommandRouter, EventPayload, EventRegistry, Repository
from aether.command import Command
from aether.store import InMemoryEventStore

HISTORY = 100
ACCOUNTS = 200
REPEATS = 3


class Counted(EventPayload):
    event_type: ClassVar[str] = "Counted"
    amount: int


class CounterState(BaseModel, frozen=True):
    total: int = 0
    count: int = 0


class Counter(AggregateRoot[CounterState]):
    @classmethod
    def initial_state(cls) -> CounterState:
        return CounterState()

    def add(self, amount: int) -> None:
        self.record(Counted(amount=amount))

    def apply(self, event: EventPayload) -> None:
        assert isinstance(event, Counted)
        self.state = CounterState(total=self.state.total + event.amount,
                                  count=self.state.count + 1)


class Add(Command):
    command_type: ClassVar[str] = "Add"
    amount: int


REGISTRY = EventRegistry([Counted])


async def ours_prepared(cache_size: int | None) -> CommandRouter:
    """Counters with HISTORY events each, and one command sent to each through the router."""
    store = InMemoryEventStore()
    for index in range(ACCOUNTS):
        await store.save_events(REGISTRY.to_events(
            [Counted(amount=1)] * (HISTORY - 1), f"counter-{index}", 1))
    repository = (Repository(store, Counter, REGISTRY) if cache_size is None else
                  Repository(store, Counter, REGISTRY, cache_size=cache_size))
    router = CommandRouter()
    router.route(Add, repository, lambda counter, command: counter.add(command.amount))
    await ours_run(router)
    return router


async def ours_run(router: CommandRouter) -> None:
    for index in range(ACCOUNTS):
        await router.send(f"counter-{index}", Add(amount=2))


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
