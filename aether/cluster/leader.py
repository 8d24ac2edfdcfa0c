"""LeaderElection: a lease on the ``leader`` key, taken by compare-and-swap.

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

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from pydantic import ValidationError

from aether.cancelling import raise_if_cancelled
from aether.cluster.errors import ClusterError
from aether.cluster.kv import CasFailed, ClusterBucket, Entry
from aether.cluster.loops import finish, nap
from aether.cluster.types import LeadershipChange, LeaseRecord, Listeners, Member

log = logging.getLogger("aether.cluster")

KEY = "leader"
SAFETY = 0.9


class LeaderElection:
    def __init__(self, bucket: ClusterBucket, me: Member, lease_ttl: float,
                 renew_interval: float, may_lead: Callable[[], bool] = lambda: True) -> None:
        self.bucket = bucket
        self.me = me
        # Whether this node is a live member (NodeDiscovery.alive): a leader that is not
        # cannot place shards, so it resigns and does not campaign.
        self.may_lead = may_lead
        self.lease_ttl = lease_ttl
        self.renew_interval = renew_interval
        self.listeners: Listeners[LeadershipChange] = Listeners([])
        self.leader_id: str | None = None
        """The leader this node last saw (itself included); None when there is none."""
        self.epoch = 0
        """The greatest leader epoch this node has seen (its own while it leads)."""
        self._leading = False
        self._deadline = 0.0
        self._revision = 0
        self._observed: tuple[int, float] = (0, 0.0)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def is_leader(self) -> bool:
        return self._leading and time.monotonic() < self._deadline

    def valid_until(self) -> float:
        """Wall-clock end of this node's lease (0.0 when it does not lead)."""
        if not self._leading:
            return 0.0
        return time.time() + (self._deadline - time.monotonic())

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        await self._step()
        self._task = asyncio.create_task(self._run(), name=f"election-{self.me.node_id}")

    async def stop(self) -> None:
        """Resign: delete the lease so a successor need not wait for it to run out."""
        self._stopping = True
        self._wake.set()
        await finish(self._task, grace=2 * self.bucket.timeout)
        self._task = None
        await self._resign("stopping")

    async def _resign(self, why: str) -> None:
        """Stop leading and, while the lease is still ours, delete it so a successor need
        not wait for it to run out."""
        if self._leading:
            revision, still_valid = self._revision, self.is_leader()
            await self._lose(why)
            if still_valid:
                with contextlib.suppress(CasFailed, ClusterError):
                    await self.bucket.delete(KEY, expect=revision)
                    await self.bucket.nudge(KEY)

    async def _run(self) -> None:
        while True:
            await nap(self._wake, self.renew_interval)
            if self._stopping:
                return
            try:
                await self._step()
            except ClusterError as exc:
                log.warning("node %s: %s", self.me.node_id, exc)
            except Exception:  # a bug must not silence the loop: that would fail the node
                log.exception("node %s: unexpected error in the cluster loop", self.me.node_id)
            raise_if_cancelled()
            if self._leading and time.monotonic() >= self._deadline:
                await self._lose("could not renew the lease in time")

    async def _step(self) -> None:
        if not self.may_lead():
            # Replaced by a newer process with this node id, or its membership lapsed:
            # renewing would keep the lease (and placement) from the live members for good.
            await self._resign("this node is no longer a live member")
        elif self._leading:
            await self._renew()
        else:
            await self._campaign()

    async def _renew(self) -> None:
        if time.monotonic() >= self._deadline:
            await self._lose("lease expired")
            return
        record = LeaseRecord(node_id=self.me.node_id, incarnation=self.me.incarnation,
                             epoch=self.epoch, lease_ttl=self.lease_ttl)
        sent = time.monotonic()
        try:
            self._revision = await self.bucket.write(
                KEY, record.model_dump_json().encode(), expect=self._revision)
        except CasFailed:
            await self._lose("another node took the lease")
            return
        self._deadline = sent + self.lease_ttl * SAFETY

    async def _campaign(self) -> None:
        entry, revision = await self.bucket.read(KEY)
        now = time.monotonic()
        if entry is not None:
            record = _parse(entry)
            if record is not None:
                self.leader_id = record.node_id
                self.epoch = max(self.epoch, record.epoch or entry.revision)
            if entry.revision != self._observed[0]:
                self._observed = (entry.revision, now)
                return
            ttl = record.lease_ttl if record is not None else self.lease_ttl
            if now - self._observed[1] < ttl:
                return
        else:
            self.leader_id = None
        await self._acquire(revision)

    async def _acquire(self, expect: int) -> None:
        record = LeaseRecord(node_id=self.me.node_id, incarnation=self.me.incarnation,
                             lease_ttl=self.lease_ttl)
        sent = time.monotonic()
        try:
            revision = await self.bucket.write(KEY, record.model_dump_json().encode(),
                                               expect=expect)
        except CasFailed:
            return  # someone else won; we will read their lease next time
        self._leading, self._revision = True, revision
        self._deadline = sent + self.lease_ttl * SAFETY
        self.epoch, self.leader_id = revision, self.me.node_id
        log.info("node %s: elected leader, epoch %d", self.me.node_id, revision)
        await self.bucket.nudge(KEY)
        await self.listeners.fire(LeadershipChange(self.me.node_id, True, revision))

    async def refound(self) -> None:
        """The cluster's bucket was created again: its epochs start again from 1, so forget
        the greatest one seen, and lead no more if the lease was in the old bucket. A lease
        this node took in the new one (the first campaign there may come before the shard
        loop sees the new founding) is kept: given up without its key deleted, nobody
        would lead for a whole lease_ttl."""
        if self._leading:
            entry, _ = await self.bucket.read(KEY)
            record = _parse(entry) if entry is not None else None
            if (entry is not None and entry.revision == self._revision and record is not None
                    and (record.node_id, record.incarnation) == (
                        self.me.node_id, self.me.incarnation)):
                return  # its epoch is that lease's: _acquire set it
        await self._lose("the cluster's KV bucket was created again")
        self.epoch = 0
        self.leader_id = None
        self._observed = (0, 0.0)

    async def _lose(self, why: str) -> None:
        if not self._leading:
            return
        self._leading = False
        self._observed = (0, 0.0)
        if self.leader_id == self.me.node_id:
            self.leader_id = None
        log.info("node %s: no longer leader of epoch %d (%s)", self.me.node_id, self.epoch, why)
        await self.listeners.fire(LeadershipChange(self.me.node_id, False, self.epoch))


def _parse(entry: Entry) -> LeaseRecord | None:
    try:
        return LeaseRecord.model_validate_json(entry.value)
    except ValidationError:
        return None
