"""What the store needs from JetStream that nats-py does not offer, on a plain connection.

nats-py has no atomic batch publish and no batched direct get: those are spoken here. A single
publish and its ack go through nats-py's ``JetStreamContext.publish``, a refusal turned
into ``PublishRejected``; transport failures become ``StoreUnavailableError``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from aether.errors import StoreClosedError, StoreUnavailableError
from aether.limits import MAX_BATCH_EVENTS

API = "$JS.API"
EXPECTED_SEQUENCE = "Nats-Expected-Last-Subject-Sequence"
"""The header that makes a publish a compare-and-set on its subject's last sequence."""
ERR_WRONG_LAST_SEQUENCE = 10071
ERR_WRONG_LAST_SEQUENCE_CONSTANT = 10164
WRONG_LAST_SEQUENCE = (ERR_WRONG_LAST_SEQUENCE, ERR_WRONG_LAST_SEQUENCE_CONSTANT)
"""A publish refused for its expected last (subject) sequence: 10071 says the sequence it
found ("wrong last sequence: 42"), 10164 does not (a replicated stream refusing a write
while another to the subject is in flight); nats-py's KV checks both, so do we."""
ERR_BATCH_DUPLICATE_MSG_ID = 10201
MAX_ATOMIC_BATCH = MAX_BATCH_EVENTS  # the limit every store keeps (aether.limits)
DIRECT_BATCH = 1000


@dataclass(slots=True)
class Outgoing:
    subject: str
    payload: bytes
    headers: dict[str, str]


class PublishRejected(Exception):
    """The server refused a publish (not a transport failure); ``err_code`` says why."""

    def __init__(self, err_code: int, description: str) -> None:
        super().__init__(f"JetStream refused the publish: {description} (err_code {err_code})")
        self.err_code = err_code
        self.description = description


class DirectGetFailed(Exception):
    """A direct get answered with an error status (408 timeout, 413 too many subjects, ...):
    no answer to the read, never an empty one. Raised where the reply is judged
    (``direct_get_last``, ``direct_batch``), turned into the caller's own transient error
    as the other transport failures are (``unavailable``, the cluster bucket's
    ``reaching``)."""

    def __init__(self, stream: str, status: str | None, description: str) -> None:
        super().__init__(f"direct get on stream {stream!r} failed with status {status}: "
                         f"{description[:80]}")
        self.status = status
        self.description = description


def direct_get_failure(stream: str, headers: dict[str, str]) -> Exception:
    """What a direct get's error status raises: 503 is no responder (a stream between
    leaders, JetStream off), anything else a DirectGetFailed naming the status."""
    status = headers.get("Status")
    if status == "503":
        return nats.errors.NoRespondersError()
    return DirectGetFailed(stream, status, headers.get("Description", ""))


TRANSPORT_ERRORS = (
    DirectGetFailed,
    nats.errors.NoRespondersError,
    nats.js.errors.ServiceUnavailableError,
    TimeoutError,  # nats.errors.TimeoutError is one too
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionDrainingError,  # closing for good, once drained
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
)


NOBODY_TOOK_IT = (nats.errors.NoRespondersError, nats.js.errors.ServiceUnavailableError)
"""No server took a publish: no stream (or no JetStream) at all, or a replicated stream
between leaders (the election after its leader's server stopped takes a few seconds)."""
T = TypeVar("T")


async def through_elections(nc: Client, budget: float, publish: Callable[[], Awaitable[T]]) -> T:
    """``publish()``, asked again while no server takes it, for up to ``budget`` seconds (a
    store's ``request_timeout``) from the first refusal, the last time at its end: a
    replicated stream electing a new leader costs a write that much latency, not an error.
    Nothing was stored when nobody took the message, so asking again is safe. Past the
    budget, or once the connection is down, its error is raised."""
    deadline = None  # set on the first refusal: the common case reads no clock
    pause = 0.05
    while True:
        try:
            return await publish()
        except NOBODY_TOOK_IT:
            now = time.monotonic()
            deadline = now + budget if deadline is None else deadline
            if not nc.is_connected or now >= deadline:
                raise
            # Never past the deadline, and never give up before it: a leader elected in
            # the budget's last pause still takes the write.
            await asyncio.sleep(min(pause, deadline - now))
            pause = min(2 * pause, 0.5)


READ_ATTEMPTS = 4
"""Tries of a direct get within its timeout: another is sent after 1/15, 3/15 and 7/15 of
it, each waiting for its answer until the end (see ``asked_again``)."""


