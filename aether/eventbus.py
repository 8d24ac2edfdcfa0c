"""EventBus: in-process, namespaced publish/subscribe of events.

A publisher never waits for a subscriber: each subscription has a bounded
buffer and an explicit overflow policy, and counts what it had to drop.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from aether.errors import SubscriptionClosedError
from aether.event import Event

DEFAULT_MAX_PENDING = 1024


class OverflowPolicy(enum.Enum):
    """What a full subscription does with one more event."""

    DROP_OLDEST = "drop_oldest"
    """Keep the newest events: a lagging reader sees the present, not the past."""
    DROP_NEWEST = "drop_newest"
    """Keep the oldest events: a lagging reader sees a gap-free prefix."""


class Subscription:
    """An async iterator over one namespace's events; ``close()`` ends it."""

    def __init__(
        self,
        namespace: str,
        max_pending: int = DEFAULT_MAX_PENDING,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
        on_close: Callable[[Subscription], None] | None = None,
    ) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self.namespace = namespace
        self.max_pending = max_pending
        self.overflow = overflow
        self.dropped = 0
        self._buffer: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._on_close = on_close

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def deliver(self, event: Event) -> None:
        """Buffer one event without blocking; applies the overflow policy when full."""
        if self._closed:
            return
        if len(self._buffer) >= self.max_pending:
            self.dropped += 1
            if self.overflow is OverflowPolicy.DROP_NEWEST:
                return
            self._buffer.popleft()
        self._buffer.append(event)
        self._wake()

    async def get(self, timeout: float | None = None) -> Event:
        """The next event; raises TimeoutError after ``timeout`` seconds and
        SubscriptionClosedError once closed."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except StopAsyncIteration:
            raise SubscriptionClosedError(
                f"subscription to namespace {self.namespace!r} is closed"
            ) from None

    def close(self) -> None:
        """Stop the subscription: buffered events are discarded, iteration ends."""
        if self._closed:
            return
        self._closed = True
        self._buffer.clear()
        self._wake()
        if self._on_close is not None:
            self._on_close(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._buffer.popleft()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


@runtime_checkable
class EventBroadcaster(Protocol):
    """What repositories, policies and read models need from a bus, local or across nodes."""

    def subscribe(
        self,
        namespace: str,
        max_pending: int = DEFAULT_MAX_PENDING,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
    ) -> Subscription: ...

    async def publish(self, namespace: str, event: Event) -> None: ...


class EventBus:
    """Delivers each published event to the subscribers of its namespace, in this process."""

    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscription]] = {}
        self._closed = False

    def subscribe(
        self,
        namespace: str,
        max_pending: int = DEFAULT_MAX_PENDING,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
    ) -> Subscription:
        if self._closed:
            raise SubscriptionClosedError("the event bus is closed; create a new EventBus")
        subscription = Subscription(namespace, max_pending, overflow, self._forget)
        self._subscribers.setdefault(namespace, []).append(subscription)
        return subscription

    async def publish(self, namespace: str, event: Event) -> None:
        self.deliver(namespace, event)

    def deliver(self, namespace: str, event: Event) -> None:
        """Synchronous core of ``publish``, for callers that are not coroutines."""
        if self._closed:
            raise SubscriptionClosedError("the event bus is closed; create a new EventBus")
        for subscription in self._subscribers.get(namespace, ()):
            subscription.deliver(event)

    def subscriber_count(self, namespace: str) -> int:
        return len(self._subscribers.get(namespace, ()))

    def close(self) -> None:
        """Close every subscription; later publishes and subscribes raise."""
        self._closed = True
        for subscriptions in list(self._subscribers.values()):
            for subscription in list(subscriptions):
                subscription.close()
        self._subscribers.clear()

    def _forget(self, subscription: Subscription) -> None:
        subscriptions = self._subscribers.get(subscription.namespace)
        if subscriptions and subscription in subscriptions:
            subscriptions.remove(subscription)
            if not subscriptions:
                del self._subscribers[subscription.namespace]
