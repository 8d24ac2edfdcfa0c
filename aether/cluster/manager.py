"""ClusterManager: discovery, election and shard placement of one node, composed.

All state lives in one JetStream KV bucket per cluster (see kv.py and docs/cluster.md);
a core-NATS subject carries nudges so peers re-read at once instead of at their next
poll. Nothing else is needed: NATS is the only infrastructure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from aether.cancelling import raise_if_cancelled
from aether.cluster.discovery import NodeDiscovery
from aether.cluster.errors import ClusterConfigError, ClusterUnavailableError
from aether.cluster.hashring import DEFAULT_VNODES
from aether.cluster.kv import ClusterBucket, nudge_subject
from aether.cluster.leader import LeaderElection
from aether.cluster.shard import ShardManager
from aether.cluster.types import (
    Callback,
    LeadershipChange,
    Member,
    MembershipChange,
    ShardChange,
    ShardTable,
    Tenure,
)
from aether.limits import utf8_size

log = logging.getLogger("aether.cluster")

MAX_NODE_ID = 128
LEASE_TTL = 5.0
"""The default lease_ttl of a cluster whose bucket has one replica."""
REPLICATED_LEASE_TTL = 15.0
"""The default lease_ttl with replicas > 1: a node's membership lease must outlast the
election a replicated bucket holds when the server leading it is lost, during which no
heartbeat is acknowledged. Measured on nats-server 2.15 (3 servers, the leader's server
SIGKILLed): 3.3 to 8.0 s without writes; at lease_ttl 5 every node's lease lapsed."""
ELECTION_OUTAGE = 9.0
"""Seconds without KV writes a node's lease should survive on a replicated bucket (the
longest measured election, rounded up; see REPLICATED_LEASE_TTL)."""


def largest_table(shard_count: int) -> int:
    """Bytes the shard table of ``shard_count`` shards takes at its largest, as written:
    every shard on a node of its own, per shard a node id of up to 2 x MAX_NODE_ID bytes in
    JSON (each `\\` or `"` escapes to two) with its quotes and comma, and an owner index as
    wide as shard_count - 1 with its comma; 1 KiB more covers the rest (two 20-digit
    numbers, the leader's id, field names, headers)."""
    return shard_count * (2 * MAX_NODE_ID + 4 + len(str(shard_count - 1))) + 1024


def _most_shards(max_payload: int) -> int:
    """The largest shard count whose largest table fits ``max_payload`` (0: none)."""
    low, high = 0, max_payload  # a shard takes more than a byte: high never fits
    while low < high:  # largest_table grows with the count: bisect it
        middle = (low + high + 1) // 2
        if largest_table(middle) <= max_payload:
            low = middle
        else:
            high = middle - 1
    return low


@dataclass(frozen=True)
class Timing:
    """How often a node talks to NATS and how long silence lasts before it counts as failure."""

    lease_ttl: float
    heartbeat_interval: float
    member_timeout: float
    request_timeout: float

    @classmethod
    def derive(cls, lease_ttl: float, heartbeat_interval: float | None,
               member_timeout: float | None, request_timeout: float | None) -> Timing:
        if lease_ttl <= 0:
            raise ClusterConfigError(f"lease_ttl must be positive, got {lease_ttl}")
        timing = cls(
            lease_ttl=lease_ttl,
            heartbeat_interval=heartbeat_interval or lease_ttl / 5,
            member_timeout=member_timeout or lease_ttl,
            request_timeout=request_timeout or min(2.0, lease_ttl / 3),
        )
        if not 0 < timing.heartbeat_interval <= timing.member_timeout / 2:
            raise ClusterConfigError(
                f"heartbeat_interval {timing.heartbeat_interval}s must be positive and at most "
                f"half of member_timeout {timing.member_timeout}s, or one late heartbeat "
                f"makes a healthy node look dead"
            )
        return timing


