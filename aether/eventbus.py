"""The event bus protocol and its in-process implementation.

One protocol, ``EventBroadcaster``, for every bus: the local ``EventBus`` here and
``NATSEventBus`` across nodes, so application code runs on either. A publisher never waits for
a subscriber: each subscription has a bounded buffer and an explicit overflow policy, and counts
what it had to drop. The bus is for live notifications; whatever must not be lost is read from
the store.
"""

from __future__ import annotations

import asyncio
import enum
import fnmatch
import logging
import re
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from aether.errors import InvalidEventError, StoreConfigError, SubscriptionClosedError
from aether.event import Event, storable
from aether.store.naming import MAX_NAMESPACE_BYTES, check_namespace, utf8_size

logger = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 1024
MAX_PATTERN_BYTES = 4 * MAX_NAMESPACE_BYTES


class OverflowPolicy(enum.Enum):
    """What a full subscription does with one more event (either way ``dropped`` counts it)."""

    DROP_OLDEST = "drop_oldest"
    """Discard the oldest buffered event to make room: a lagging reader sees the latest
    ``max_pending`` events, and what it missed is the oldest part of its backlog."""
    DROP_NEWEST = "drop_newest"
    """Discard the arriving event: a lagging reader sees, in publish order, every event up to
    the moment its buffer filled, then nothing that arrived while it stayed full, then the
    events that arrived after it made room. Each stretch is gap-free; the stretches are not."""


