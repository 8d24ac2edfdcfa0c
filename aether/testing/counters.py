"""A tiny domain for the sender and reaction test suites: counters that count increments.

An increment is deliberately *not* idempotent (each one adds), so running a command twice
shows in the count; ``Refuse`` always fails with a DomainError; ``Tick`` events from a
``Clock`` actor drive the ``IncrementOnTick`` policy, and ``CountsView`` is a read model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel

from aether.aggregate import AggregateRoot, Repository
from aether.command import Command, CommandRegistry, Dispatch
from aether.errors import DomainError
from aether.event import Event, EventStore, SnapshotStore
from aether.reactions import Policy, ReadModel
from aether.registry import EventPayload, EventRegistry
from aether.router import CommandRouter


class Incremented(EventPayload):
    event_type: ClassVar[str] = "Incremented"
    by: int


class Ticked(EventPayload):
    event_type: ClassVar[str] = "Ticked"
    counter: str


registry = EventRegistry([Incremented, Ticked])


class Increment(Command):
    command_type: ClassVar[str] = "Increment"
    by: int = 1


class IncrementCounter(Increment):
    """An increment that knows its target, as generated commands of an aggregate that
    declares its id field do: ``send_command`` needs no separate actor id."""

    command_type: ClassVar[str] = "IncrementCounter"
    counter: str

    def target_actor_id(self) -> str:
        return f"counter-{self.counter}"


class Refuse(Command):
    command_type: ClassVar[str] = "Refuse"
    reason: str


commands = CommandRegistry([Increment, IncrementCounter, Refuse])
"""How a node decodes the counters' commands sent over the wire (cluster router)."""


class CounterState(BaseModel):
    count: int = 0
    increments: int = 0


class Counter(AggregateRoot[CounterState]):
    @classmethod
    def initial_state(cls) -> CounterState:
        return CounterState()

    def handle(self, command: Command) -> None:
        if isinstance(command, Increment):
            self.record(Incremented(by=command.by))
        elif isinstance(command, Refuse):
            raise DomainError(f"counter {self.id} refuses: {command.reason}")
        else:
            raise TypeError(f"Counter cannot handle {type(command).__name__}")

    def apply(self, event: EventPayload) -> None:
        if isinstance(event, Incremented):
            self.state = CounterState(count=self.state.count + event.by,
                                      increments=self.state.increments + 1)


def make_counter_router(store: EventStore, *, snapshot_store: SnapshotStore | None = None,
                        snapshot_every: int = 0) -> CommandRouter:
    """A CommandRouter for ``Increment``, ``IncrementCounter`` and ``Refuse`` on Counters."""
    router = CommandRouter()
    repository = Repository(store, Counter, registry, snapshot_store=snapshot_store,
                            snapshot_every=snapshot_every)
    router.route(Increment, repository, Counter.handle)
    router.route(IncrementCounter, repository, Counter.handle)
    router.route(Refuse, repository, Counter.handle)
    return router


class IncrementOnTick(Policy):
    """Every Ticked event increments the counter it names."""

    reacts_to: ClassVar[tuple[str, ...]] = ("Ticked",)

    def react(self, event: EventPayload, envelope: Event) -> Sequence[Dispatch[Command]]:
        assert isinstance(event, Ticked)
        return [Dispatch(event.counter, Increment())]


class CountsView(ReadModel):
    """Counter id -> count, and how many ticks were seen (kept in process memory)."""

    reads: ClassVar[tuple[str, ...]] = ("Incremented", "Ticked")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.ticks = 0

    def project(self, event: EventPayload, envelope: Event) -> None:
        if isinstance(event, Incremented):
            self.counts[envelope.actor_id] = self.counts.get(envelope.actor_id, 0) + event.by
        else:
            self.ticks += 1