def unavailable(what: str, exc: BaseException) -> StoreUnavailableError:
    """The StoreUnavailableError for a transport failure, saying what to check."""
    if isinstance(exc, nats.errors.ConnectionDrainingError):
        return StoreClosedError(
            f"{what}: the NATS connection is draining (its owner called drain) and closes "
            f"once drained; make a new one")
    if isinstance(exc, nats.errors.ConnectionClosedError):
        return StoreClosedError(
            f"{what}: the NATS connection is closed (by its owner, or nats-py gave up "
            f"reconnecting after max_reconnect_attempts); make a new one, and connect "
            f"long-running services with max_reconnect_attempts=-1 to wait out any outage")
    if isinstance(exc, nats.errors.NoRespondersError | nats.js.errors.ServiceUnavailableError):
        advice = ("no JetStream responder: a replicated stream without a leader (electing "
                  "one after its leader's server stopped), a stream that no longer exists, "
                  "or no JetStream on the server (nats-server -js); retry (retrying a save "
                  "is safe: event ids deduplicate), and give request_timeout more than an "
                  "election takes (see docs/jetstream.md)")
    elif isinstance(exc, TimeoutError):
        advice = ("JetStream did not answer in time; check the server and the network, "
                  "then retry (retrying a save is safe: event ids deduplicate)")
    elif isinstance(exc, DirectGetFailed):
        advice = f"{exc}; retry"
    else:
        advice = f"the NATS connection is not usable ({type(exc).__name__}); reconnect and retry"
    return StoreUnavailableError(f"{what}: {advice}")


@asynccontextmanager
async def reaching(what: str) -> AsyncIterator[None]:
    """Turn NATS transport errors into StoreUnavailableError naming the operation."""
    try:
        yield
    except TRANSPORT_ERRORS as exc:
        raise unavailable(what, exc) from exc


def check_ack(reply: Msg) -> api.PubAck:
    """The stream's ack of an atomic batch's commit (nats-py's publish checks its own)."""
    if not reply.data and reply.headers and reply.headers.get("Status") == "503":
        raise nats.errors.NoRespondersError
    ack: dict[str, Any] = json.loads(reply.data)
    error = ack.get("error")
    if error:
        raise PublishRejected(int(error.get("err_code", 0)), str(error.get("description", "")))
    return api.PubAck.from_response(ack)


def check_not_draining(nc: Client) -> None:
    """ConnectionDrainingError before a request on a connection its owner is draining: its
    reply subscriptions go first, so a request sent then would be carried out (a write
    stored) but its answer never come back. nats-py refuses only once the publishes drain."""
    if nc.is_draining:
        raise nats.errors.ConnectionDrainingError


async def publish(nc: Client, message: Outgoing, timeout: float) -> api.PubAck:
    """Publish and wait for the stream's ack; raises PublishRejected on a refusal."""
    check_not_draining(nc)
    try:
        return await _jetstream(nc).publish(
            message.subject, message.payload, timeout=timeout, headers=message.headers)
    except nats.js.errors.NoStreamResponseError:
        raise nats.errors.NoRespondersError from None  # no stream: a transport failure
    except nats.js.errors.ServiceUnavailableError:
        raise
    except nats.js.errors.APIError as error:
        raise PublishRejected(error.err_code or 0, error.description or "") from None


def _jetstream(nc: Client) -> JetStreamContext:
    context = _CONTEXTS.get(nc)
    if context is None:
        context = _CONTEXTS[nc] = nc.jetstream()
    return context


async def publish_atomic(
    nc: Client, batch_id: str, messages: Sequence[Outgoing], timeout: float
) -> api.PubAck:
    """All-or-nothing publish of up to MAX_ATOMIC_BATCH messages (server 2.12+,
    stream with allow_atomic). Only the commit message is acknowledged."""
    check_not_draining(nc)
    last = len(messages)
    for sequence, message in enumerate(messages, start=1):
        headers = {
            **message.headers,
            "Nats-Batch-Id": batch_id,
            "Nats-Batch-Sequence": str(sequence),
        }
        if sequence == last:
            headers["Nats-Batch-Commit"] = "1"
            reply = await nc.request(
                message.subject, message.payload, timeout=timeout, headers=headers
            )
            return check_ack(reply)
        await nc.publish(message.subject, message.payload, headers=headers)
    raise ValueError("publish_atomic needs at least one message")


async def direct_get_last(nc: Client, stream: str, subject: str, timeout: float) -> Msg | None:
    """The last message on ``subject`` (one request, asked again when slow: see
    ``asked_again``; no scan), or None, as the replica that answers holds it: on a
    replicated stream a follower may not have the newest yet."""
    reply = await asked_again(nc, f"{API}.DIRECT.GET.{stream}.{subject}", b"", timeout,
                              _Inbox.expect_one)
    headers = reply.headers or {}
    status = None if reply.data else status_of(headers)
    if status is None:
        return reply
    if status == "404":
        return None
    raise direct_get_failure(stream, headers)