class Subscription:
    """An async iterator over the events of one namespace (or of every namespace matching a
    pattern); ``close()`` ends it.

    Several tasks may read one subscription: each event goes to exactly one of them, and
    ``close()`` wakes them all.
    """

    def __init__(
        self,
        namespace: str | None = None,
        *,
        pattern: str | None = None,
        event_types: Iterable[str] | None = None,
        max_pending: int = DEFAULT_MAX_PENDING,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
        on_close: Callable[[Subscription], None] | None = None,
    ) -> None:
        if (namespace is None) == (pattern is None):
            raise StoreConfigError("a subscription follows either one namespace or one pattern")
        if isinstance(max_pending, bool) or not isinstance(max_pending, int) or max_pending < 1:
            raise StoreConfigError(
                f"max_pending must be an int of at least 1, got {max_pending!r}: it bounds how "
                f"many events wait for a slow reader"
            )
        if not isinstance(overflow, OverflowPolicy):
            raise StoreConfigError(
                f"overflow must be an OverflowPolicy (DROP_OLDEST or DROP_NEWEST), "
                f"got {overflow!r}"
            )
        self.namespace = namespace
        self.pattern = pattern
        self.event_types = _event_type_filter(event_types)
        self.max_pending = max_pending
        self.overflow = overflow
        self.dropped = 0
        self._matcher = _compile_pattern(pattern) if pattern is not None else None
        self._buffer: deque[tuple[str, Event]] = deque()
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False
        self._on_close = on_close

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        """Events buffered and not yet read."""
        return len(self._buffer)

    def matches(self, namespace: str) -> bool:
        """Whether events published to ``namespace`` belong to this subscription."""
        if self._matcher is not None:
            return self._matcher(namespace) is not None
        return namespace == self.namespace

    def deliver(self, namespace: str, event: Event) -> None:
        """Buffer one event without blocking; applies the filter, then the overflow policy."""
        if self._closed:
            return
        if self.event_types is not None and event.event_type not in self.event_types:
            return
        buffer = self._buffer
        if len(buffer) >= self.max_pending:
            self.dropped += 1
            if self.overflow is OverflowPolicy.DROP_NEWEST:
                return
            buffer.popleft()
        buffer.append((namespace, event))
        if self._waiters:  # a busy reader is not waiting: nothing to wake
            self._wake_all()

    async def get(self, timeout: float | None = None) -> Event:
        """The next event; raises TimeoutError after ``timeout`` seconds and
        SubscriptionClosedError once closed."""
        return (await self.get_with_namespace(timeout))[1]

    async def get_with_namespace(self, timeout: float | None = None) -> tuple[str, Event]:
        """The next event and the namespace it was published to (useful with patterns)."""
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # arrives as the read completes, and the caller's task would not stop.
        async with asyncio.timeout(timeout):
            item = await self._next()
        if item is None:
            raise SubscriptionClosedError(f"subscription to {self._target()} is closed")
        return item

    def close(self) -> None:
        """Stop the subscription: buffered events are discarded, every reader is woken and
        iteration ends. Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        self._buffer.clear()
        self._wake_all()
        if self._on_close is not None:
            self._on_close(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        if self._buffer:  # the common case for a busy subscription: no waiting machinery
            return self._buffer.popleft()[1]
        item = await self._next()
        if item is None:
            raise StopAsyncIteration
        return item[1]

    async def _next(self) -> tuple[str, Event] | None:
        while not self._buffer:
            if self._closed:
                return None
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:  # not woken: cancelled (a timeout) or closed
                    self._waiters.remove(waiter)
        return self._buffer.popleft()

    def _wake_all(self) -> None:
        # Every waiter re-checks the buffer; waking only one could lose the wake-up when
        # that reader is cancelled (a timeout) at the same moment. Woken waiters leave the
        # list at once, so the rest of a burst of deliveries finds nobody left to wake.
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _target(self) -> str:
        if self.pattern is not None:
            return f"pattern {self.pattern!r}"
        return f"namespace {self.namespace!r}"

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"pending={self.pending} dropped={self.dropped}"
        return f"<Subscription {self._target()} {state}>"


@runtime_checkable
class EventBroadcaster(Protocol):
    """What repositories, policies, read models and UIs need from a bus, local or across nodes.

    ``publish`` reaches every subscriber of the namespace, on every node, once. A plain
    namespace is always matched exactly; only ``subscribe_pattern`` follows several.
    """

    async def subscribe(
        self,
        namespace: str,
        *,
        event_types: Iterable[str] | None = None,
        max_pending: int = DEFAULT_MAX_PENDING,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
    ) -> Subscription: ...

    async def subscribe_pattern(
        self,
        pattern: str,
        *,
        event_types: Iterable[str] | None = None,
        max_pending: int = DEFAULT_MAX_PENDING,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
    ) -> Subscription: ...

    async def publish(self, namespace: str, event: Event) -> None: ...

    async def close(self) -> None: ...


class SubscriberTable:
    """Which local subscriptions want which namespace; shared by every bus implementation."""

    def __init__(self) -> None:
        self.exact: dict[str, list[Subscription]] = {}
        self.patterns: list[Subscription] = []

    def add(self, subscription: Subscription) -> None:
        if subscription.pattern is not None:
            self.patterns.append(subscription)
        else:
            assert subscription.namespace is not None
            self.exact.setdefault(subscription.namespace, []).append(subscription)

    def remove(self, subscription: Subscription) -> None:
        if subscription.pattern is not None:
            if subscription in self.patterns:
                self.patterns.remove(subscription)
            return
        namespace = subscription.namespace
        assert namespace is not None
        subscriptions = self.exact.get(namespace)
        if subscriptions and subscription in subscriptions:
            subscriptions.remove(subscription)
            if not subscriptions:
                del self.exact[namespace]

    def deliver_exact(self, namespace: str, event: Event) -> None:
        for subscription in self.exact.get(namespace, ()):
            subscription.deliver(namespace, event)

    def deliver_patterns(self, namespace: str, event: Event) -> None:
        for subscription in self.patterns:
            if subscription.matches(namespace):
                subscription.deliver(namespace, event)

    def all(self) -> list[Subscription]:
        return [s for subs in self.exact.values() for s in subs] + list(self.patterns)


class EventBus:
    """Delivers each published event to the subscribers of its namespace, in this process."""

    def __init__(self) -> None:
        self._table = SubscriberTable()
        self._closed = False

    async def subscribe(
        self,
        namespace: str,
        *,
        event_types: Iterable[str] | None = None,
        max_pending: int = DEFAULT_MAX_PENDING,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
    ) -> Subscription:
        self._check_open()
        subscription = Subscription(
            check_bus_namespace(namespace), event_types=event_types, max_pending=max_pending,
            overflow=overflow, on_close=self._table.remove,
        )
        self._table.add(subscription)
        return subscription

    async def subscribe_pattern(
        self,
        pattern: str,
        *,
        event_types: Iterable[str] | None = None,
        max_pending: int = DEFAULT_MAX_PENDING,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
    ) -> Subscription:
        self._check_open()
        subscription = Subscription(
            pattern=pattern, event_types=event_types, max_pending=max_pending,
            overflow=overflow, on_close=self._table.remove,
        )
        self._table.add(subscription)
        return subscription

    async def publish(self, namespace: str, event: Event) -> None:
        self._check_open()
        check_bus_namespace(namespace)
        event = check_publishable(event)
        self._table.deliver_exact(namespace, event)
        self._table.deliver_patterns(namespace, event)

    def subscriber_count(self, namespace: str) -> int:
        """Open subscriptions to exactly ``namespace`` (pattern subscriptions not counted)."""
        return len(self._table.exact.get(namespace, ()))

    async def close(self) -> None:
        """Close every subscription; later publishes and subscribes raise."""
        self._closed = True
        for subscription in self._table.all():
            subscription.close()

    def _check_open(self) -> None:
        if self._closed:
            raise SubscriptionClosedError("the event bus is closed; create a new EventBus")


async def publish_stored(bus: EventBroadcaster, namespace: str, events: Iterable[Event]) -> None:
    """Publish events that are already stored. A failure is logged, not raised: raising
    would invite the caller to store them a second time, and the store's feed delivers them
    to durable reactions anyway."""
    for event in events:
        try:
            await bus.publish(namespace, event)
        except Exception:
            logger.exception("publishing event %r to the bus failed", event.id)


def check_bus_namespace(namespace: str) -> str:
    """The store's namespace rules (``check_namespace``), and a string at all."""
    if not isinstance(namespace, str):
        raise StoreConfigError(f"a namespace must be a string, got {namespace!r}")
    return check_namespace(namespace)


