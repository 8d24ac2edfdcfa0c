"""The few JetStream wire operations the store needs, on a plain nats-py connection.

nats-py has no atomic batch publish or batch direct get, and its generic helpers
decode more than the store reads; these functions speak the JetStream API directly
and turn transport failures into ``StoreUnavailableError``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from aether.errors import StoreUnavailableError

API = "$JS.API"
ERR_WRONG_LAST_SEQUENCE = 10071
ERR_BATCH_DUPLICATE_MSG_ID = 10201
MAX_ATOMIC_BATCH = 1000
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


TRANSPORT_ERRORS = (
    nats.errors.NoRespondersError,
    nats.js.errors.ServiceUnavailableError,
    TimeoutError,  # nats.errors.TimeoutError is one too
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
)


def unavailable(what: str, exc: BaseException) -> StoreUnavailableError:
    """The StoreUnavailableError for a transport failure, saying what to check."""
    if isinstance(exc, nats.errors.NoRespondersError | nats.js.errors.ServiceUnavailableError):
        advice = ("no JetStream responder; is JetStream enabled on the server "
                  "(nats-server -js) and does the stream still exist?")
    elif isinstance(exc, TimeoutError):
        advice = ("JetStream did not answer in time; check the server and the network, "
                  "then retry (retrying a save is safe: event ids deduplicate)")
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


def check_ack(reply: Msg) -> dict[str, Any]:
    if not reply.data and reply.headers and reply.headers.get("Status") == "503":
        raise nats.errors.NoRespondersError
    ack: dict[str, Any] = json.loads(reply.data)
    error = ack.get("error")
    if error:
        raise PublishRejected(int(error.get("err_code", 0)), str(error.get("description", "")))
    return ack


async def publish(nc: Client, message: Outgoing, timeout: float) -> dict[str, Any]:
    """Publish and wait for the stream's ack; raises PublishRejected on a refusal."""
    reply = await nc.request(
        message.subject, message.payload, timeout=timeout, headers=message.headers
    )
    return check_ack(reply)


async def publish_atomic(
    nc: Client, batch_id: str, messages: Sequence[Outgoing], timeout: float
) -> dict[str, Any]:
    """All-or-nothing publish of up to MAX_ATOMIC_BATCH messages (server 2.12+,
    stream with allow_atomic). Only the commit message is acknowledged."""
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
    """The last message on ``subject`` (one request, no scan), or None."""
    reply = await nc.request(f"{API}.DIRECT.GET.{stream}.{subject}", b"", timeout=timeout)
    if reply.headers and "Status" in reply.headers and not reply.data:
        status = reply.headers["Status"]
        if status == "404":
            return None
        if status == "503":
            raise nats.errors.NoRespondersError
        raise StoreUnavailableError(
            f"direct get on stream {stream!r} failed with status {status}: "
            f"{reply.headers.get('Description', '')}"
        )
    return reply


async def direct_get_sequence(
    nc: Client, stream: str, sequence: int, timeout: float
) -> Msg | None:
    """The message at ``sequence`` of ``stream``, or None when there is none."""
    reply = await nc.request(f"{API}.DIRECT.GET.{stream}",
                             json.dumps({"seq": sequence}).encode(), timeout=timeout)
    headers = reply.headers or {}
    if "Status" in headers and not reply.data:
        if headers["Status"] == "404":
            return None
        raise StoreUnavailableError(
            f"direct get of message {sequence} on stream {stream!r} failed with status "
            f"{headers['Status']}: {headers.get('Description', '')}"
        )
    return reply


async def direct_get_subject(
    nc: Client, stream: str, subject: str, timeout: float, start_seq: int = 1
) -> list[Msg]:
    """Every message on ``subject`` from ``start_seq``, in order, via batched direct gets.

    The server walks its per-subject index, so the cost follows the subject's
    message count and the blocks holding it, not the stream's size.
    """
    messages: list[Msg] = []
    while True:
        end = await _direct_batch(nc, stream, subject, start_seq, timeout, messages)
        if end is None:
            return messages
        status = end.get("Status")
        if status != "204":  # 204 = end of batch
            raise StoreUnavailableError(
                f"batch direct get on stream {stream!r} failed with status {status}: "
                f"{end.get('Description', '')}"
            )
        if int(end.get("Nats-Num-Pending", "0")) <= 0 or not messages:
            return messages
        start_seq = int((messages[-1].headers or {})["Nats-Sequence"]) + 1


async def _direct_batch(
    nc: Client, stream: str, subject: str, start_seq: int, timeout: float, into: list[Msg]
) -> dict[str, str] | None:
    """One batch request; appends messages to ``into`` and returns the closing status
    headers, or None when nothing (more) matches."""
    finished: asyncio.Future[dict[str, str] | None] = asyncio.get_running_loop().create_future()

    async def collect(message: Msg) -> None:
        headers = message.headers or {}
        status = headers.get("Status")
        if status is None:
            into.append(message)
        elif not finished.done():
            finished.set_result(None if status == "404" else headers)

    inbox = nc.new_inbox()
    # A callback, not next_msg(): one wait for the whole batch instead of one per message.
    subscription = await nc.subscribe(inbox, cb=collect)
    try:
        request = {"next_by_subj": subject, "seq": start_seq, "batch": DIRECT_BATCH}
        await nc.publish(f"{API}.DIRECT.GET.{stream}", json.dumps(request).encode(), reply=inbox)
        async with asyncio.timeout(timeout):  # not wait_for: it can swallow a cancel on 3.11
            return await finished
    finally:
        await subscription.unsubscribe()
