"""The feed: one global, ordered read of every event a store holds.

Positions are what the store orders by (the memory store's log index, the JetStream
stream sequence): strictly increasing, gaps allowed. A reader that has handled every
event up to position P resumes with ``after=P`` and misses nothing, which is what the
reaction runner's checkpoints rely on.

``Follow`` is shared by every backend: it catches up by reading in batches, then waits
for the backend's wake-up hint (an in-process signal, or a core NATS message on the
stream's subjects) and reads again. The hint only says "look"; the read decides, so a
lost hint costs at most one poll interval, never an event.

A record the store cannot decode into an event (a foreign client or corruption wrote it
into the events stream) is neither skipped silently nor a wall: a read stops just before
it, and the next read starting there raises ``UndecodableEventError`` naming its position,
so a reader can record it and go on with ``after=error.position``. A ``Follow`` hands it to
``on_undecodable``; the reaction runner parks it (see aether/runner_delivery.py).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from types import TracebackType
from typing import Protocol, runtime_checkable

from aether.errors import AetherError, EventDecodeError
from aether.event import Event

FeedItem = tuple[int, Event]

DEFAULT_BATCH = 1000
POLL_INTERVAL = 1.0
"""Seconds a caught-up follower waits for a hint before reading anyway."""


@runtime_checkable
class EventFeed(Protocol):
    """The global read every store offers beside its per-actor reads (``EventStore``)."""

    async def read_all(
        self, after: int = 0, limit: int = DEFAULT_BATCH, *,
        event_types: Collection[str] | None = None,
    ) -> list[FeedItem]:
        """Up to ``limit`` (position, event) pairs with position > ``after``, ascending;
        only events of ``event_types`` when given. Empty means nothing more (yet).
        UndecodableEventError when the next record is not an event (whatever the filter):
        read on with ``after=error.position``."""
        ...

    def follow(
        self, after: int = 0, *, event_types: Collection[str] | None = None
    ) -> Follow:
        """Every pair after ``after``: catch up, then tail new events until closed."""
        ...

    async def last_position(self) -> int:
        """The position of the newest event (0 when empty): what a follower's lag counts to."""
        ...


class Scan(Protocol):
    """One backend read for a follower: the matching pairs after ``after`` and the last
    position examined (beyond the last match when filtered events were skipped)."""

    def __call__(
        self, after: int, limit: int, event_types: frozenset[str] | None
    ) -> Awaitable[tuple[list[FeedItem], int]]: ...


class Signal:
    """Wakes waiting followers when something may have been appended."""

    def __init__(self) -> None:
        self._armed: list[asyncio.Event] = []

    def arm(self) -> asyncio.Event:
        """Take this before reading, so an append during the read still wakes the reader."""
        flag = asyncio.Event()
        self._armed.append(flag)
        return flag

    def notify(self) -> None:
        if not self._armed:  # every append notifies; most have no follower waiting
            return
        armed, self._armed = self._armed, []
        for flag in armed:
            flag.set()


MAX_POSITION = 2**63 - 1
"""The largest position a reader may name: JetStream sequences are unsigned 64-bit, and
every backend agrees on one bound that also fits a signed 64-bit integer."""


MAX_EXCERPT = 1024
"""Bytes of an undecodable record an UndecodableEventError carries (the record itself stays
in the store at its position)."""


class UndecodableEventError(EventDecodeError):
    """The record at ``position`` of the feed is not an event this library can decode.

    Raised by the read that would have returned it first, so everything before it has been
    returned already; read on with ``after=position`` to pass it. ``subject`` is where it was
    stored (JetStream), ``reason`` why it did not decode, ``excerpt`` its first bytes.
    """

    def __init__(self, position: int, subject: str, reason: str, excerpt: bytes = b"") -> None:
        self.position = position
        self.subject = subject[:1000]
        self.reason = reason[:2000]
        self.excerpt = excerpt[:MAX_EXCERPT]
        super().__init__(
            f"the record at feed position {position} (subject {subject[:200]!r}) is not an "
            f"event Aether can decode: {self.reason}; it was written by something other "
            f"than Aether, or damaged. It is still in the store: read on past it with "
            f"read_all(after={position}) (a ReactionRunner parks it and goes on)")

    def __reduce__(self) -> tuple[type[UndecodableEventError], tuple[str | int | bytes, ...]]:
        return (type(self), (self.position, self.subject, self.reason, self.excerpt))


class FeedArgumentError(AetherError, ValueError):
    """``read_all``/``follow`` was called with a position, limit or filter no feed can take."""


def check_position(after: object) -> int:
    """``after`` as a position, or FeedArgumentError: an int (not a bool) from 0 to
    MAX_POSITION. A float or an out-of-range number would otherwise reach the backend
    (JetStream answers "malformed request", which reads as an outage and is retried
    forever by a reaction runner)."""
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_POSITION:
        raise FeedArgumentError(
            f"after must be a feed position, an int from 0 to {MAX_POSITION}, got "
            f"{after!r:.80}: pass 0 to read from the start, or a position the feed returned")
    return after