def check_publishable(event: Event) -> Event:
    """The event as every bus delivers it (``storable``: what a remote node reads back from
    its JSON), or InvalidEventError before any subscriber sees it."""
    if not isinstance(event, Event):
        raise InvalidEventError(
            f"a bus publishes aether.Event objects, got {type(event).__name__}: build an Event "
            f"(or save through a Repository, which publishes what it saved)"
        )
    return storable(event, Event)


def _event_type_filter(event_types: Iterable[str] | None) -> frozenset[str] | None:
    if event_types is None:
        return None
    if isinstance(event_types, str):
        raise StoreConfigError(
            f"event_types must be a collection of type names, got the string {event_types!r}: "
            f"write event_types=[{event_types!r}]"
        )
    chosen = frozenset(event_types)
    if not chosen or not all(isinstance(name, str) and name for name in chosen):
        raise StoreConfigError(
            f"event_types must hold at least one non-empty type name, got {sorted(chosen)!r}; "
            f"pass None to receive every type"
        )
    return chosen


def _compile_pattern(pattern: str) -> Callable[[str], re.Match[str] | None]:
    """Patterns are shell-style globs over the whole namespace text (``fnmatch``, case
    sensitive): ``*`` any run of characters, ``?`` one character, ``[seq]`` / ``[!seq]`` one
    character in or out of seq. ``[*]`` matches a literal ``*``."""
    if not isinstance(pattern, str):
        raise StoreConfigError(f"a namespace pattern must be a string, got {pattern!r}")
    size = utf8_size(pattern, "namespace pattern", StoreConfigError)
    if size > MAX_PATTERN_BYTES:
        raise StoreConfigError(
            f"namespace pattern of {size} bytes (UTF-8) is over the limit of "
            f"{MAX_PATTERN_BYTES} bytes: {pattern[:80]!r}; use a shorter pattern"
        )
    return re.compile(fnmatch.translate(pattern), re.DOTALL).match
