"""Policies and read models: code that reacts to events.

Generated bases subclass these and dispatch each event type to a typed method. A
``ReactionRunner`` (aether/runner.py) drives them from the store's feed with checkpoints;
``settle`` (same module) runs them in place until all is quiet, for tests and demos.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from aether.command import Command, CommandSender, Dispatch
from aether.errors import DomainError
from aether.event import CAUSATION_ID, COMMAND_ID, CORRELATION_ID, Event
from aether.registry import EventPayload, EventRegistry


@dataclass(frozen=True)
class Outcome:
    """What one of a policy's commands came to: the events it produced, or its refusal."""

    dispatch: Dispatch[Command]
    command_id: str
    events: list[Event]
    refused: DomainError | None = None


class Policy(ABC):
    """Whenever an event of ``reacts_to`` happens, issue commands.

    ``position`` is the feed position this policy has reacted up to when it runs without
    a checkpoint store (``settle``, or a runner given ``checkpoints=None``).
    """

    reacts_to: ClassVar[tuple[str, ...]] = ()
    position: int = 0

    @property
    def name(self) -> str:
        """The policy's name in checkpoints, command ids and parked records."""
        return type(self).__name__

    @abstractmethod
    def react(self, event: EventPayload, envelope: Event) -> Sequence[Dispatch[Command]]:
        """The commands to send for one event (pure: no I/O)."""

    def command_id(self, envelope: Event, index: int) -> str:
        """The id of the ``index``-th command for this event: the same on every retry, so
        a command that already took effect is not executed again."""
        return f"{envelope.id}/{self.name}/{index}"

    async def handle(self, envelope: Event, registry: EventRegistry,
                     sender: CommandSender) -> list[Outcome]:
        """React to one event and send the resulting commands. A DomainError is an outcome
        (the aggregate said no), not a failure; any other error propagates."""
        if envelope.event_type not in self.reacts_to:
            return []
        dispatches = self.react(registry.decode(envelope), envelope)
        correlation = envelope.correlation_id or envelope.id
        outcomes = []
        for index, dispatch in enumerate(dispatches):
            command_id = self.command_id(envelope, index)
            metadata = {CORRELATION_ID: correlation, CAUSATION_ID: envelope.id,
                        COMMAND_ID: command_id}
            try:
                events = await sender.dispatch(dispatch, metadata)
            except DomainError as refused:
                outcomes.append(Outcome(dispatch, command_id, [], refused))
            else:
                outcomes.append(Outcome(dispatch, command_id, events))
        return outcomes


class ReadModel(ABC):
    """A query-side view kept up to date from events of ``reads``.

    A read model whose state lives in process memory (``durable = False``, the default)
    carries its feed ``position`` with that state: a new instance starts from 0 and
    replays, so it never resumes from a checkpoint that outlived its state. Set
    ``durable = True`` when the state is kept elsewhere and the runner should checkpoint
    it (then ``project`` must tolerate seeing an event again after a crash).
    """

    reads: ClassVar[tuple[str, ...]] = ()
    durable: ClassVar[bool] = False
    position: int = 0

    @property
    def name(self) -> str:
        return type(self).__name__

    @abstractmethod
    def project(self, event: EventPayload, envelope: Event) -> None:
        """Update the view for one event."""

    def handle(self, envelope: Event, registry: EventRegistry) -> bool:
        if envelope.event_type not in self.reads:
            return False
        self.project(registry.decode(envelope), envelope)
        return True
