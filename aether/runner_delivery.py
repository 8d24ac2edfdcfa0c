"""How a reaction runner hands one event of the feed to its handlers (aether/retry.py's rules).

Each handler that has not seen the event and reads its type gets it; one that raises is
retried with backoff, then parked (aether/parking.py) or the runner halts (``RunnerHalted``,
raised), as configured. An outage (``TransientError``) is let through for the runner to wait
out; a DomainError a policy's command met is a refusal, kept, not a failure. A record of the
feed that is not an event is parked once, for the runner as a whole, and passed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from aether.checkpoints import UNDECODABLE
from aether.command import CommandSender
from aether.event import Event
from aether.feed import UndecodableEventError
from aether.parking import Parking
from aether.reactions import Policy, ReadModel
from aether.registry import EventRegistry
from aether.retry import RetryPolicy, RunnerHalted, is_transient
from aether.runner_lease import RunnerLease, hold
from aether.runner_positions import Positions
from aether.runner_state import Handler, Rejection, RunnerCounters

logger = logging.getLogger("aether.runner")  # one logger for all of a runner (docs/runtime.md)

Reactions = list[tuple[Event, Policy]]
"""(event, policy) for each policy that issued commands, for ``settle``'s answer."""


class Delivery:
    """Hands the events of one runner's feed to its handlers, moving their positions."""

    def __init__(self, runner: str, registry: EventRegistry, sender: CommandSender, *,
                 retry: RetryPolicy, counters: RunnerCounters, rejections: deque[Rejection],
                 parking: Parking, positions: Positions, lease: RunnerLease | None) -> None:
        self.runner = runner
        self.registry = registry
        self.sender = sender
        self.retry = retry
        self.counters = counters
        self.rejections = rejections
        self.parking = parking
        self.positions = positions
        self.lease = lease

    async def process(self, position: int, event: Event, reactions: Reactions | None) -> None:
        """Hand one event to every handler that has not seen it; RunnerHalted when one
        failed for good and the runner is configured to halt."""
        for handler in self.positions.handlers:
            if handler.position >= position:
                continue
            if event.event_type in handler.types:
                began = time.monotonic()
                await self._deliver_with_retries(handler, position, event, reactions)
                if self.lease is not None:
                    self.lease.check_pace(handler.name, position, time.monotonic() - began)
            handler.position = position
        self.counters.processed += 1
        self.positions.went_through(position)

    async def deliver(self, handler: Handler, position: int, event: Event,
                      reactions: Reactions | None) -> None:
        """Hand ``event`` to ``handler`` once, its errors raised."""
        target = handler.target
        if isinstance(target, ReadModel):
            target.handle(event, self.registry)
            return
        outcomes = await target.handle(event, self.registry, self.sender)
        self.positions.since_flush += len(outcomes)  # each a command resent after a crash
        for outcome in outcomes:
            if outcome.refused is not None:
                self.counters.rejected += 1
                self.rejections.append(Rejection(position, target.name, outcome))
        if outcomes and reactions is not None:
            reactions.append((event, target))

    async def _deliver_with_retries(self, handler: Handler, position: int, event: Event,
                                    reactions: Reactions | None) -> None:
        attempt = 0
        while True:
            attempt += 1
            hold(self.lease)
            try:
                await self.deliver(handler, position, event, reactions)
                return
            except Exception as exc:
                if is_transient(exc):
                    raise  # an outage, not this handler's fault: the runner waits and resumes
                if attempt < self.retry.attempts:
                    self.counters.retried += 1
                    logger.warning("%s failed on position %d (attempt %d), retrying: %r",
                                   handler.name, position, attempt, exc)
                    await asyncio.sleep(self.retry.delay(attempt))
                    continue
                if self.retry.on_exhausted == "halt":
                    raise RunnerHalted(self.runner, handler.name, position, exc) from exc
                hold(self.lease)
                await self.parking.park_failure(handler.name, position, event, exc, attempt)
                self.counters.parked += 1
                logger.error("%s parked the event at position %d after %d attempts: %r",
                             handler.name, position, attempt, exc)
                return

    async def undecodable(self, poison: UndecodableEventError) -> None:
        """A record of the feed that is not an event, met once every event before it was
        handled: retrying cannot help, so park it (one record for the runner, whichever
        handler might have read it), count it, and pass it; or halt, if so configured.
        Parked before the checkpoint moves past it: a crash in between parks it again
        (same key, one record), never loses it."""
        if self.positions.passed_before(poison.position):
            # Every checkpointed handler passed it in an earlier life, which parked it (and
            # someone may have dismissed it since): only the in-memory handlers, reading
            # from 0 again, meet it now. Parked again, it would come back on every start.
            self.counters.undecodable += 1
            self.counters.processed += 1
            logger.info("reaction runner %r passed the record at position %d again (parked "
                        "when first met): %s", self.runner, poison.position, poison)
            self.positions.advance_to(poison.position)
            return
        if self.retry.on_exhausted == "halt":
            raise RunnerHalted(self.runner, UNDECODABLE, poison.position, poison) from poison
        hold(self.lease)
        await self.parking.park_undecodable(poison)
        self.counters.undecodable += 1
        self.counters.parked += 1
        logger.error("reaction runner %r parked the record at position %d: %s", self.runner,
                     poison.position, poison)
        self.counters.processed += 1
        self.positions.advance_to(poison.position)
        await self.positions.flush()