def check_read(after: object, limit: object) -> None:
    """FeedArgumentError unless ``after`` is a position and ``limit`` an int >= 1."""
    check_position(after)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise FeedArgumentError(f"limit must be an int >= 1, got {limit!r:.80}")


def normal_types(event_types: Collection[str] | None) -> frozenset[str] | None:
    """The filter as a set, or FeedArgumentError: a bare string would be taken as the set
    of its characters and silently match nothing, forever."""
    if event_types is None:
        return None
    if isinstance(event_types, (str, bytes)):
        raise FeedArgumentError(
            f"event_types must be a collection of event type names, got the string "
            f"{event_types!r:.80}: write event_types=[{event_types!r:.80}]")
    types = frozenset(event_types)
    if not all(isinstance(name, str) for name in types):
        raise FeedArgumentError("event_types must hold event type names (str) only")
    return types


class Follow:
    """An async iterator of (position, event): catches up, then tails, until ``close()``.

    Use ``async with store.follow(after) as feed: async for position, event in feed``.
    """

    def __init__(
        self,
        scan: Scan,
        signal: Signal,
        after: int = 0,
        event_types: Collection[str] | None = None,
        *,
        batch: int = DEFAULT_BATCH,
        on_start: Callable[[], Awaitable[None]] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        check_position(after)
        self._scan = scan
        self._signal = signal
        self._after = after
        self._types = normal_types(event_types)
        self._batch = batch
        self._on_start = on_start
        self._on_close = on_close
        self._poll = poll_interval
        self._buffer: deque[FeedItem] = deque()
        self._closed = asyncio.Event()
        self._on_skipped: Callable[[int], Awaitable[None]] | None = None
        self._on_undecodable: Callable[[UndecodableEventError], Awaitable[None]] | None = None

    @property
    def position(self) -> int:
        """The last position read from the store (delivered or skipped by the filter)."""
        return self._after

    def on_skipped(self, callback: Callable[[int], Awaitable[None]] | None) -> None:
        """Call ``callback(position)`` when a read finds only events the filter skips, up to
        ``position``, with nothing left to deliver: every pair delivered before has been
        handled (iteration asked for more), so a reader may record that it is caught up to
        there. Without it, a filtered reader learns its position only from the next match."""
        self._on_skipped = callback

    def on_undecodable(
        self, callback: Callable[[UndecodableEventError], Awaitable[None]] | None
    ) -> None:
        """Call ``callback(error)`` for a record the store cannot decode, once every pair
        before it has been handled, then go on past it. If the callback raises, the error
        propagates and the record is met again by the next read. Without a callback,
        iteration raises the UndecodableEventError itself; iterating again goes on after
        the record."""
        self._on_undecodable = callback

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._signal.notify()
        if self._on_close is not None:
            await self._on_close()

    async def __aenter__(self) -> Follow:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    def __aiter__(self) -> Follow:
        return self

    async def __anext__(self) -> FeedItem:
        # A hint that finds nothing means the store announced an append a moment before
        # showing it (a core NATS message races the stream's write): look again soon,
        # backing off to the poll interval.
        if self._on_start is not None:
            start, self._on_start = self._on_start, None
            await start()
        delay = self._poll
        while not self._buffer:
            if self._closed.is_set():
                raise StopAsyncIteration
            flag = self._signal.arm()
            try:
                pairs, scanned = await self._scan(self._after, self._batch, self._types)
            except UndecodableEventError as poison:
                if poison.position <= self._after:  # a backend's bug: never go backwards
                    raise
                if self._on_undecodable is None:
                    self._after = poison.position  # seen: iterating again goes on past it
                    raise
                await self._on_undecodable(poison)
                self._after = poison.position
                continue
            skipped = scanned > self._after
            self._after = max(self._after, scanned)
            if pairs:
                self._buffer.extend(pairs)
                break
            if skipped and self._on_skipped is not None:
                await self._on_skipped(self._after)
            if self._closed.is_set():
                raise StopAsyncIteration
            woken = await _wait(flag, delay)
            delay = 0.001 if woken else min(self._poll, delay * 4)
        return self._buffer.popleft()

    def pending(self) -> int:
        """Pairs already read from the store and not yet delivered."""
        return len(self._buffer)


async def _wait(flag: asyncio.Event, timeout: float) -> bool:
    """True when woken, False when the timeout passed."""
    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
    # arrives as the flag is set, leaving a stopped runner's task running.
    try:
        async with asyncio.timeout(timeout):
            await flag.wait()
    except TimeoutError:
        return False
    return True
