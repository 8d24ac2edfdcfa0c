"""LeaderElection: a lease on the ``leader`` key (the algorithm is aether/lease.py's).

- A candidate takes a free lease (no key, or a deleted one) by writing it with the
  revision it read as the expected last revision: one writer wins.
- The KV revision of that winning write is the leader's *epoch* (a term): revisions only
  grow, so every new leader's epoch is greater than all before it. Renewals carry it.
- The leader renews every ``renew_interval`` by compare-and-swap on its own last
  revision. It trusts its lease until ``SAFETY x lease_ttl`` after *sending* its last
  acknowledged renewal, and steps down by itself when that passes without a renewal.
- A candidate that sees the same lease revision for a whole ``lease_ttl`` by its own
  clock takes it over (CAS on that revision). It first saw that revision after the
  leader sent it, so the takeover comes after the old leader's own deadline: two
  leaders are never valid at once, without synchronised clocks. A paused leader
  (SIGSTOP, a blocked loop) finds its lease expired on resume and its next renewal
  refused, so it never acts with its old epoch.
- A graceful stop deletes the key (CAS), and a candidate takes over at once; so does a
  leader that is no longer a live member (a newer process took its node id, or its own
  heartbeats lapsed): it could not place shards, and renewing would keep every live member
  from leading. Such a node does not campaign either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import ValidationError

from aether.cluster.kv import CasFailed, ClusterBucket
from aether.cluster.types import LeadershipChange, LeaseRecord, Listeners, Member
from aether.lease import SAFETY, Lease, LeaseRefused, StoredLease

__all__ = ["KEY", "SAFETY", "LeaderElection"]

log = logging.getLogger("aether.cluster")

KEY = "leader"


class _LeaderKey:
    """The cluster's bucket as lease keys (its CasFailed is the lease's LeaseRefused)."""

    def __init__(self, bucket: ClusterBucket) -> None:
        self.bucket = bucket

    async def read_lease(self, key: str) -> tuple[StoredLease | None, int]:
        entry, revision = await self.bucket.read(key)
        return (None if entry is None else StoredLease(entry.value, entry.revision)), revision

    async def write_lease(self, key: str, value: bytes, expect: int) -> int:
        try:
            return await self.bucket.write(key, value, expect=expect)
        except CasFailed:
            raise LeaseRefused(key) from None

    async def delete_lease(self, key: str, expect: int) -> None:
        try:
            await self.bucket.delete(key, expect=expect)
        except CasFailed:
            raise LeaseRefused(key) from None


class LeaderElection(Lease):
    def __init__(self, bucket: ClusterBucket, me: Member, lease_ttl: float,
                 renew_interval: float, may_lead: Callable[[], bool] = lambda: True) -> None:
        super().__init__(_LeaderKey(bucket), KEY, lease_ttl, renew_interval,
                         grace=2 * bucket.timeout, label=f"node {me.node_id}", logger=log)
        self.bucket = bucket
        self.me = me
        # Whether this node is a live member (NodeDiscovery.alive): a leader that is not
        # cannot place shards, so it resigns and does not campaign.
        self.may_lead = may_lead
        self.listeners: Listeners[LeadershipChange] = Listeners([])
        self.leader_id: str | None = None
        """The leader this node last saw (itself included); None when there is none."""

    def is_leader(self) -> bool:
        return self.held()

    def _record(self, acquiring: bool) -> bytes:
        # The acquiring write carries epoch 0: its own revision becomes the epoch.
        record = LeaseRecord(node_id=self.me.node_id, incarnation=self.me.incarnation,
                             epoch=0 if acquiring else self.epoch, lease_ttl=self.lease_ttl)
        return record.model_dump_json().encode()

    def _seen(self, entry: StoredLease | None) -> None:
        if entry is None:
            self.leader_id = None
            return
        record = _parse(entry.value)
        if record is not None:
            self.leader_id = record.node_id
            self.epoch = max(self.epoch, record.epoch or entry.revision)

    def _patience(self, entry: StoredLease) -> float:
        record = _parse(entry.value)
        return record.lease_ttl if record is not None else self.lease_ttl

    def _unfit(self) -> str | None:
        # Replaced by a newer process with this node id, or its membership lapsed:
        # renewing would keep the lease (and placement) from the live members for good.
        return None if self.may_lead() else "this node is no longer a live member"

    async def _gained(self, revision: int) -> None:
        self.leader_id = self.me.node_id
        log.info("node %s: elected leader, epoch %d", self.me.node_id, revision)
        await self.bucket.nudge(KEY)
        await self.listeners.fire(LeadershipChange(self.me.node_id, True, revision))

    async def _released(self) -> None:
        await self.bucket.nudge(KEY)

    async def _lost(self, why: str) -> None:
        if self.leader_id == self.me.node_id:
            self.leader_id = None
        log.info("node %s: no longer leader of epoch %d (%s)", self.me.node_id, self.epoch, why)
        await self.listeners.fire(LeadershipChange(self.me.node_id, False, self.epoch))

    async def refound(self) -> None:
        """The cluster's bucket was created again: its epochs start again from 1, so forget
        the greatest one seen, and lead no more if the lease was in the old bucket. A lease
        this node took in the new one (the first campaign there may come before the shard
        loop sees the new founding) is kept: given up without its key deleted, nobody
        would lead for a whole lease_ttl."""
        if self._holding:
            entry, _ = await self.bucket.read(KEY)
            record = _parse(entry.value) if entry is not None else None
            if (entry is not None and entry.revision == self._revision and record is not None
                    and (record.node_id, record.incarnation) == (
                        self.me.node_id, self.me.incarnation)):
                return  # its epoch is that lease's: _acquire set it
        await self._lose("the cluster's KV bucket was created again")
        self.epoch = 0
        self.leader_id = None
        self._observed = (0, 0.0)


def _parse(value: bytes) -> LeaseRecord | None:
    try:
        return LeaseRecord.model_validate_json(value)
    except ValidationError:
        return None

