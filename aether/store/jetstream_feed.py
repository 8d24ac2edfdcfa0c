"""The feed of a JetStream event store: positions are the events stream's sequences.

Reads are batched direct gets over the whole stream (``next_by_subj`` = every event
subject): one request returns up to a thousand messages, served from the stream's
blocks without creating a consumer (bench/reactions.py compares this with a raw
ordered consumer). A follower that has caught up listens to the stream's subjects
as plain core NATS messages, so a write anywhere wakes it; the message is only a hint
and the next direct get reads what the stream actually stored.

A message in the stream that is not an event (published by a foreign client, damaged)
ends a scan just before it; the scan that starts at it raises UndecodableEventError with
its sequence, so readers see it once, in order, and can step past it (aether/feed.py).
"""

from __future__ import annotations

import asyncio
import json

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from aether.errors import EventDecodeError, StoreUnavailableError
from aether.event import Event
from aether.feed import MAX_EXCERPT, FeedItem, Signal, UndecodableEventError, check_read
from aether.store import jsapi
from aether.store.stored import decode_message

_PER_REQUEST = jsapi.DIRECT_BATCH


class StreamFeed:
    """Reads the events stream of one store in sequence order."""

    def __init__(self, nc: Client, stream: str, timeout: float) -> None:
        self._nc = nc
        self._stream = stream
        self._subjects = f"{stream}.events.>"
        self._timeout = timeout
        self._rest: tuple[int, list[Msg]] | None = None
        """Messages a scan fetched but did not use because it stopped at an undecodable
        record, keyed by the sequence the next scan will start at. A run of such records
        would otherwise cost a whole batch request each (3,000 in a row took 128 s)."""

    async def scan(
        self, after: int, limit: int, event_types: frozenset[str] | None
    ) -> tuple[list[FeedItem], int]:
        """Up to ``limit`` matching pairs after ``after``, and the last sequence examined.

        Filtered reads keep going past non-matching batches until something matches or
        the stream ends, so an empty answer always means "nothing more yet".
        """
        check_read(after, limit)
        found: list[FeedItem] = []
        scanned = after
        while len(found) < limit:
            want = _PER_REQUEST if event_types is not None else min(limit - len(found),
                                                                      _PER_REQUEST)
            messages, more = await self._fetch(scanned + 1, want)
            for index, message in enumerate(messages):
                headers = message.headers or {}
                sequence = int(headers["Nats-Sequence"])
                try:
                    event = decode_message(Event, message)
                except EventDecodeError as exc:
                    if found:
                        # What came before is the caller's first: the next scan starts
                        # at the record and reports it, whatever the filter.
                        self._keep(scanned + 1, messages[index:])
                        return found, scanned
                    self._keep(sequence + 1, messages[index + 1:])
                    raise UndecodableEventError(
                        sequence, headers.get("Nats-Subject", ""), str(exc.__cause__ or exc),
                        (message.data or b"")[:MAX_EXCERPT]) from exc
                if event_types is None or event.event_type in event_types:
                    found.append((sequence, event))
                scanned = sequence
                if len(found) == limit:
                    break
            if not more or not messages or (found and event_types is not None):
                break
        return found, scanned

    def _keep(self, start: int, messages: list[Msg]) -> None:
        self._rest = (start, messages) if messages else None

    async def _fetch(self, start: int, count: int) -> tuple[list[Msg], bool]:
        """``_batch``, or the messages kept for a scan starting at ``start`` (stored
        messages never change; "more" is assumed, so the scan asks the stream for anything
        after them rather than trust an old answer)."""
        rest, self._rest = self._rest, None
        if rest is not None and rest[0] == start:
            return rest[1], True
        return await self._batch(start, count)

    async def last_position(self) -> int:
        async with jsapi.reaching(f"reading the state of stream {self._stream!r}"):
            reply = await self._nc.request(f"{jsapi.API}.STREAM.INFO.{self._stream}", b"",
                                           timeout=self._timeout)
        info = json.loads(reply.data)
        if "error" in info:
            raise StoreUnavailableError(
                f"stream {self._stream!r} info failed: {info['error'].get('description')}"
            )
        return int(info["state"]["last_seq"])

    async def wake_on_append(self, signal: Signal) -> Subscription:
        """A core subscription to the stream's subjects that notifies ``signal``."""

        async def hint(_: Msg) -> None:
            signal.notify()

        return await self._nc.subscribe(self._subjects, cb=hint)

    async def _batch(self, start: int, count: int) -> tuple[list[Msg], bool]:
        """Messages from sequence ``start`` (at most ``count``), and whether more remain."""
        messages: list[Msg] = []
        finished: asyncio.Future[dict[str, str] | None] = (
            asyncio.get_running_loop().create_future()
        )

        async def collect(message: Msg) -> None:
            headers = message.headers or {}
            status = jsapi.status_of(headers)
            if status is None:
                messages.append(message)
            elif not finished.done():
                finished.set_result(None if status == "404" else headers)

        inbox = self._nc.new_inbox()
        async with jsapi.reaching(f"reading the feed of stream {self._stream!r}"):
            subscription = await self._nc.subscribe(inbox, cb=collect)
            try:
                request = {"next_by_subj": self._subjects, "seq": start, "batch": count}
                await self._nc.publish(f"{jsapi.API}.DIRECT.GET.{self._stream}",
                                       json.dumps(request).encode(), reply=inbox)
                # asyncio.timeout: wait_for on 3.11 can swallow a cancellation.
                async with asyncio.timeout(self._timeout):
                    end = await finished
            finally:
                await subscription.unsubscribe()
        if end is None:
            return messages, False
        status = end.get("Status")
        if status != "204":  # 204 = end of batch
            raise StoreUnavailableError(
                f"reading the feed of stream {self._stream!r} failed with status {status}: "
                f"{end.get('Description', '')}"
            )
        return messages, int(end.get("Nats-Num-Pending", "0")) > 0