async def asked_again(nc: Client, subject: str, payload: bytes, timeout: float,
                      expect: Callable[[_Inbox, asyncio.Future[T]], str]) -> T:
    """The first answer to a direct get on ``subject``, asked again, in parallel, when no
    answer came within a growing share of ``timeout``; TimeoutError when none came at all.

    Direct gets go to any replica of a stream; a replica whose server is frozen (SIGSTOP, a
    VM pause, a stalled disk) keeps taking its share of them for as long as the other
    servers route to it, minutes: in trials with a stream's leader frozen, 48% of reads
    with a 1.5 s timeout timed out when asked once, 2 to 3% when asked again (another try
    most likely reaches another replica). Every try waits for its answer until the end, so
    a slow but live server answers as in time as before. Only for reads: asking again
    changes nothing. A failed publish (a closed connection) is raised at once; a status
    reply (no responders, not found) is an answer, for the caller to read.

    Each try is a publish to a token of ``expect(inbox, answer)`` on the connection's
    inbox (``_Inbox``), whose reply resolves the one future ``answer``: a read makes no
    task, no waiter and one timer. Tries as tasks around ``nc.request``, watched by
    ``asyncio.wait``, cost a JetStream command at 100 concurrent senders 110k instructions
    (13%) and made a direct get slower than nats-py's request (docs/performance.md)."""
    check_not_draining(nc)
    inbox = await _Inbox.of(nc).ready(nc)
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[T] = loop.create_future()
    start = loop.time()
    share = 2**READ_ATTEMPTS - 1
    tokens: list[str] = []
    sends: list[asyncio.Task[None]] = []  # strong references: the loop keeps weak ones
    timer: asyncio.TimerHandle | None = None

    def try_once() -> str:
        nonlocal timer
        tokens.append(expect(inbox, answer))
        # The next try's time, or after the last the end of the timeout.
        timer = loop.call_at(start + timeout * (2 ** len(tokens) - 1) / share, again)
        return f"{inbox.prefix}.{tokens[-1]}"

    def sent(publish: asyncio.Task[None]) -> None:
        error = None if publish.cancelled() else publish.exception()
        if error is not None and not answer.done():
            answer.set_exception(error)  # a closed connection: raised at once, as asked once

    def again() -> None:
        if answer.done():
            return
        if len(tokens) == READ_ATTEMPTS:
            answer.set_exception(nats.errors.TimeoutError())
            return
        sends.append(loop.create_task(nc.publish(subject, payload, reply=try_once())))
        sends[-1].add_done_callback(sent)

    try:
        await nc.publish(subject, payload, reply=try_once())
        return await answer
    finally:
        if timer is not None:
            timer.cancel()
        for publish in sends:
            publish.cancel()
        for token in tokens:
            inbox.forget(token)


async def get_message(
    nc: Client, stream: str, *, sequence: int | None = None, last_of: str | None = None,
    timeout: float, direct: bool = True,
) -> api.RawStreamMsg | None:
    """The message at ``sequence`` or the last one on ``last_of``, or None when there is
    none: a direct get (any replica answers), or with ``direct=False`` the stream leader's
    answer, which holds every acknowledged write."""
    try:
        # get_msg has no timeout of its own: a context per call (rare reads: snapshots).
        return await nc.jetstream(timeout=timeout).get_msg(
            stream, seq=sequence, subject=last_of, direct=direct)
    except nats.js.errors.NotFoundError:
        return None
    except nats.js.errors.ServiceUnavailableError:
        raise
    except nats.js.errors.APIError as error:
        raise StoreUnavailableError(
            f"direct get on stream {stream!r} failed: {error.description} "
            f"(code {error.code})") from None


def status_of(headers: dict[str, str]) -> str | None:
    """The server's status in a direct get reply (404, 204 end of batch, ...), or None for
    a stored message. A stored message always carries the Nats-Sequence the server adds; a
    status never does. Its own headers are whatever its publisher chose: a foreign record
    carrying "Status: 404" ended a batch read there, hiding everything after it."""
    return None if "Nats-Sequence" in headers else headers.get("Status")


async def direct_get_subject(
    nc: Client, stream: str, subject: str, timeout: float, start_seq: int = 1
) -> list[Msg]:
    """Every message on ``subject`` from ``start_seq``, in order, via batched direct gets
    (as the answering replica holds them; see direct_get_last).

    The server walks its per-subject index, so the cost follows the subject's
    message count and the blocks holding it, not the stream's size.
    """
    messages: list[Msg] = []
    while True:
        end = await _direct_batch(nc, stream, subject, start_seq, timeout, messages)
        if end is None or int(end.get("Nats-Num-Pending", "0")) <= 0 or not messages:
            return messages
        start_seq = int((messages[-1].headers or {})["Nats-Sequence"]) + 1


