"""Direct gets asked again (aether.store.jsapi.asked_again), single and batched, against
responders on a real nats-server that stand in for a stream's replicas:
one frozen (it takes requests and never answers, as a SIGSTOPped server does while the
others still route to it), one slow but live, ones answering with a status. A read must
get past the frozen one, still take the slow one's answer, and take an error status for no
answer, never for an empty one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from aether.errors import StoreUnavailableError
from aether.store import jsapi
from aether.testing import NatsServer

STREAM, SUBJECT = "FAKE", "orders.events.o-1"
SINGLE = f"{jsapi.API}.DIRECT.GET.{STREAM}.{SUBJECT}"
BATCH = f"{jsapi.API}.DIRECT.GET.{STREAM}"


def stored(sequence: int) -> dict[str, str]:
    return {"Nats-Sequence": str(sequence), "Nats-Subject": SUBJECT}


@pytest.fixture
async def connections(nats_server: NatsServer) -> AsyncIterator[list[Client]]:
    opened = [await nats.connect(nats_server.url) for _ in range(3)]
    yield opened
    for nc in opened:
        # Drained, not closed: the subscriptions are gone from the server before the next
        # test's stand-ins join the same queue group on the same subject. (CI once saw a
        # single read answered "no responders" right after such a test; not reproduced.)
        with contextlib.suppress(nats.errors.ConnectionClosedError):
            await nc.drain()


async def replica(nc: Client, subject: str, answer: Callable[[Msg], Awaitable[None]]) -> None:
    """A queue member on ``subject`` answering as ``answer`` does (a replica's direct get)."""
    await nc.subscribe(subject, queue="replicas", cb=answer)
    await nc.flush()


async def frozen(message: Msg) -> None:
    return  # taken, never answered


async def test_a_slow_but_live_replicas_answer_is_taken(connections: list[Client]) -> None:
    reader, server, _ = connections

    async def slow(message: Msg) -> None:
        await asyncio.sleep(0.6)  # past the first tries' shares of the 1 s, within it
        await server.publish(message.reply, b"x", headers=stored(7))

    await replica(server, SINGLE, slow)
    reply = await jsapi.direct_get_last(reader, STREAM, SUBJECT, timeout=1.0)
    assert reply is not None and (reply.headers or {})["Nats-Sequence"] == "7"


async def test_a_slow_batch_is_read_once_without_duplicates(connections: list[Client]) -> None:
    reader, server, _ = connections

    async def slow(message: Msg) -> None:
        await asyncio.sleep(0.6)
        for sequence in (3, 5):
            await server.publish(message.reply, b"x", headers=stored(sequence))
        await server.publish(message.reply, b"", headers={"Status": "204",
                                                          "Nats-Num-Pending": "0"})

    await replica(server, BATCH, slow)
    messages = await jsapi.direct_get_subject(reader, STREAM, SUBJECT, timeout=1.0)
    assert [(m.headers or {})["Nats-Sequence"] for m in messages] == ["3", "5"]


async def test_reads_get_past_a_frozen_replica(connections: list[Client]) -> None:
    """Half of the requests go to the frozen replica. Asked once, a read failed half the
    time; asked again, one in sixteen at most (all four tries to the frozen one). 30
    reads tell the two apart: at most 8 failures passes, as it does but once in thousands
    of runs asked again and about once in a hundred asked once."""
    reader, live, stuck = connections

    async def answer(message: Msg) -> None:
        await live.publish(message.reply, b"x", headers=stored(1))

    await replica(live, SINGLE, answer)
    await replica(stuck, SINGLE, frozen)
    failed = 0
    for _ in range(30):
        try:
            await jsapi.direct_get_last(reader, STREAM, SUBJECT, timeout=0.3)
        except TimeoutError:
            failed += 1
    assert failed <= 8


async def test_batches_get_past_a_frozen_replica(connections: list[Client]) -> None:
    """As single reads do (above): a batched read asks again too, each try collecting its
    own messages, and takes the first batch to end."""
    reader, live, stuck = connections

    async def answer(message: Msg) -> None:
        for sequence in (3, 5):
            await live.publish(message.reply, b"x", headers=stored(sequence))
        await live.publish(message.reply, b"", headers={"Status": "204",
                                                        "Nats-Num-Pending": "0"})

    await replica(live, BATCH, answer)
    await replica(stuck, BATCH, frozen)
    failed = 0
    for _ in range(30):
        try:
            messages = await jsapi.direct_get_subject(reader, STREAM, SUBJECT, timeout=0.3)
        except TimeoutError:
            failed += 1
        else:
            assert [(m.headers or {})["Nats-Sequence"] for m in messages] == ["3", "5"]
    assert failed <= 8


def answering(nc: Client, headers: dict[str, str]) -> Callable[[Msg], Awaitable[None]]:
    async def answer(message: Msg) -> None:
        await nc.publish(message.reply, b"", headers=headers)
    return answer


ERRORS = [{"Status": "408", "Description": "Request Timeout"},
          {"Status": "413", "Description": "Too Many Subjects"},
          {"Status": "400", "Description": "Bad Request"}]


@pytest.mark.parametrize("headers", ERRORS)
@pytest.mark.parametrize("batched", [False, True])
async def test_an_error_status_is_no_answer_and_names_itself(
        connections: list[Client], headers: dict[str, str], batched: bool) -> None:
    """Single and batched reads judge their reply alike: an error status raises, and a
    store's read says which (a batch took it for the end before, an empty history)."""
    reader, server, _ = connections
    await replica(server, BATCH if batched else SINGLE, answering(server, headers))
    read = (jsapi.direct_get_subject(reader, STREAM, SUBJECT, timeout=1.0) if batched
            else jsapi.direct_get_last(reader, STREAM, SUBJECT, timeout=1.0))
    with pytest.raises(StoreUnavailableError,
                       match=f"reading: direct get on stream 'FAKE' failed with status "
                             f"{headers['Status']}: {headers['Description']}; retry"):
        async with jsapi.reaching("reading"):
            await read


@pytest.mark.parametrize("batched", [False, True])
async def test_503_is_no_responder_and_404_nothing(connections: list[Client],
                                                   batched: bool) -> None:
    reader, server, stand_in = connections
    await replica(server, BATCH if batched else SINGLE, answering(server, {"Status": "503"}))
    read = (jsapi.direct_get_subject(reader, STREAM, SUBJECT, timeout=1.0) if batched
            else jsapi.direct_get_last(reader, STREAM, SUBJECT, timeout=1.0))
    with pytest.raises(StoreUnavailableError, match="no JetStream responder"):
        async with jsapi.reaching("reading"):
            await read
    await server.close()  # the 404 responder alone now
    await replica(stand_in, BATCH if batched else SINGLE,
                  answering(stand_in, {"Status": "404", "Description": "Message Not Found"}))
    if batched:
        assert await jsapi.direct_get_subject(reader, STREAM, SUBJECT, timeout=1.0) == []
    else:
        assert await jsapi.direct_get_last(reader, STREAM, SUBJECT, timeout=1.0) is None
