"""Where reaction runners keep their place in the feed, and the events they parked.

A checkpoint is the feed position up to which one handler (a policy or a durable read
model) of one runner has done its work. A parked event is one a handler kept failing on:
kept with its error so it can be read, fixed and replayed, while the runner goes on.

Saves are monotonic: ``save`` never moves a checkpoint back, so two runners of one name
running at once (a deploy overlap, a second copy started by mistake) repeat work but never
make a restart repeat more than it must. ``reset`` is the one way to set a checkpoint lower
(to handle events again, or a new history from the start).

- ``InMemoryCheckpointStore``: for tests and single-process apps.
- ``JetStreamCheckpointStore``: a KV bucket beside the event store, namespaced like it
  (``<store stream name>_checkpoints``), so tenants never share positions. Keys are the
  runner and handler names encoded with ``naming.encode_token`` (lossless, safe for any
  text); the bucket is read and written with direct gets and plain publishes, because
  nats-py's KV helpers refuse the ``~`` that encoding uses. A save is a compare-and-set on
  the key's last sequence (``Nats-Expected-Last-Subject-Sequence``), so it stays monotonic
  across processes.

Both also keep the leases of exclusive runners (``aether.lease.LeaseStore``: one key per
runner name, written by compare-and-set on its revision); the in-memory store's leases
exclude runners within one process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Protocol, runtime_checkable

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import KeyValueConfig, StorageType
from pydantic import BaseModel, ConfigDict

from aether.errors import AetherError, StoreConfigError
from aether.event import STORED, Event
from aether.lease import LeaseRefused, StoredLease
from aether.limits import utf8_size
from aether.store import jsapi
from aether.store.jetstream import JetStreamEventStore
from aether.store.naming import encode_token

KV_OPERATION = "KV-Operation"
MAX_NAME_BYTES = 512
"""Bytes (UTF-8) of a runner's or a handler's name: both go, encoded (up to 3 characters a
byte), into the subjects checkpoints and parked events are kept under, which NATS's 4 KiB
protocol line bounds. Every checkpoint store refuses longer names alike."""
PARK_HEADROOM = 256
"""Bytes of a message the checkpoint bucket keeps free beside a parked record (headers)."""


class InvalidNameError(AetherError, ValueError):
    """A runner or handler name that checkpoints cannot be kept under."""


def check_name(what: str, name: object) -> None:
    """InvalidNameError unless ``name`` is 1 to MAX_NAME_BYTES bytes of UTF-8 text."""
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"{what} must be non-empty text (its checkpoints' key), got "
                               f"{name!r}")
    size = utf8_size(name, what, InvalidNameError)
    if size > MAX_NAME_BYTES:
        raise InvalidNameError(
            f"{what} {name[:40]!r}... is {size} bytes of UTF-8; use at most {MAX_NAME_BYTES} "
            f"(its checkpoints are kept under it)")


def check_names(runner: str, handler: str) -> None:
    check_name("runner name", runner)
    check_name("handler name", handler)


def _token(kind: str, name: str) -> str:
    """``name`` as one subject token, checked first: every subject of the bucket is built
    from these, so none can pass NATS's protocol line."""
    check_name(f"{kind} name", name)
    return encode_token(name)


UNDECODABLE = "<undecodable>"
"""The ``handler`` of a parked record the feed could not decode into an event: no handler
was given it, so it is parked once for the whole runner (no handler can have this name)."""


class ParkedEvent(BaseModel):
    """An event a handler failed on ``attempts`` times, with the last error; or, with
    ``handler == UNDECODABLE`` and ``event`` None, a record in the feed that is not an event
    (``subject`` and ``excerpt`` say where it is and how it starts; it stays in the store at
    ``position``, and ``ReactionRunner.replay_parked`` reads it again from there)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    runner: str
    handler: str
    position: int
    event: Event | None
    error: str
    attempts: int
    parked_at: datetime
    subject: str | None = None
    excerpt: str | None = None


READ_BACK = {STORED: True}
"""Validation context of a parked record: its event is held to the limits of what is read
back from storage, as the feed holds it."""


def parked_record(**fields: object) -> ParkedEvent:
    """A ParkedEvent whose event is held to the limits of what is read back from storage:
    history written before a limit was added is parked (and read back) like any other
    event, not refused by today's limits."""
    return ParkedEvent.model_validate(fields, context=READ_BACK)


class InvalidPositionError(AetherError, ValueError):
    """A checkpoint position that is not a whole number of 0 or more."""


