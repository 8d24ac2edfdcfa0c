"""NATSEventBus: the EventBroadcaster protocol across processes and machines, over core NATS.

Wire format (docs/runtime.md, "Event bus across nodes"):

- subject ``<prefix>.<namespace token>``, prefix ``aether.bus`` by default. The token is the
  store's lossless encoding (``aether.store.naming.encode_token``), so ``a.b``, ``a_b``, ``*``
  and ``>`` are four different namespaces and none of them is a wildcard; the empty namespace
  is the token ``~``, which the encoding never produces for any other namespace.
- payload: the event as JSON, exactly ``Event.model_dump_json()`` (what the stores write);
- headers: ``Aether-Node`` (the publishing node id) and ``Aether-Bus`` (the publishing bus
  instance, which is how a bus recognises its own echo).

A publish is delivered to this bus's own subscribers directly and to other buses through NATS;
the echo of our own message is dropped, so every subscriber sees each event once. One NATS
subscription serves all local subscribers of a namespace and goes away with the last of them;
pattern subscriptions share one wildcard NATS subscription and match locally. nats-py
re-subscribes by itself after a reconnect: only what it lacks is here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.errors import Error as NatsError
from pydantic import ValidationError

from aether.errors import (
    AetherError,
    StoreConfigError,
    StoreUnavailableError,
    SubscriptionClosedError,
)
from aether.event import Event, decode_record, encode_record
from aether.eventbus import (
    DEFAULT_MAX_PENDING,
    OverflowPolicy,
    SubscriberTable,
    Subscription,
    check_bus_namespace,
    check_publishable,
)
from aether.limits import HEADER_RESERVE, check_stored_size
from aether.nats_probe import ReaderProbe
from aether.store.naming import (
    MAX_NAMESPACE_BYTES,
    check_header_value,
    decode_token,
    encode_token,
    utf8_size,
)

logger = logging.getLogger(__name__)

NODE_HEADER = "Aether-Node"
INSTANCE_HEADER = "Aether-Bus"
DEFAULT_PREFIX = "aether.bus"
EMPTY_NAMESPACE_TOKEN = "~"
_PREFIX = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
_WIRE_TIMEOUT = 5  # seconds for the server to confirm a subscribe or a flush
_SUBJECT_CACHE = 4096  # namespaces whose subject a bus remembers (checking and encoding cost)
# Messages a feed hands over before it lets the readers run. nats-py calls a subscription's
# callback for every queued message without yielding; left alone, a burst of hundreds of
# decoded events would wait in the buffers while the garbage collector, triggered by the
# allocations, walks them again and again and moves them to older generations. Handing
# over at most this many keeps a reader's events short-lived (fewer than gen0's 700 objects
# between yields, about 9 per event) and costs one event-loop pass per burst.
_BURST = 32


def namespace_token(namespace: str) -> str:
    """The one subject token that stands for ``namespace`` on the bus."""
    return encode_token(namespace) if namespace else EMPTY_NAMESPACE_TOKEN


def namespace_of_token(token: str) -> str | None:
    """Inverse of ``namespace_token``; None for a token no bus would produce."""
    if token == EMPTY_NAMESPACE_TOKEN:
        return ""
    try:
        namespace = decode_token(token)
    except (ValueError, IndexError):
        return None
    # A foreign publisher could write a non-canonical token (``~61`` for ``a``): refuse it,
    # so a namespace is reachable through exactly one subject.
    if not namespace or namespace_token(namespace) != token:
        return None
    return namespace


@dataclass(eq=False)
class _Feed:
    """One NATS subscription (for a namespace, or the wildcard serving every pattern)."""

    subject: str
    namespace: str | None
    ready: asyncio.Future[NatsSubscription] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    live: bool = True
    """False once the bus has let go of this feed: a feed being torn down may still hand
    over a message, and only the current feed delivers, or a re-subscribed namespace would
    see it twice."""


class NATSEventBus:
    """Publishes events to every node's subscribers of a namespace, over one NATS connection.

    ``node_id`` names this node in the ``Aether-Node`` header (default: a fresh uuid). The bus
    does not own ``nc``: ``close()`` ends the bus's subscriptions, the caller closes the
    connection.
    """

    def __init__(
        self, nc: Client, *, node_id: str | None = None, subject_prefix: str = DEFAULT_PREFIX
    ) -> None:
        self.node_id = _check_node_id(node_id if node_id is not None else uuid4().hex)
        if not isinstance(subject_prefix, str) or not _PREFIX.fullmatch(subject_prefix) \
                or len(subject_prefix) > MAX_NAMESPACE_BYTES:
            raise StoreConfigError(
                f"subject_prefix {subject_prefix!r} is not a NATS subject prefix: use up to "
                f"{MAX_NAMESPACE_BYTES} characters of dot-separated tokens from A-Z a-z 0-9 - _"
            )
        self.subject_prefix = subject_prefix
        self.undecodable = 0
        """Messages on the bus's subjects that were not events (a foreign publisher); dropped."""
        self._nc = nc
        self._instance = uuid4().hex[:12]  # 48 random bits: headers are parsed per character
        self._subjects: dict[str, str] = {}
        self._headers = {NODE_HEADER: self.node_id, INSTANCE_HEADER: self._instance}
        self._table = SubscriberTable()
        self._feeds: dict[str, _Feed] = {}
        self._wildcard: _Feed | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        # Two tokens after the prefix: no namespace's subject, and no pattern feed's (<prefix>.*).
        self._probe = ReaderProbe(nc, f"{subject_prefix}.~probe.{self._instance}")

    def subject(self, namespace: str) -> str:
        """The NATS subject events of ``namespace`` travel on."""
        subject = self._subjects.get(namespace)
        if subject is None:
            token = namespace_token(check_bus_namespace(namespace))
            subject = f"{self.subject_prefix}.{token}"
            if len(self._subjects) >= _SUBJECT_CACHE:
                self._subjects.clear()
            self._subjects[namespace] = subject
        return subject

    async def subscribe(
        self,
        namespace: str,
        *,
        event_types: Iterable[str] | None = None,
        max_pending: int = DEFAULT_MAX_PENDING,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
    ) -> Subscription:
        """Follow one namespace; returns once the NATS server knows the subscription, so any
        event published after this returns reaches it."""
        self._check_open()
        subject = self.subject(namespace)
        subscription = Subscription(
            namespace, event_types=event_types, max_pending=max_pending, overflow=overflow,
            on_close=self._forget,
        )
        feed = self._feeds.get(namespace)
        if feed is None:
            feed = self._feeds[namespace] = self._open(subject, namespace)
        return await self._attach(subscription, feed)

    async def subscribe_pattern(
        self,
        pattern: str,
        *,
        event_types: Iterable[str] | None = None,
        max_pending: int = DEFAULT_MAX_PENDING,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
    ) -> Subscription:
        """Follow every namespace matching ``pattern`` (fnmatch syntax, see docs/runtime.md)."""
        self._check_open()
        subscription = Subscription(
            pattern=pattern, event_types=event_types, max_pending=max_pending,
            overflow=overflow, on_close=self._forget,
        )
        if self._wildcard is None:
            self._wildcard = self._open(f"{self.subject_prefix}.*", None)
        return await self._attach(subscription, self._wildcard)

    async def publish(self, namespace: str, event: Event) -> None:
        """Deliver to this node's subscribers now and to every other node through NATS
        (at most once: a bus is for live notifications, the store is the record)."""
        # Every publish runs this: the common case (an open bus, a namespace seen before, a
        # plain Event) costs no calls beyond the encoding lookup and nats-py's publish.
        if self._closed:
            self._check_open()
        subject = self._subjects.get(namespace) or self.subject(namespace)
        try:
            checked = type(event) is Event and event._aether_checked
        except AttributeError:  # model_construct'ed or unpickled: validation never saw it
            checked = False
        if not checked:
            event = check_publishable(event)
        payload = encode_record(event)
        if len(payload) + HEADER_RESERVE > self._nc.max_payload:
            # The server counts the headers too, and closes the connection over the limit.
            check_stored_size(f"event {event.id[:80]!r}", len(payload), self._nc.max_payload,
                              "NATS server's max_payload")
        if self._table.exact or self._table.patterns:
            self._table.deliver_exact(namespace, event)
            self._table.deliver_patterns(namespace, event)
        try:
            await self._nc.publish(subject, payload, headers=self._headers)
        except NatsError as error:
            raise StoreUnavailableError(
                f"could not publish event {event.id!r} to namespace {namespace!r} on NATS "
                f"({type(error).__name__}: {error}); local subscribers got it, other nodes did "
                f"not: check the connection"
            ) from error

    def subscriber_count(self, namespace: str) -> int:
        """Open local subscriptions to exactly ``namespace``."""
        return len(self._table.exact.get(namespace, ()))

    async def flush(self) -> None:
        """Wait until the server has processed every publish, subscribe and unsubscribe so
        far, and a message of this bus's own has come back through the connection: a
        connection that stopped reading (docs/runtime.md) raises StoreUnavailableError."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        try:
            await self._round_trip()
            if not self._closed:
                await self._probe(_WIRE_TIMEOUT)
        except (NatsError, TimeoutError) as error:
            raise StoreUnavailableError(
                f"NATS did not answer a flush ({type(error).__name__}: {error}): the "
                f"connection is down or no longer reads; check it, or reconnect") from error

    async def _round_trip(self) -> None:
        # nats-py writes flush()'s PING straight to the socket, ahead of commands still in its
        # buffer (our SUB or UNSUB): the first round trip lets the buffer go out, the second
        # proves the server has processed it.
        await self._nc.flush(timeout=_WIRE_TIMEOUT)
        await self._nc.flush(timeout=_WIRE_TIMEOUT)

    async def close(self) -> None:
        """Close every subscription and its NATS subscription; later calls raise."""
        if self._closed:
            return
        self._closed = True
        for subscription in self._table.all():
            subscription.close()
        await self._probe.close()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ---- NATS subscriptions ----------------------------------------------------------

    def _open(self, subject: str, namespace: str | None) -> _Feed:
        feed = _Feed(subject, namespace)
        self._spawn(self._start(feed))
        return feed

    async def _start(self, feed: _Feed) -> None:
        try:
            # nats-py queues up to 512k messages per subscription before it drops any; the
            # callback only decodes and buffers, and max_pending bounds each subscriber.
            nats_sub = await self._nc.subscribe(feed.subject, cb=self._receiver(feed))
            await self._round_trip()
        except (NatsError, TimeoutError) as error:
            self._fail(feed, StoreUnavailableError(
                f"could not subscribe to {feed.subject!r} on NATS "
                f"({type(error).__name__}: {error}): check the connection and retry"
            ))
            return
        except BaseException as error:  # never leave a subscriber waiting on `ready`
            self._fail(feed, error if isinstance(error, Exception) else StoreUnavailableError(
                f"subscribing to {feed.subject!r} was cancelled"))
            raise
        feed.ready.set_result(nats_sub)

    async def _attach(self, subscription: Subscription, feed: _Feed) -> Subscription:
        self._table.add(subscription)
        try:
            await asyncio.shield(feed.ready)
        except BaseException:
            subscription.close()
            raise
        return subscription

    def _receiver(self, feed: _Feed) -> Callable[[Msg], Awaitable[None]]:
        """The nats-py callback of ``feed``: it runs for every event on every node, so it
        does only what it must, with everything it needs looked up once here."""
        instance, table, skip = self._instance, self._table, len(self.subject_prefix) + 1
        exact, fixed = table.exact, feed.namespace  # fixed: None for the wildcard feed
        handed = 0

        async def receive(message: Msg) -> None:
            if not feed.live:
                return
            headers = message.headers
            if headers is not None and headers.get(INSTANCE_HEADER) == instance:
                return  # our own publish: local subscribers already have it
            namespace = fixed
            if namespace is None:  # the wildcard feed: the subject says which namespace
                namespace = namespace_of_token(message.subject[skip:])
                if namespace is None:
                    self._undecodable(message, "subject")
                    return
            try:
                # Validated like Event.model_validate_json (every limit: the wire is open).
                event = decode_record(Event, message.data, stored=False)
            except (ValidationError, AetherError, ValueError):
                self._undecodable(message, "payload")
                return
            if fixed is None:
                table.deliver_patterns(namespace, event)
            else:
                for subscription in exact.get(namespace, ()):
                    subscription.deliver(namespace, event)
            nonlocal handed
            handed += 1
            if handed == _BURST:
                handed = 0
                await asyncio.sleep(0)  # let the readers take what they were handed

        return receive

    def _undecodable(self, message: Msg, part: str) -> None:
        self.undecodable += 1
        logger.warning("dropped a message on %r: its %s is not an Aether event",
                       message.subject[:200], part)

    def _forget(self, subscription: Subscription) -> None:
        self._table.remove(subscription)
        if subscription.pattern is not None:
            if not self._table.patterns and self._wildcard is not None:
                self._wildcard.live = False
                self._spawn(self._stop(self._wildcard))
                self._wildcard = None
            return
        namespace = subscription.namespace
        assert namespace is not None
        if namespace not in self._table.exact and namespace in self._feeds:
            feed = self._feeds.pop(namespace)
            feed.live = False
            self._spawn(self._stop(feed))

    def _fail(self, feed: _Feed, error: Exception) -> None:
        self._drop_feed(feed)
        feed.ready.set_exception(error)
        feed.ready.exception()  # retrieved here: a feed nobody awaited is not an error

    def _drop_feed(self, feed: _Feed) -> None:
        feed.live = False
        if feed.namespace is not None and self._feeds.get(feed.namespace) is feed:
            del self._feeds[feed.namespace]
        elif feed is self._wildcard:
            self._wildcard = None

    async def _stop(self, feed: _Feed) -> None:
        try:
            nats_sub = await asyncio.shield(feed.ready)
        except Exception:
            return  # it never subscribed
        with contextlib.suppress(NatsError):
            # Once the connection is closed there is nothing left to unsubscribe from.
            await nats_sub.unsubscribe()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _check_open(self) -> None:
        if self._closed:
            raise SubscriptionClosedError(
                "this NATSEventBus is closed; create a new one on an open connection"
            )


def _check_node_id(node_id: str) -> str:
    if not isinstance(node_id, str) or not node_id:
        raise StoreConfigError(f"node_id must be a non-empty string, got {node_id!r}")
    size = utf8_size(node_id, "node id", StoreConfigError)
    if size > MAX_NAMESPACE_BYTES:
        raise StoreConfigError(
            f"node_id of {size} bytes (UTF-8) is over the limit of {MAX_NAMESPACE_BYTES} bytes: "
            f"{node_id[:80]!r}; use a shorter node id"
        )
    try:
        return check_header_value("node_id", node_id)
    except AetherError as error:
        raise StoreConfigError(str(error)) from None