class ClusterManager:
    """One node of a cluster: membership, leadership and the shards it owns.

    ``cluster`` is a namespace (the same concept as a store's or a bus's): any text,
    carried losslessly in keys and subjects. ``shard_count`` is fixed when the first
    node founds the cluster; a node that asks for another one is refused.
    """

    def __init__(self, nc: Client, node_id: str, cluster: str, shard_count: int = 1024,
                 lease_ttl: float | None = None, *, heartbeat_interval: float | None = None,
                 member_timeout: float | None = None, request_timeout: float | None = None,
                 vnodes: int = DEFAULT_VNODES, replicas: int = 1,
                 start_timeout: float = 30.0) -> None:
        if not isinstance(node_id, str) or not node_id or utf8_size(
                node_id, "node id", ClusterConfigError) > MAX_NODE_ID:
            raise ClusterConfigError(
                f"node id {str(node_id)[:40]!r} must be 1 to {MAX_NODE_ID} bytes of UTF-8")
        if not node_id.isprintable():
            # Logged as it is on every node ("node <id>: ..."): a line break would forge
            # log lines, a control character hide them.
            raise ClusterConfigError(
                f"node id {node_id[:40]!r} must be printable text (no line breaks, tabs or "
                f"control characters): use e.g. the host name")
        if shard_count < 1:
            raise ClusterConfigError(f"shard_count must be at least 1, got {shard_count}")
        # The leader writes the shard table as one message, however the shards end up
        # placed: refused here, before the settings fix the count for the cluster's name.
        largest = largest_table(shard_count)
        if largest > nc.max_payload:
            most = _most_shards(nc.max_payload)
            raise ClusterConfigError(
                f"shard_count={shard_count} is too large for this NATS server: the shard "
                f"table, written as one message, can grow to {largest} bytes (every shard on "
                f"a node of its own, node ids of {MAX_NODE_ID} bytes), more than its "
                f"max_payload of {nc.max_payload}; use shard_count <= {most}, or "
                f"raise max_payload in the server's configuration")
        if not 1 <= replicas <= 5:
            raise ClusterConfigError(f"replicas must be 1 to 5, got {replicas}")
        if lease_ttl is None:
            lease_ttl = LEASE_TTL if replicas == 1 else REPLICATED_LEASE_TTL
        self.timing = Timing.derive(lease_ttl, heartbeat_interval, member_timeout,
                                    request_timeout)
        self.nc = nc
        self.node_id = node_id
        self.cluster = cluster
        self.replicas = replicas
        self.start_timeout = start_timeout
        self.bucket = ClusterBucket(nc, cluster, self.timing.request_timeout)
        self.discovery = NodeDiscovery(self.bucket, node_id, self.timing.heartbeat_interval,
                                       self.timing.member_timeout)
        self.election = LeaderElection(self.bucket, self.discovery.me, lease_ttl,
                                       renew_interval=lease_ttl / 4,
                                       may_lead=self.discovery.alive)
        self.shards = ShardManager(self.bucket, node_id, shard_count, self.discovery,
                                   self.election, self.timing.heartbeat_interval, vnodes,
                                   replicas)
        self.discovery.listeners.add(lambda _: self.shards.wake())
        self.election.listeners.add(lambda _: self.shards.wake())
        self._subscription: Subscription | None = None
        self._started = False

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Join the cluster: create or check its bucket and settings, announce this node,
        then campaign and follow the shard table in the background."""
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                replicas = await self.bucket.ensure(self.replicas)
                await self.shards.check_settings()
                break
            except ClusterUnavailableError:
                # A bucket just created at R3 answers once its replicas have elected a
                # leader; a new server cluster once it has a meta leader. A connection
                # closed or being drained never will.
                if time.monotonic() > deadline or self.nc.is_closed or self.nc.is_draining:
                    raise
                raise_if_cancelled()
                await asyncio.sleep(self.timing.heartbeat_interval)
        self._warn_if_short(replicas)
        self._subscription = await self.nc.subscribe(
            nudge_subject(self.cluster), cb=self._nudged)
        await self.discovery.start()
        await self.election.start()
        await self.shards.start()
        self._started = True

    def _warn_if_short(self, replicas: int) -> None:
        timing = self.timing
        # The lease runs out 0.9 x member_timeout after the last acknowledged heartbeat,
        # which went out up to one interval before the bucket's leader was lost.
        lasts = 0.9 * timing.member_timeout - timing.heartbeat_interval
        if replicas > 1 and lasts < ELECTION_OUTAGE:
            log.warning(
                "node %s: the bucket of cluster %r has %d replicas: losing the server that "
                "leads it stops every heartbeat for up to %gs while the others elect a new "
                "leader, longer than this node's lease outlasts one (%.1fs): every node would "
                "let go of its shards meanwhile. Use lease_ttl >= %g (the default with "
                "replicas > 1)", self.node_id, self.cluster, replicas, ELECTION_OUTAGE, lasts,
                REPLICATED_LEASE_TTL)

    async def stop(self) -> None:
        """Leave gracefully: give up shards and leadership, then membership, at once."""
        await self.shards.stop()
        await self.election.stop()
        await self.discovery.stop()
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()
            self._subscription = None
        self._started = False

    async def _nudged(self, message: Msg) -> None:
        what = message.data
        if what == b"members":
            self.discovery.wake()
        elif what == b"leader":
            self.election.wake()
        self.shards.wake()

    # -- queries ------------------------------------------------------------------

    @property
    def me(self) -> Member:
        return self.discovery.me

    def is_leader(self) -> bool:
        return self.election.is_leader()

    @property
    def epoch(self) -> int:
        """The latest leader term this node has seen (its own while it leads)."""
        return self.election.epoch

    @property
    def leader_id(self) -> str | None:
        return self.election.leader_id

    def members(self) -> list[Member]:
        return self.discovery.members()

    def shard_of(self, actor_id: str) -> int:
        return self.shards.shard_of(actor_id)

    def owner_of(self, actor_id: str) -> str | None:
        return self.shards.owner_of(actor_id)

    def my_shards(self) -> frozenset[int]:
        return self.shards.my_shards()

    def owns(self, shard: int, tenure: Tenure | None = None) -> bool:
        """Does this node own ``shard`` right now (and, given the ``tenure`` of the
        ShardChange that handed it over, without a break since)?"""
        return self.shards.owns(shard, tenure)

    @property
    def table(self) -> ShardTable | None:
        return self.shards.table

    @property
    def table_version(self) -> int:
        return self.shards.table_version

    # -- callbacks ----------------------------------------------------------------

    def on_leadership(self, callback: Callback[LeadershipChange]) -> None:
        self.election.listeners.add(callback)

    def on_members(self, callback: Callback[MembershipChange]) -> None:
        self.discovery.listeners.add(callback)

    def on_shards(self, callback: Callback[ShardChange]) -> None:
        self.shards.listeners.add(callback)