def check_position(position: object) -> None:
    """InvalidPositionError unless ``position`` is an int of 0 or more (a feed position:
    0 is before the first event)."""
    if type(position) is not int or position < 0:
        raise InvalidPositionError(
            f"a checkpoint position is a feed position, an int of 0 or more, got "
            f"{position!r}")


class CheckpointAheadError(AetherError):
    """A handler's position is beyond the end of the store's feed: the checkpoints describe
    another history, and following from them would skip events silently."""

    def __init__(self, runner: str, handler: str, position: int, last: int) -> None:
        self.runner, self.handler, self.position, self.last = runner, handler, position, last
        super().__init__(
            f"reaction runner {runner!r}: {handler} is at feed position {position}, but the "
            f"store's feed ends at {last}, so its checkpoints belong to another history (the "
            f"stream was recreated or restored from an older backup, or this is another "
            f"store). Point the runner at the store its checkpoints came from, or reset them "
            f"with checkpoints.reset({runner!r}, {handler!r}) to handle this store's events "
            f"from the start")

    def __reduce__(self) -> tuple[type[CheckpointAheadError], tuple[str, str, int, int]]:
        return (type(self), (self.runner, self.handler, self.position, self.last))


@runtime_checkable
class CheckpointStore(Protocol):
    async def load(self, runner: str, handler: str) -> int:
        """The saved position, 0 when none was saved."""
        ...

    async def save(self, runner: str, handler: str, position: int) -> None:
        """Raise the checkpoint to ``position``; a position lower than or equal to the saved
        one leaves it as it is (also against concurrent savers in other processes)."""
        ...

    async def reset(self, runner: str, handler: str, position: int = 0) -> None:
        """Set the checkpoint to ``position``, lower included: the handler handles every
        event after it again (stop the runners of that name first, or their next save
        raises it again)."""
        ...

    async def park(self, parked: ParkedEvent) -> None: ...

    async def parked(self, runner: str) -> list[ParkedEvent]:
        """The runner's parked events, ordered by handler, then position."""
        ...

    async def unpark(self, parked: ParkedEvent) -> None:
        """Forget a parked event (after a successful replay, or by decision)."""
        ...


class InMemoryCheckpointStore:
    def __init__(self) -> None:
        self._positions: dict[tuple[str, str], int] = {}
        self._parked: dict[tuple[str, str, int], ParkedEvent] = {}
        self._leases: dict[str, tuple[bytes | None, int]] = {}
        self._revision = 0
        self._watchers: dict[str, list[Callable[[], None]]] = {}

    async def load(self, runner: str, handler: str) -> int:
        check_names(runner, handler)
        return self._positions.get((runner, handler), 0)

    async def save(self, runner: str, handler: str, position: int) -> None:
        check_names(runner, handler)
        check_position(position)
        if position > self._positions.get((runner, handler), 0):
            self._positions[(runner, handler)] = position

    async def reset(self, runner: str, handler: str, position: int = 0) -> None:
        check_names(runner, handler)
        check_position(position)
        self._positions[(runner, handler)] = position

    async def park(self, parked: ParkedEvent) -> None:
        check_names(parked.runner, parked.handler)
        self._parked[(parked.runner, parked.handler, parked.position)] = parked

    async def parked(self, runner: str) -> list[ParkedEvent]:
        check_name("runner name", runner)
        return [self._parked[key] for key in sorted(self._parked) if key[0] == runner]

    async def unpark(self, parked: ParkedEvent) -> None:
        self._parked.pop((parked.runner, parked.handler, parked.position), None)

    async def read_lease(self, key: str) -> tuple[StoredLease | None, int]:
        check_name("runner name", key)
        value, revision = self._leases.get(key, (None, 0))
        return (None if value is None else StoredLease(value, revision)), revision

    async def write_lease(self, key: str, value: bytes, expect: int) -> int:
        self._expect(key, expect)
        self._revision += 1
        self._leases[key] = (value, self._revision)
        return self._revision

    async def delete_lease(self, key: str, expect: int) -> None:
        self._expect(key, expect)
        self._revision += 1
        self._leases[key] = (None, self._revision)
        for deleted in list(self._watchers.get(key, ())):
            deleted()

    async def watch_lease(self, key: str, deleted: Callable[[], None],
                          ) -> Callable[[], Awaitable[None]]:
        check_name("runner name", key)
        self._watchers.setdefault(key, []).append(deleted)

        async def unwatch() -> None:
            with contextlib.suppress(ValueError):
                self._watchers[key].remove(deleted)

        return unwatch

    def _expect(self, key: str, expect: int) -> None:
        check_name("runner name", key)
        if self._leases.get(key, (None, 0))[1] != expect:
            raise LeaseRefused(key)