async def _direct_batch(
    nc: Client, stream: str, subject: str, start_seq: int, timeout: float, into: list[Msg]
) -> dict[str, str] | None:
    """One batch request; appends messages to ``into`` and returns the closing status
    headers, or None when nothing (more) matches."""
    request = json.dumps({"next_by_subj": subject, "seq": start_seq,
                          "batch": DIRECT_BATCH}).encode()
    end, got = await direct_batch(nc, stream, request, timeout)
    into.extend(got)
    return end


async def direct_batch(nc: Client, stream: str, request: bytes, timeout: float
                       ) -> BatchAnswer:
    """One batched direct get (``request``: its JSON, e.g. ``next_by_subj`` or
    ``multi_last``), asked again when slow: the batch's closing headers (status 204, with
    ``Nats-Num-Pending``; None when nothing matches) and the messages, as the answering
    replica holds them. A batch that ends in an error status raises (``direct_get_failure``):
    what it held is not all there is."""
    end, messages = await asked_again(nc, f"{API}.DIRECT.GET.{stream}", request, timeout,
                                      _Inbox.expect_batch)
    if end is not None and end.get("Status") != "204":
        raise direct_get_failure(stream, end)
    return end, messages


BatchAnswer = tuple[dict[str, str] | None, list[Msg]]
"""A batch's closing headers (None: nothing matched) and its messages."""


class _Batch(NamedTuple):
    """One try of a batched direct get: its own messages (tries' replies must not mix),
    and the answer the first try to finish resolves."""

    into: list[Msg]
    answer: asyncio.Future[BatchAnswer]


class _Inbox:
    """One wildcard inbox subscription per connection for every direct get, single or
    batched, as nats-py's request muxer has for single replies (it has none for replies in
    several messages, nor for one reply to several tries): no subscribe, unsubscribe and
    subscription task per read."""

    def __init__(self, nc: Client) -> None:
        self.prefix = nc.new_inbox()
        self._waiting: dict[str, _Batch | asyncio.Future[Msg]] = {}
        self._subscribed: asyncio.Future[None] | None = None
        self._next = itertools.count()

    @classmethod
    def of(cls, nc: Client) -> _Inbox:
        inbox = _INBOXES.get(nc)
        if inbox is None:
            inbox = _INBOXES[nc] = cls(nc)
        return inbox

    async def ready(self, nc: Client) -> _Inbox:
        """This inbox, once its subscription is made (the first read makes it)."""
        if self._subscribed is None:
            self._subscribed = asyncio.get_running_loop().create_future()
            try:
                await nc.subscribe(f"{self.prefix}.*", cb=self._route)
            except BaseException as error:
                self._subscribed.set_exception(error)
                self._subscribed.exception()  # retrieved: the next caller retries
                self._subscribed = None
                raise
            self._subscribed.set_result(None)
        elif not self._subscribed.done():
            await asyncio.shield(self._subscribed)
        return self

    def expect_batch(self, answer: asyncio.Future[BatchAnswer]) -> str:
        """A token for one try of a batch, whose end resolves ``answer`` with its messages."""
        token = str(next(self._next))
        self._waiting[token] = _Batch([], answer)
        return token

    def expect_one(self, answer: asyncio.Future[Msg]) -> str:
        """A token whose first reply resolves ``answer`` (several tries may share one)."""
        token = str(next(self._next))
        self._waiting[token] = answer
        return token

    def forget(self, token: str) -> None:
        self._waiting.pop(token, None)

    async def _route(self, message: Msg) -> None:
        waiting = self._waiting.get(message.subject[len(self.prefix) + 1:])
        if waiting is None:
            return  # a reply after its read gave up
        if not isinstance(waiting, _Batch):
            if not waiting.done():
                waiting.set_result(message)
            return
        if waiting.answer.done():
            return
        headers = message.headers or {}
        status = status_of(headers)
        if status is None:
            waiting.into.append(message)
        else:
            waiting.answer.set_result((None if status == "404" else headers, waiting.into))


# Weak keys: an inbox holds no reference to its connection, so both go when it does.
_INBOXES: weakref.WeakKeyDictionary[Client, _Inbox] = weakref.WeakKeyDictionary()
_CONTEXTS: weakref.WeakKeyDictionary[Client, JetStreamContext] = weakref.WeakKeyDictionary()
