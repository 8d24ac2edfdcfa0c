"""Recording what an external system reports: a clock's ``DayStarted``, a payment
provider's ``PaymentReceived``.

No aggregate decides these events; they are facts from outside. ``ExternalSystem.record``
builds the stored Event through the registry, appends it to the system's own stream under
the store's concurrency rules, publishes it to the bus if one is given, and returns it;
policies and read models then react through the feed as to any other event. Generated
packages subclass it once per external system of the model (``external.py``).

Actor ids are ``<prefix>-<key>``: the prefix is the system's snake_case name, the key is
chosen by the caller and should be the fact's own identity (a payment id, a day), so
events about one thing form one ordered stream and unrelated facts never contend.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import ClassVar, Generic, TypeVar

from aether.errors import AetherError, VersionConflictError
from aether.event import Event, EventStore
from aether.eventbus import EventBroadcaster, publish_stored
from aether.limits import check_actor_id
from aether.registry import EventPayload, EventRegistry

PayloadT = TypeVar("PayloadT", bound=EventPayload)


class UndeclaredExternalEventError(AetherError, TypeError):
    """An external system was asked to record an event the model does not say it emits."""


class ExternalSystem(Generic[PayloadT]):
    """Records the events one external system emits (``emits``) in streams
    ``<prefix>-<key>``."""

    prefix: ClassVar[str]
    emits: ClassVar[tuple[str, ...]] = ()
    attempts: ClassVar[int] = 10
    """Appends tried when another writer takes the stream's next version first."""
    backoff: ClassVar[float] = 0.01
    """Seconds: the first retry waits up to this long, each later one up to twice as long
    as the one before ("full jitter": a random time from 0 to that bound) ..."""
    max_backoff: ClassVar[float] = 1.0
    """... and no retry waits longer than this."""

    def __init__(self, store: EventStore, registry: EventRegistry, *,
                 bus: EventBroadcaster | None = None, namespace: str = "") -> None:
        self.store, self.registry, self.bus, self.namespace = store, registry, bus, namespace

    def actor_id(self, key: str) -> str:
        """The stream a fact with this key is recorded in."""
        if not isinstance(key, str) or not key:
            raise AetherError(f"{type(self).__name__}.record needs a non-empty text key "
                              f"(the fact's own id, e.g. a payment id or a date), got {key!r}")
        return check_actor_id(f"{self.prefix}-{key}")

    async def record(self, event: PayloadT, *, key: str,
                     metadata: Mapping[str, str] | None = None) -> Event:
        """Append ``event`` as the next version of stream ``<prefix>-<key>``, publish it
        to the bus (if any) and return it as stored."""
        if event.event_type not in self.emits:
            raise UndeclaredExternalEventError(
                f"{type(self).__name__} emits {', '.join(self.emits) or 'no events'}, not "
                f"{event.event_type!r}: declare it under the external system's `emits` in "
                f"the model")
        actor_id = self.actor_id(key)
        for attempt in range(1, self.attempts + 1):
            version = await self.store.get_latest_version(actor_id) + 1
            stored = self.registry.to_event(event, actor_id, version, metadata=metadata)
            try:
                await self.store.save_event(stored)
            except VersionConflictError:
                # Another writer recorded a fact with this key first: go after it. Writers
                # that collided all retry at once when they wait alike, and collide again
                # (16 writers, 5 attempts: 11 failed); a random wait spreads them out.
                if attempt == self.attempts:
                    raise
                await asyncio.sleep(self.retry_delay(attempt))
                continue
            if self.bus is not None:
                await publish_stored(self.bus, self.namespace, [stored])
            return stored
        raise AssertionError("unreachable")  # pragma: no cover

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait before retrying after ``attempt`` lost a race (full jitter)."""
        bound = min(self.max_backoff, self.backoff * 2 ** min(attempt - 1, 30))
        return random.uniform(0, bound)  # spreading retries: no secret
