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
from aether.eventbus import Subscription
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


async def settle(subscription: Subscription, registry: EventRegistry, router: CommandRouter,
                 policies: Sequence[Policy] = (), read_models: Sequence[ReadModel] = (),
                 ) -> list[tuple[Event, Policy]]:
    """Feed every event waiting on ``subscription`` to the read models and policies, and
    keep going while the commands they send produce more, until all is quiet.

    For tests, demos and single-process apps with a local EventBus; long-running services
    use ``run``. Returns which policy reacted to which event, in order.
    """
    reactions: list[tuple[Event, Policy]] = []
    while subscription.pending:
        envelope = await subscription.get(timeout=1)
        for read_model in read_models:
            read_model.handle(envelope, registry)
        for policy in policies:
            if await policy.handle(envelope, registry, router):
                reactions.append((envelope, policy))
    return reactions
