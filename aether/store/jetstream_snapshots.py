"""The snapshot side of a JetStreamEventStore: stream ``<stream>_snapshots``, one message
per actor subject (the newest snapshot), read with a direct get of the subject's last.

Direct gets are answered by any replica of a replicated stream, and a follower may lag the
quorum that acknowledged a write, so a read could show an older snapshot than this store
saved or saw (or none). Per actor, the store keeps the highest snapshot-stream sequence it
saved or read (its floor, as the event side does) and asks the stream leader, which holds
every acknowledged write, whenever a replica answers below it. Snapshot reads happen once
per load, so the leader is asked at once rather than after quick retries. When the leader
too answers below the floor (the snapshot expired with ``stream_retention``), its answer
stands and the floor comes down.
"""

from __future__ import annotations

from functools import partial

from nats.aio.client import Client
from nats.js.api import RawStreamMsg

from aether.errors import AetherError
from aether.event import ActorSnapshot, encode_record
from aether.limits import check_stored_size
from aether.store import jsapi
from aether.store.jetstream_reads import VERSION_HEADER, Floors
from aether.store.stored import decode_message

EVENT_SEQUENCE_HEADER = "Aether-Event-Sequence"
"""On a snapshot: the stream sequence of the actor's event at the snapshot's version, so a
load from that snapshot reads only the later events."""
MAX_PAYLOAD = "NATS server's max_payload"


class SnapshotStream:
    """Saves and reads the newest snapshot per actor, never going back (module docstring)."""

    def __init__(self, nc: Client, stream: str, timeout: float) -> None:
        self._nc = nc
        self.stream = stream
        self._timeout = timeout
        self._floors = Floors()

    async def save(self, snapshot: ActorSnapshot, subject: str, position: int) -> None:
        """Keep the newest snapshot per actor; an older one arriving late is ignored.
        ``position`` is the stream sequence of the event at the snapshot's version (0:
        unknown). The caller has checked the snapshot (storable)."""
        payload = encode_record(snapshot)
        check_stored_size(f"snapshot of actor {snapshot.actor_id[:80]!r}", len(payload),
                          self._nc.max_payload, MAX_PAYLOAD)
        headers = {VERSION_HEADER: str(snapshot.version)}
        if position:
            headers[EVENT_SEQUENCE_HEADER] = str(position)
        leader = False  # a replica may show an older snapshot: a refused save asks the leader
        while True:
            current = await self._last(snapshot.actor_id, subject, leader)
            expected = 0
            if current is not None:
                if int((current.headers or {}).get(VERSION_HEADER, "0")) > snapshot.version:
                    return
                expected = current.seq or 0
            message = jsapi.Outgoing(subject, payload, {**headers,
                                                        jsapi.EXPECTED_SEQUENCE: str(expected)})
            try:
                async with jsapi.reaching(f"saving a snapshot on {self.stream!r}"):
                    ack = await jsapi.through_elections(self._nc, self._timeout, partial(
                        jsapi.publish, self._nc, message, self._timeout))
            except jsapi.PublishRejected as rejected:
                if rejected.err_code not in jsapi.WRONG_LAST_SEQUENCE:
                    raise AetherError(f"saving snapshot of {snapshot.actor_id!r}: {rejected}") \
                        from None
                leader = True
                continue
            self._floors.observe(snapshot.actor_id, ack.seq)
            return

    async def latest(self, actor_id: str, subject: str) -> tuple[ActorSnapshot, int] | None:
        """The actor's newest snapshot and the stream sequence of its event (0: unknown),
        or None."""
        message = await self._last(actor_id, subject, leader=False)
        if message is None:
            return None
        snapshot = decode_message(ActorSnapshot, message)
        position = (message.headers or {}).get(EVENT_SEQUENCE_HEADER, "")
        return snapshot, int(position) if position.isdigit() else 0

    async def _last(self, actor_id: str, subject: str, leader: bool) -> RawStreamMsg | None:
        """The subject's last message, never older than this store's floor for the actor."""
        floor = self._floors.get(actor_id)
        message = await self._get(subject, direct=not leader)
        if not leader and _sequence(message) < floor:  # a lagging replica answered
            message = await self._get(subject, direct=False)
        sequence = _sequence(message)
        if sequence < floor:  # the leader says so: expired, the floor comes down
            self._floors.lower(actor_id, sequence)
        self._floors.observe(actor_id, sequence)
        return message

    async def _get(self, subject: str, *, direct: bool) -> RawStreamMsg | None:
        async with jsapi.reaching(f"reading a snapshot on {self.stream!r}"):
            return await jsapi.get_message(self._nc, self.stream, last_of=subject,
                                           timeout=self._timeout, direct=direct)


def _sequence(message: RawStreamMsg | None) -> int:
    return 0 if message is None else message.seq or 0
