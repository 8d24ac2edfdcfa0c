"""JetStreamEventStore: the production event store on NATS JetStream.

Layout (see DESIGN.md "JetStream mapping" and naming.py):

- events:    stream ``<stream_name>``, subject ``<stream_name>.events.<actor token>``
- snapshots: stream ``<stream_name>_snapshots`` (one message per subject),
             subject ``<stream_name>.snapshots.<actor token>``

Each event is one message: the Event as JSON, ``Nats-Msg-Id`` = event id and an
``Aether-Version`` header. Every append carries ``Nats-Expected-Last-Subject-Sequence``,
so the server itself refuses a write racing another process; several events of one
actor go in one atomic batch.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Collection, Sequence
from uuid import uuid4

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import PubAck

from aether.errors import (
    AetherError,
    DuplicateEventIdError,
    EventDecodeError,
    StoreClosedError,
    StoreUnavailableError,
    VersionConflictError,
)
from aether.event import (
    NO_EVENTS,
    ActorSnapshot,
    Event,
    Latest,
    check_batch,
    check_retry,
    encode_record,
    storable,
    stored_first,
)
from aether.feed import DEFAULT_BATCH, FeedItem, Follow, Signal, normal_types
from aether.limits import HEADER_RESERVE, check_actor_id, check_stored_size, from_version_error
from aether.store import jsapi
from aether.store.jetstream_feed import StreamFeed
from aether.store.jetstream_reads import (
    EMPTY,
    VERSION_HEADER,
    Floors,
    ReplicaReads,
    Tip,
    stored_version,
    tip_of,
)
from aether.store.jetstream_snapshots import (
    EVENT_SEQUENCE_HEADER,
    MAX_PAYLOAD,
    SnapshotStream,
)
from aether.store.naming import encode_token, stream_name
from aether.store.stored import decode_message
from aether.store.streams import JetStreamConfig, desired_stream, ensure_streams

_RACE_LOST = (*jsapi.WRONG_LAST_SEQUENCE, jsapi.ERR_BATCH_DUPLICATE_MSG_ID)

__all__ = [
    "EVENT_SEQUENCE_HEADER", "VERSION_HEADER", "JetStreamConfig", "JetStreamEventStore",
]


class JetStreamEventStore:
    """EventStore and SnapshotStore on JetStream; safe for many writers in many processes."""

    def __init__(self, nc: Client, name: str, config: JetStreamConfig) -> None:
        """Prefer ``await JetStreamEventStore.create(...)``, which also provisions streams."""
        self._nc = nc
        self._config = config
        # Both names are checked here, before create() provisions either stream.
        self._stream = stream_name(name, config.namespace)
        self._snapshot_stream = f"{self._stream}_snapshots"
        self._timeout = config.request_timeout
        # Per actor, the highest stream sequence of its history this store has written or
        # read: no read shows it less (jetstream_reads.py).
        self._floors = Floors()
        self._reads = ReplicaReads(nc, self._stream, self._timeout, self._floors)
        self._tips: OrderedDict[str, Tip] = OrderedDict()
        # Per actor, where the event at the version of its latest snapshot sits in the stream
        # (read with the snapshot): a read from a later version starts after it.
        self._marks: OrderedDict[str, Tip] = OrderedDict()
        self._feed = StreamFeed(nc, self._stream, self._timeout)
        self._snapshots = SnapshotStream(nc, self._snapshot_stream, self._timeout)

    @classmethod
    async def create(
        cls, nc: Client, name: str, config: JetStreamConfig | None = None
    ) -> JetStreamEventStore:
        """Open the store, creating or reconciling its streams."""
        store = cls(nc, name, config or JetStreamConfig())
        js = nc.jetstream(timeout=store._timeout)
        cfg = store._config
        await ensure_streams(js, [
            desired_stream(store._stream, [f"{store._stream}.events.>"], cfg, "events"),
            desired_stream(store._snapshot_stream, [f"{store._stream}.snapshots.>"], cfg,
                           "snapshots", per_subject=1),
        ], cfg.update_existing)
        return store

    @classmethod
    async def create_with_namespace(
        cls, nc: Client, name: str, namespace: str
    ) -> JetStreamEventStore:
        return await cls.create(nc, name, JetStreamConfig(namespace=namespace))

    @property
    def namespace(self) -> str:
        return self._config.namespace

    @property
    def stream_name(self) -> str:
        return self._stream

    @property
    def snapshot_stream_name(self) -> str:
        return self._snapshot_stream

    @property
    def config(self) -> JetStreamConfig:
        return self._config

    def event_subject(self, actor_id: str) -> str:
        # check_actor_id keeps every subject far below the server's control-line limit.
        return f"{self._stream}.events.{encode_token(check_actor_id(actor_id))}"

    def snapshot_subject(self, actor_id: str) -> str:
        return f"{self._stream}.snapshots.{encode_token(check_actor_id(actor_id))}"

    # ---- writing ---------------------------------------------------------------------

    async def save_event(self, event: Event) -> None:
        event = storable(event, Event)
        await self._append(event.actor_id, [event])

    async def save_events(self, events: Sequence[Event]) -> None:
        batch = check_batch(events)
        await self._append(batch[0].actor_id, batch)

    async def _append(self, actor_id: str, events: list[Event]) -> None:
        subject = self.event_subject(actor_id)
        messages = [self._message(subject, event) for event in events]  # checks the size
        first, last = events[0], events[-1]
        tip = self._tips.get(actor_id)
        known = tip is not None  # remembered, so perhaps stale: others may have written since
        if tip is None:
            tip = await self._read_tip(actor_id, subject)
        attempts = 0
        # An attempt of this save whose ack was lost may have stored the events; another
        # writer may then have written after them, before this save looked.
        unsure = False
        while True:
            if first.version <= tip.version:
                if known:
                    # A retry or a conflict: either way the answer is the server's, as a
                    # store that remembers nothing gets it (a remembered position may be
                    # behind, or a snapshot's mark that names no event).
                    tip, known = await self._read_tip(actor_id, subject), False
                    continue
                if tip.event_id == last.id:
                    # A retry of a write that already landed, if those are these very
                    # events (else check_retry raises).
                    check_retry(events, await self.get_events(actor_id, first.version),
                                tip.version)
                    self._remember(actor_id, tip)
                    return
                if unsure and await self._landed(actor_id, events):
                    # Stored by a lost attempt, then followed by another writer's.
                    self._remember(actor_id, tip)
                    return
                self._tips.pop(actor_id, None)
                raise VersionConflictError(actor_id, tip.version, first.version)
            attempts += 1
            messages[0].headers[jsapi.EXPECTED_SEQUENCE] = str(tip.sequence)
            try:
                ack = await self._publish(messages)
            except jsapi.PublishRejected as rejected:
                if rejected.err_code not in _RACE_LOST:
                    raise AetherError(f"saving events of actor {actor_id!r}: {rejected}") from None
                self._floors.observe(actor_id, _wrong_last_sequence(rejected.description))
                duplicate_in_batch = rejected.err_code == jsapi.ERR_BATCH_DUPLICATE_MSG_ID
            except StoreClosedError:
                raise  # closed or draining: no attempt can succeed, nor a look
            except StoreUnavailableError:
                # The ack may be lost while the write landed: look before trying again. With
                # the connection down, looking would only wait out a second timeout.
                if attempts >= self._config.publish_attempts or not self._nc.is_connected:
                    raise
                # On a stream between leaders the look can go unanswered too (replicas lag
                # what they acked until a leader commits it): then try again where we were,
                # which the event ids make safe, and let that try wait for the leader.
                unsure = True
                with contextlib.suppress(StoreUnavailableError):
                    tip = await self._read_tip(actor_id, subject)
                continue
            else:
                if ack.duplicate:
                    await self._accept_duplicate(ack.seq, last)
                    # Stored at ack.seq: reads from now on show at least that much (a
                    # lagging replica is asked again). A clustered server checks the id
                    # before the expected sequence, so the event may no longer be the
                    # latest: a conflict then, as a single server and every store say.
                    self._floors.observe(actor_id, ack.seq)
                    tip = await self._read_tip(actor_id, subject)
                    if tip.event_id == last.id:
                        self._remember(actor_id, tip)
                        return
                    if unsure and await self._landed(actor_id, events):
                        self._remember(actor_id, tip)  # this save's lost attempt stored them
                        return
                    self._tips.pop(actor_id, None)
                    raise VersionConflictError(actor_id, tip.version, first.version)
                self._floors.observe(actor_id, ack.seq)
                self._remember(actor_id, Tip(ack.seq, last.version, last.id))
                return
            tip = await self._read_tip(actor_id, subject)
            if duplicate_in_batch and first.version > tip.version:
                # A replica that has not caught up may not show our own batch, landed by an
                # attempt whose ack was lost: only the stream leader's answer can say that
                # the id is another event's.
                tip = await self._reads.leader_tip(actor_id, subject)
                self._floors.observe(actor_id, tip.sequence)
            if duplicate_in_batch and first.version > tip.version:
                # Not a lost race, not our own retry: an id of the batch is taken.
                raise DuplicateEventIdError(
                    first.id, actor_id, first.version,
                    f" (or another id of this batch of {len(events)}: JetStream does not say "
                    f"which)",
                )

    async def _landed(self, actor_id: str, events: list[Event]) -> bool:
        """Whether the stored history holds these very events at their versions (compared
        as stored). Asked only after an attempt whose ack was lost: then another writer's
        later events do not make this save a lost race, since its own events are there,
        and a retry by the caller would store them a second time (ExternalSystem.record,
        whose next version gets a new event)."""
        try:
            stored = await self.get_events(actor_id, events[0].version)
        except EventDecodeError:
            return False  # a foreign record in the history: no landing of ours to claim
        return stored_first(events, stored)

    async def _publish(self, messages: list[jsapi.Outgoing]) -> PubAck:
        def publish() -> Awaitable[PubAck]:
            if len(messages) == 1:
                return jsapi.publish(self._nc, messages[0], self._timeout)
            return jsapi.publish_atomic(self._nc, uuid4().hex, messages, self._timeout)

        try:
            return await jsapi.through_elections(self._nc, self._timeout, publish)
        except jsapi.TRANSPORT_ERRORS as exc:
            raise jsapi.unavailable(f"publishing to stream {self._stream!r}", exc) from exc

    async def _accept_duplicate(self, sequence: int, event: Event) -> None:
        """JetStream acked ``event`` as a duplicate of message ``sequence``: success only
        when that message is this very event, else its id belongs to another event."""
        async with jsapi.reaching(f"reading message {sequence} of stream {self._stream!r}"):
            stored = await jsapi.get_message(self._nc, self._stream, sequence=sequence,
                                             timeout=self._timeout)
            if stored is None:  # a replica that has not caught up: the leader holds it
                stored = await jsapi.get_message(self._nc, self._stream, sequence=sequence,
                                                 timeout=self._timeout, direct=False)
        try:
            other = None if stored is None else decode_message(Event, stored)
        except EventDecodeError:
            other = None
        if other is not None and encode_record(other) == encode_record(event):
            return  # compared as stored: 1 and True are not the same event
        detail = "" if other is None else (
            f" (version {other.version} of actor {other.actor_id[:80]!r})"
        )
        raise DuplicateEventIdError(event.id, event.actor_id, event.version, detail)

    def _message(self, subject: str, event: Event) -> jsapi.Outgoing:
        payload = encode_record(event)
        if len(payload) + HEADER_RESERVE > self._nc.max_payload:  # name it only to refuse
            check_stored_size(f"event {event.id[:80]!r}", len(payload), self._nc.max_payload,
                              MAX_PAYLOAD)
        return jsapi.Outgoing(
            subject, payload, {"Nats-Msg-Id": event.id, VERSION_HEADER: str(event.version)}
        )

    def _remember(self, actor_id: str, tip: Tip, cache: OrderedDict[str, Tip] | None = None
                  ) -> None:
        cache = self._tips if cache is None else cache
        if self._config.version_cache_size == 0:
            return
        cache[actor_id] = tip
        cache.move_to_end(actor_id)
        if len(cache) > self._config.version_cache_size:
            cache.popitem(last=False)

    # ---- reading ---------------------------------------------------------------------

    async def get_latest_version(self, actor_id: str) -> int:
        """The actor's latest version (0 if none); an id no store accepts is refused."""
        return (await self._read_tip(actor_id, self.event_subject(actor_id))).version

    async def get_latest(self, actor_id: str) -> Latest:
        """The actor's latest version and its event's id (``NO_EVENTS`` if none), from the
        headers of one direct get of its last message."""
        tip = await self._read_tip(actor_id, self.event_subject(actor_id))
        return Latest(tip.version, tip.event_id or None) if tip.version else NO_EVENTS

    async def get_events(self, actor_id: str, from_version: int = 0) -> list[Event]:
        if type(from_version) is not int:
            raise from_version_error(from_version)
        subject = self.event_subject(actor_id)
        # Events of an actor are in version order in the stream: those after a known event
        # start after its sequence (a load from a snapshot reads only the tail).
        mark = self._marks.get(actor_id)
        after = mark if mark is not None and mark.version < from_version else EMPTY

        async def read() -> list[Msg]:
            # try/except, not jsapi.reaching: on the load path a context manager and a
            # message built up front cost more than the rest of the read's own work.
            try:
                return await jsapi.direct_get_subject(
                    self._nc, self._stream, subject, self._timeout,
                    start_seq=after.sequence + 1)
            except jsapi.TRANSPORT_ERRORS as exc:
                raise jsapi.unavailable(
                    f"reading actor {actor_id!r} from stream {self._stream!r}", exc) from exc

        messages, tip = await self._reads.settled(
            actor_id, subject, read, lambda got: tip_of(got[-1]) if got else after)
        # Where the history ends now: the next save of this actor (a command's, typically)
        # needs no read of its own. A stale position costs a refused publish and a read,
        # never a wrong write: the server checks the expected sequence.
        # (Nothing after the mark: the marked event is the last one.)
        self._remember(actor_id, tip)
        # The version header says which events to skip, so those are never decoded.
        return [decode_message(Event, message) for message in messages
                if stored_version(message) >= from_version]

    async def _read_tip(self, actor_id: str, subject: str) -> Tip:
        async def read() -> Msg | None:
            try:
                return await jsapi.direct_get_last(self._nc, self._stream, subject,
                                                   self._timeout)
            except jsapi.TRANSPORT_ERRORS as exc:
                raise jsapi.unavailable(
                    f"reading the latest version on stream {self._stream!r}", exc) from exc

        _, tip = await self._reads.settled(
            actor_id, subject, read, lambda got: EMPTY if got is None else tip_of(got))
        return tip

    # ---- snapshots -------------------------------------------------------------------

    async def save_snapshot(self, snapshot: ActorSnapshot) -> None:
        """Keep the newest snapshot per actor; an older one arriving late is ignored."""
        snapshot = storable(snapshot, ActorSnapshot)
        subject = self.snapshot_subject(snapshot.actor_id)
        position = await self._position_of(snapshot.actor_id, snapshot.version)
        await self._snapshots.save(snapshot, subject, position)

    async def _position_of(self, actor_id: str, version: int) -> int:
        """The stream sequence of the actor's event at ``version`` when it is the actor's
        latest (as when a Repository snapshots right after its save), else 0 (unknown)."""
        tip = self._tips.get(actor_id)
        if tip is None or tip.version != version:
            tip = await self._read_tip(actor_id, self.event_subject(actor_id))
        return tip.sequence if tip.version == version else 0

    async def get_latest_snapshot(self, actor_id: str) -> ActorSnapshot | None:
        """The newest snapshot, never older than one this store saved or read before."""
        found = await self._snapshots.latest(actor_id, self.snapshot_subject(actor_id))
        if found is None:
            return None
        snapshot, position = found
        if position:
            self._remember(actor_id, Tip(position, snapshot.version, ""), self._marks)
            self._floors.observe(actor_id, position)
        return snapshot

    # ---- the feed (aether.feed.EventFeed; positions are stream sequences) ---------------

    async def read_all(
        self, after: int = 0, limit: int = DEFAULT_BATCH, *,
        event_types: Collection[str] | None = None,
    ) -> list[FeedItem]:
        return (await self._feed.scan(after, limit, normal_types(event_types)))[0]

    def follow(self, after: int = 0, *, event_types: Collection[str] | None = None) -> Follow:
        signal = Signal()
        hints: list[Subscription] = []

        async def start_hints() -> None:
            async with jsapi.reaching(f"listening for appends to stream {self._stream!r}"):
                hints.append(await self._feed.wake_on_append(signal))

        async def stop_hints() -> None:
            for subscription in hints:
                # A connection that is gone has dropped the subscription already.
                with contextlib.suppress(*jsapi.TRANSPORT_ERRORS, nats.errors.Error):
                    await subscription.unsubscribe()

        return Follow(self._feed.scan, signal, after, event_types, on_start=start_hints,
                      on_close=stop_hints)

    async def last_position(self) -> int:
        return await self._feed.last_position()


def _wrong_last_sequence(description: str) -> int:
    """The stream position a refused append saw ("wrong last sequence: 42"), or 0: reading
    at least that far shows the write that won the race."""
    _, _, tail = description.rpartition(":")
    return int(tail) if tail.strip().isdigit() else 0
