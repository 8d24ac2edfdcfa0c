"""Reading an actor's history from a replicated JetStream stream without going back.

Direct gets are answered by any replica of a replicated stream, and a follower may lag the
quorum that acknowledged a write. Per actor, a store keeps the highest stream sequence of
its history it has written or read (its *floor*, ``Floors``); a read whose answer ends
before it came from such a follower and is asked again (``ReplicaReads.settled``), so a
store never sees an actor's history older than it has seen (read-your-writes and monotonic
reads per actor). nats-server 2.15 ignores ADR-53's ``min_last_seq``, so the client checks.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import NamedTuple, TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import RawStreamMsg

from aether.errors import StoreUnavailableError
from aether.event import Event
from aether.store import jsapi
from aether.store.stored import decode_message

VERSION_HEADER = "Aether-Version"
"""On an event: its version, so reading where a history ends needs no payload decode."""
FLOORS = 65_536
"""Actors whose floor a store keeps (least recently used forgotten first)."""
# How a read answered by a lagging replica is asked again: quick retries first (a follower
# is usually a few milliseconds behind), then the stream leader or a pause up to the
# request timeout.
_REPLICA_RETRIES = 3
_REPLICA_PAUSE = 0.005
T = TypeVar("T")


class Tip(NamedTuple):
    """Where an actor's history ends: subject sequence, version, event id (0, 0, "" if empty)."""

    sequence: int
    version: int
    event_id: str


EMPTY = Tip(0, 0, "")


class Floors:
    """Per actor, the highest stream sequence seen (bounded: the oldest are forgotten)."""

    def __init__(self, limit: int = FLOORS) -> None:
        self._limit = limit
        self._floors: OrderedDict[str, int] = OrderedDict()

    def get(self, actor_id: str) -> int:
        return self._floors.get(actor_id, 0)

    def observe(self, actor_id: str, sequence: int) -> None:
        floors = self._floors
        if sequence > floors.get(actor_id, 0):
            floors[actor_id] = sequence
            floors.move_to_end(actor_id)
            if len(floors) > self._limit:
                floors.popitem(last=False)

    def lower(self, actor_id: str, sequence: int) -> None:
        """The stream leader says the history ends at ``sequence`` (retention expired it)."""
        if actor_id in self._floors:
            self._floors[actor_id] = sequence


class ReplicaReads:
    """Reads of one stream that never end before an actor's floor (module docstring)."""

    def __init__(self, nc: Client, stream: str, timeout: float, floors: Floors) -> None:
        self._nc = nc
        self._stream = stream
        self._timeout = timeout
        self.floors = floors

    async def settled(self, actor_id: str, subject: str, read: Callable[[], Awaitable[T]],
                      tip_of: Callable[[T], Tip]) -> tuple[T, Tip]:
        """``read()``'s answer and where it says the actor's history ends, read again while
        a lagging replica answers with less than this store has seen (see _lagging)."""
        floor = self.floors.get(actor_id)
        attempt = 0
        while True:
            answer = await read()
            tip = tip_of(answer)
            if tip.sequence >= floor or not await self._lagging(actor_id, subject, floor,
                                                                   attempt):
                self.floors.observe(actor_id, tip.sequence)
                return answer, tip
            attempt += 1

    async def leader_tip(self, actor_id: str, subject: str) -> Tip:
        """Where the actor's history ends as the stream leader, which holds every
        acknowledged write, says (a direct get may be answered by a lagging replica)."""
        async with jsapi.reaching(f"reading actor {actor_id!r} from the leader of stream "
                                  f"{self._stream!r}"):
            last = await jsapi.get_message(self._nc, self._stream, last_of=subject,
                                           timeout=self._timeout, direct=False)
        if last is None:
            return EMPTY
        return Tip(last.seq or 0, stored_version(last),
                   (last.headers or {}).get("Nats-Msg-Id", ""))

    async def _lagging(self, actor_id: str, subject: str, floor: int, attempt: int) -> bool:
        """A replica answered a read of ``actor_id`` with less of its history than this
        store has seen (up to stream sequence ``floor``). True, after a pause, to ask again;
        False when the stream leader, which holds every acknowledged write, says the history
        really ends earlier (events older than the stream's retention age expire): the floor
        comes down and the answer stands."""
        if attempt < _REPLICA_RETRIES:
            await asyncio.sleep(_REPLICA_PAUSE * 2**attempt)
            return True
        if attempt == _REPLICA_RETRIES:
            end = (await self.leader_tip(actor_id, subject)).sequence
            if end < floor:
                self.floors.lower(actor_id, end)
                return False
        pause = _REPLICA_PAUSE * 2**_REPLICA_RETRIES
        if (attempt - _REPLICA_RETRIES) * pause >= self._timeout:
            raise StoreUnavailableError(
                f"the replica of stream {self._stream!r} answering this store's reads has "
                f"not caught up with actor {actor_id[:80]!r} (stream sequence {floor}) "
                f"within {self._timeout} s: try again, or connect to another server")
        await asyncio.sleep(pause)
        return True


def tip_of(message: Msg) -> Tip:
    """Where a direct get's answer (the actor's message) says its history ends."""
    headers = message.headers or {}
    return Tip(int(headers["Nats-Sequence"]), stored_version(message),
               headers.get("Nats-Msg-Id", ""))


def stored_version(message: Msg | RawStreamMsg) -> int:
    """The version an event message carries in its header; decoded only when absent."""
    version = (message.headers or {}).get(VERSION_HEADER)
    return int(version) if version is not None else decode_message(Event, message).version
