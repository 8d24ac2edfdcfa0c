"""Policies and read models: code that reacts to events arriving on a bus.

Generated bases subclass these and dispatch each event type to a typed method; the
``run`` loops here decode events and keep going when one handler fails.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, Sequence
from typing import ClassVar

from aether.command import Command, Dispatch
from aether.event import CAUSATION_ID, CORRELATION_ID, Event
from aether.registry import EventPayload, EventRegistry
from aether.router import CommandRouter

logger = logging.getLogger(__name__)


class Policy(ABC):
    """Whenever an event of ``reacts_to`` happens, issue commands."""

    reacts_to: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def react(self, event: EventPayload, envelope: Event) -> Sequence[Dispatch[Command]]:
        """The commands to send for one event (pure: no I/O)."""

    async def handle(self, envelope: Event, registry: EventRegistry,
                     router: CommandRouter) -> int:
        """React to one event and send the resulting commands; returns how many."""
        if envelope.event_type not in self.reacts_to:
            return 0
        dispatches = self.react(registry.decode(envelope), envelope)
        correlation = envelope.correlation_id or envelope.id
        for dispatch in dispatches:
            await router.dispatch(dispatch, {CORRELATION_ID: correlation,
                                             CAUSATION_ID: envelope.id})
        return len(dispatches)

    async def run(self, events: AsyncIterable[Event], registry: EventRegistry,
                  router: CommandRouter) -> None:
        """React to every event until the subscription ends."""
        async for envelope in events:
            try:
                await self.handle(envelope, registry, router)
            except Exception:
                logger.exception("%s failed on event %s", type(self).__name__, envelope.id)


class ReadModel(ABC):
    """A query-side view kept up to date from events of ``reads``."""

    reads: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def project(self, event: EventPayload, envelope: Event) -> None:
        """Update the view for one event."""

    def handle(self, envelope: Event, registry: EventRegistry) -> bool:
        if envelope.event_type not in self.reads:
            return False
        self.project(registry.decode(envelope), envelope)
        return True

    async def run(self, events: AsyncIterable[Event], registry: EventRegistry) -> None:
        async for envelope in events:
            try:
                self.handle(envelope, registry)
            except Exception:
                logger.exception("%s failed on event %s", type(self).__name__, envelope.id)
