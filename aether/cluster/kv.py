"""The cluster's JetStream KV bucket and its wake-up subject, on a plain nats-py connection.

One bucket per cluster, ``<sanitized cluster>_cluster`` (stream ``KV_<bucket>``): KV
bucket names allow only ``A-Z a-z 0-9 - _``, so the cluster name is sanitized like a
store namespace and the original name is recorded in the stream's metadata; two
clusters whose names sanitize alike are refused instead of sharing state. Keys and
the subject carry the name losslessly (``encode_token``). nats-py's KeyValue lacks
per-key TTL on updates and a one-request read of many keys, so writes and reads go
through the JetStream API directly (compare-and-swap on the subject's last sequence).
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DiscardPolicy, StorageType, StreamConfig

from aether.cluster.errors import (
    ClusterConfigError,
    ClusterError,
    ClusterUnavailableError,
    UnknownClusterError,
)
from aether.limits import utf8_size
from aether.store import jsapi
from aether.store.naming import encode_token, sanitize_namespace
from aether.store.streams import (
    ERR_NO_SUITABLE_PEERS,
    ERR_STREAM_NAME_IN_USE,
    OWNER_NAMESPACE,
    OWNER_ROLE,
)

ROLE = "cluster"
KV_OPERATION = "KV-Operation"
MAX_CLUSTER_NAME = 200


def check_cluster_name(cluster: str) -> None:
    """ClusterConfigError unless ``cluster`` is 1 to MAX_CLUSTER_NAME bytes of UTF-8."""
    if not isinstance(cluster, str) or not cluster:
        raise ClusterConfigError(
            f"the cluster name must be non-empty text, got {cluster!r}: name the cluster "
            f"(e.g. 'shop')")
    size = utf8_size(cluster, "cluster name", ClusterConfigError)
    if size > MAX_CLUSTER_NAME:
        raise ClusterConfigError(
            f"cluster name {cluster[:40]!r}... is {size} bytes; use at most {MAX_CLUSTER_NAME}"
        )


def bucket_name(cluster: str) -> str:
    check_cluster_name(cluster)
    return f"{sanitize_namespace(cluster)}_cluster"


def nudge_subject(cluster: str) -> str:
    """Core-NATS subject on which nodes announce a change, so peers re-read at once."""
    return f"aether.cluster.{encode_token(cluster)}.changed"


@dataclass(frozen=True)
class Entry:
    key: str
    value: bytes
    revision: int
    written: datetime | None = None
    """When the server stored it (its Nats-Time-Stamp), for operators; None if unreadable."""


class CasFailed(Exception):
    """The key moved on since the revision the write expected."""


@asynccontextmanager
async def reaching(what: str) -> AsyncIterator[None]:
    try:
        yield
    except jsapi.TRANSPORT_ERRORS as exc:
        if isinstance(exc, nats.errors.NoRespondersError | nats.js.errors.ServiceUnavailableError):
            advice = ("no JetStream responder: is JetStream on (nats-server -js), and has the "
                      "cluster's KV bucket finished starting (replicas electing a leader)?")
        elif isinstance(exc, TimeoutError):
            advice = "NATS did not answer in time: check the server and the network"
        elif isinstance(exc, jsapi.DirectGetFailed):
            # Not an empty answer: discovery would take every member a listing lacks for gone.
            advice = str(exc)
        else:
            advice = f"the NATS connection is not usable ({type(exc).__name__})"
        raise ClusterUnavailableError(f"{what}: {advice}; the node retries") from exc


DELETED_TTL = 60.0
"""Seconds a deletion marker stays in the bucket. A listing is one batched direct get, which
the server refuses above 1,024 keys (413): markers that stayed for good made the member
listing fail for ever once 1,024 node ids had left (nodes named per process or pod do)."""


def _ttl(seconds: float) -> str:
    """A Nats-TTL header value: whole seconds, rounded up, at least 1."""
    return f"{max(1, math.ceil(seconds))}s"


class ClusterBucket:
    """Reads and compare-and-swap writes of one cluster's keys."""

    def __init__(self, nc: Client, cluster: str, timeout: float,
                 deleted_ttl: float = DELETED_TTL) -> None:
        self.nc = nc
        self.cluster = cluster
        self.bucket = bucket_name(cluster)
        self.stream = f"KV_{self.bucket}"
        self.timeout = timeout
        self.deleted_ttl = deleted_ttl

    def subject(self, key: str) -> str:
        return f"$KV.{self.bucket}.{key}"

    async def ensure(self, replicas: int) -> int:
        """Create the bucket, or check that an existing one belongs to this cluster; its
        replica count."""
        js = self.nc.jetstream(timeout=self.timeout)
        want = StreamConfig(
            name=self.stream, subjects=[f"$KV.{self.bucket}.>"], storage=StorageType.FILE,
            num_replicas=replicas, max_msgs_per_subject=1, discard=DiscardPolicy.NEW,
            allow_direct=True, allow_rollup_hdrs=True, allow_msg_ttl=True, deny_delete=True,
            duplicate_window=1.0, metadata={OWNER_NAMESPACE: self.cluster, OWNER_ROLE: ROLE},
        )
        async with self._jetstream(f"creating the KV bucket {self.bucket!r}"):
            try:
                await js.add_stream(want)
                return replicas
            except nats.js.errors.APIError as exc:
                if isinstance(exc, jsapi.TRANSPORT_ERRORS):
                    raise
                if exc.err_code != ERR_STREAM_NAME_IN_USE:
                    # Not "exists": reading it back would only say "unknown cluster".
                    raise self._refused(replicas, exc) from None
                # exists (maybe with other settings): check who owns it below
        return await self.check()

    def _refused(self, replicas: int, exc: nats.js.errors.APIError) -> ClusterError:
        if exc.err_code == ERR_NO_SUITABLE_PEERS:  # a server cluster still forming, or one down
            return ClusterUnavailableError(
                f"JetStream cannot place the KV bucket {self.bucket!r} on {replicas} servers "
                f"yet ({exc.description}): start enough JetStream servers, or lower replicas; "
                f"the node retries")
        return ClusterConfigError(
            f"JetStream refused to create the KV bucket {self.bucket!r} with {replicas} "
            f"replica(s): {exc.description}")

    async def check(self) -> int:
        """The bucket's replica count; UnknownClusterError if the bucket is missing,
        ClusterConfigError if it belongs to another cluster or to something else."""
        js = self.nc.jetstream(timeout=self.timeout)
        async with self._jetstream(f"looking up the KV bucket {self.bucket!r}"):
            try:
                info = await js.stream_info(self.stream)
            except nats.js.errors.NotFoundError:
                raise UnknownClusterError(self.cluster, self.bucket) from None
        meta = info.config.metadata or {}
        if meta.get(OWNER_NAMESPACE) != self.cluster or meta.get(OWNER_ROLE) != ROLE:
            raise ClusterConfigError(
                f"KV bucket {self.bucket!r} belongs to {meta.get(OWNER_ROLE)!r} "
                f"{meta.get(OWNER_NAMESPACE)!r}, not to cluster {self.cluster!r}: two names "
                f"map to the same bucket after sanitizing (spaces, dots, * and > become _); "
                f"choose a cluster name that differs"
            )
        return info.config.num_replicas or 1

    @asynccontextmanager
    async def _jetstream(self, what: str) -> AsyncIterator[None]:
        try:
            async with reaching(what):
                yield
        except ClusterUnavailableError as exc:
            if isinstance(exc.__cause__, nats.errors.NoRespondersError
                          | nats.js.errors.ServiceUnavailableError) and await self._js_off():
                raise ClusterConfigError(
                    f"{what}: the server has no JetStream; the cluster keeps its state in a "
                    f"JetStream KV bucket: start nats-server with JetStream on (-js)"
                ) from exc
            raise

    async def _js_off(self) -> bool:
        # nats-py reports both "nobody serves the JetStream API" (JetStream off) and "the
        # API answered 503" (on, but e.g. a new server cluster still electing) alike.
        try:
            await self.nc.request(f"{jsapi.API}.INFO", b"", timeout=self.timeout)
        except nats.errors.NoRespondersError:
            return True
        except jsapi.TRANSPORT_ERRORS:
            return False
        return False

    async def read(self, key: str) -> tuple[Entry | None, int]:
        """The key's live entry (None when absent, deleted or expired) and its last
        revision, deletions included: the revision a compare-and-swap write must expect."""
        async with reaching(f"reading {key!r} of cluster {self.cluster!r}"):
            message = await jsapi.direct_get_last(
                self.nc, self.stream, self.subject(key), self.timeout)
        if message is None:
            return None, 0
        return _entry(key, message), int((message.headers or {})["Nats-Sequence"])

    async def scan(self, prefix: str) -> list[Entry]:
        """The live entries under ``prefix.`` in one batched direct get."""
        start = len(self.subject(""))
        request = json.dumps({"multi_last": [f"{self.subject(prefix)}.>"],
                              "batch": 10_000}).encode()

        async with reaching(f"listing {prefix!r} of cluster {self.cluster!r}"):
            # asked again when slow, for a frozen replica: see jsapi.asked_again
            _, messages = await jsapi.direct_batch(self.nc, self.stream, request, self.timeout)
        entries = (_entry((message.headers or {})["Nats-Subject"][start:], message)
                   for message in messages)
        return [entry for entry in entries if entry is not None]

    async def write(self, key: str, value: bytes, expect: int, ttl: float | None = None) -> int:
        """Write if the key's last revision is ``expect`` (0: never written or expired);
        returns the new revision. ``ttl`` makes the server drop the value after that many
        seconds (rounded up to whole seconds, at least 1) unless it is written again."""
        headers = {jsapi.EXPECTED_SEQUENCE: str(expect)}
        if ttl is not None:
            headers["Nats-TTL"] = _ttl(ttl)
        return await self._publish(key, value, headers)

    async def delete(self, key: str, expect: int) -> None:
        """Delete if the key's last revision is ``expect``; the marker goes after
        ``deleted_ttl`` (a write expecting its revision then fails and reads again)."""
        headers = {jsapi.EXPECTED_SEQUENCE: str(expect), KV_OPERATION: "DEL",
                   "Nats-TTL": _ttl(self.deleted_ttl)}
        await self._publish(key, b"", headers)

    async def _publish(self, key: str, value: bytes, headers: dict[str, str]) -> int:
        message = jsapi.Outgoing(self.subject(key), value, headers)
        async with reaching(f"writing {key!r} of cluster {self.cluster!r}"):
            try:
                ack = await jsapi.publish(self.nc, message, self.timeout)
            except jsapi.PublishRejected as exc:
                if exc.err_code in (jsapi.ERR_WRONG_LAST_SEQUENCE, 10164):
                    raise CasFailed(key) from exc
                raise ClusterUnavailableError(
                    f"writing {key!r} of cluster {self.cluster!r}: {exc}") from exc
            except nats.errors.MaxPayloadError as exc:
                # ClusterManager refuses a shard_count whose table cannot fit; a server
                # restarted with a smaller max_payload since can still get here.
                raise ClusterConfigError(
                    f"writing {key!r} of cluster {self.cluster!r}: {len(value)} bytes is "
                    f"over the server's max_payload ({self.nc.max_payload}); raise "
                    f"max_payload in the server's configuration") from exc
        return ack.seq

    async def nudge(self, what: str) -> None:
        # Best effort: peers also re-read on their own schedule.
        with suppress(nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError,
                      nats.errors.OutboundBufferLimitError):
            await self.nc.publish(nudge_subject(self.cluster), what.encode())


def _entry(key: str, message: Msg) -> Entry | None:
    headers = message.headers or {}
    if headers.get(KV_OPERATION) in ("DEL", "PURGE") or "Nats-Marker-Reason" in headers:
        return None
    return Entry(key, message.data, int(headers["Nats-Sequence"]),
                 _stamp(headers.get("Nats-Time-Stamp")))


def _stamp(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None  # RFC 3339, nanoseconds cut
    except ValueError:
        return None