def _position(data: bytes | None, headers: dict[str, str] | None) -> int:
    """The position a record of the bucket holds: 0 for a KV delete or purge marker."""
    return 0 if (headers or {}).get(KV_OPERATION) else int(data or b"0")


class JetStreamCheckpointStore:
    """Checkpoints and parked events in a JetStream KV bucket."""

    def __init__(self, nc: Client, bucket: str, timeout: float = 5.0) -> None:
        """Prefer ``await JetStreamCheckpointStore.create(...)`` or ``for_store``."""
        self._nc = nc
        self.bucket = bucket
        self._stream = f"KV_{bucket}"
        self._prefix = f"$KV.{bucket}"
        self._timeout = timeout

    @classmethod
    async def create(cls, nc: Client, bucket: str, *, storage: str = "file",
                     replicas: int = 1, timeout: float = 5.0) -> JetStreamCheckpointStore:
        """Open the bucket, creating it when missing."""
        store = cls(nc, bucket, timeout)
        js = nc.jetstream(timeout=timeout)
        config = KeyValueConfig(
            bucket=bucket, history=1, replicas=replicas, direct=True,
            storage=StorageType.MEMORY if storage == "memory" else StorageType.FILE,
        )
        async with jsapi.reaching(f"creating checkpoint bucket {bucket!r}"):
            try:
                await js.create_key_value(config)
            except Exception as exc:  # nats-py raises several kinds for a bad bucket config
                if isinstance(exc, jsapi.TRANSPORT_ERRORS):
                    raise
                raise StoreConfigError(
                    f"checkpoint bucket {bucket!r} could not be created: {exc}"
                ) from exc
        return store

    @classmethod
    async def for_store(cls, nc: Client, store: JetStreamEventStore) -> JetStreamCheckpointStore:
        """The bucket that belongs to a JetStreamEventStore: ``<stream name>_checkpoints``,
        on the same storage and replicas, so it is namespaced like the store."""
        config = store.config
        return await cls.create(nc, f"{store.stream_name}_checkpoints", storage=config.storage,
                                replicas=config.replica_count, timeout=config.request_timeout)

    def _position_subject(self, runner: str, handler: str) -> str:
        return f"{self._prefix}.position.{_token('runner', runner)}.{_token('handler', handler)}"

    def _lease_subject(self, runner: str) -> str:
        return f"{self._prefix}.lease.{_token('runner', runner)}"

    def _parked_subject(self, runner: str, handler: str, position: int) -> str:
        return (f"{self._prefix}.parked.{_token('runner', runner)}.{_token('handler', handler)}."
                f"{position}")

    async def load(self, runner: str, handler: str) -> int:
        position, _ = await self._stored(self._position_subject(runner, handler))
        return position

    async def save(self, runner: str, handler: str, position: int) -> None:
        subject = self._position_subject(runner, handler)
        check_position(position)
        leader = False
        while True:
            stored, sequence = await self._stored(subject, leader=leader)
            if position <= stored:
                return
            if await self._put(subject, str(position).encode(),
                               {jsapi.EXPECTED_SEQUENCE: str(sequence)}) is not None:
                return
            # Another saver wrote since: read again, from the stream's leader (a replica
            # may lag behind it), and write only while our position is still higher.
            leader = True

    async def reset(self, runner: str, handler: str, position: int = 0) -> None:
        check_position(position)
        await self._put(self._position_subject(runner, handler), str(position).encode(), {})

    async def _stored(self, subject: str, *, leader: bool = False) -> tuple[int, int]:
        """The position saved under ``subject`` and its sequence in the stream ((0, 0) when
        there is none): a direct get, or with ``leader`` the stream leader's answer."""
        async with jsapi.reaching(f"reading a checkpoint from bucket {self.bucket!r}"):
            if leader:
                raw = await jsapi.get_message(self._nc, self._stream, last_of=subject,
                                              timeout=self._timeout, direct=False)
                return (0, 0) if raw is None else (_position(raw.data, raw.headers),
                                                   raw.seq or 0)
            message = await jsapi.direct_get_last(self._nc, self._stream, subject,
                                                  self._timeout)
        if message is None:
            return 0, 0
        return _position(message.data, message.headers), int(
            (message.headers or {})["Nats-Sequence"])

    async def read_lease(self, key: str) -> tuple[StoredLease | None, int]:
        async with jsapi.reaching(f"reading a runner's lease from bucket {self.bucket!r}"):
            message = await jsapi.direct_get_last(self._nc, self._stream,
                                                  self._lease_subject(key), self._timeout)
        if message is None:
            return None, 0
        headers = message.headers or {}
        revision = int(headers["Nats-Sequence"])
        if headers.get(KV_OPERATION):
            return None, revision
        return StoredLease(message.data, revision), revision

    async def write_lease(self, key: str, value: bytes, expect: int) -> int:
        revision = await self._put(self._lease_subject(key), value,
                                   {jsapi.EXPECTED_SEQUENCE: str(expect)})
        if revision is None:
            raise LeaseRefused(key)
        return revision

    async def delete_lease(self, key: str, expect: int) -> None:
        if await self._put(self._lease_subject(key), b"", {
                jsapi.EXPECTED_SEQUENCE: str(expect), KV_OPERATION: "DEL"}) is None:
            raise LeaseRefused(key)

    async def watch_lease(self, key: str, deleted: Callable[[], None],
                          ) -> Callable[[], Awaitable[None]]:
        # A plain subscription sees every write to the key as it is published (a refused
        # one too, which only costs the standby a read): a delete marker wakes it.
        async def seen(message: Msg) -> None:
            if (message.headers or {}).get(KV_OPERATION):
                deleted()

        async with jsapi.reaching(f"watching a runner's lease in bucket {self.bucket!r}"):
            subscription = await self._nc.subscribe(self._lease_subject(key), cb=seen)
        return subscription.unsubscribe

    async def park(self, parked: ParkedEvent) -> None:
        subject = self._parked_subject(parked.runner, parked.handler, parked.position)
        record = parked.model_dump_json().encode()
        over = len(record) - (self._nc.max_payload - PARK_HEADROOM)
        if over > 0:
            # An event near the size limit and a long error: the error gives way (the
            # event is what a replay needs), else the runner could not park and stopped.
            error = parked.error.encode()
            kept = error[:max(0, len(error) - over - 64)].decode("utf-8", "ignore")
            parked = parked.model_copy(update={
                "error": f"{kept}... (cut to fit the bucket's {self._nc.max_payload}-byte "
                         f"messages)"})
            record = parked.model_dump_json().encode()
        await self._put(subject, record, {})

    async def parked(self, runner: str) -> list[ParkedEvent]:
        async with jsapi.reaching(f"reading parked events from bucket {self.bucket!r}"):
            messages = await jsapi.direct_get_subject(
                self._nc, self._stream, f"{self._prefix}.parked.{_token('runner', runner)}.>",
                self._timeout,
            )
        found = [ParkedEvent.model_validate_json(message.data, context=READ_BACK)
                 for message in messages if not (message.headers or {}).get(KV_OPERATION)]
        return sorted(found, key=lambda parked: (parked.handler, parked.position))

    async def unpark(self, parked: ParkedEvent) -> None:
        subject = self._parked_subject(parked.runner, parked.handler, parked.position)
        # A KV purge: the rollup replaces the record with one small marker.
        await self._put(subject, b"", {KV_OPERATION: "PURGE", "Nats-Rollup": "sub"})

    async def _put(self, subject: str, payload: bytes, headers: dict[str, str]) -> int | None:
        """Write one record; its sequence, or None when refused for its expected last
        subject sequence (another writer came first), which only a compare-and-set asks
        for."""
        try:
            async with jsapi.reaching(f"writing to checkpoint bucket {self.bucket!r}"):
                ack = await jsapi.through_elections(self._nc, self._timeout, partial(
                    jsapi.publish, self._nc, jsapi.Outgoing(subject, payload, headers),
                    self._timeout))
        except jsapi.PublishRejected as rejected:
            if rejected.err_code in jsapi.WRONG_LAST_SEQUENCE:
                return None
            raise AetherError(f"checkpoint bucket {self.bucket!r} refused a write: {rejected}") \
                from None
        except nats.errors.MaxPayloadError:
            raise AetherError(
                f"checkpoint bucket {self.bucket!r} cannot take a record of {len(payload)} "
                f"bytes: the NATS server's max_payload is {self._nc.max_payload}") from None
        return ack.seq
