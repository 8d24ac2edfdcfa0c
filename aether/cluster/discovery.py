"""NodeDiscovery: each node heartbeats its key in the cluster bucket and watches the others.

A member is alive while its key exists and its revision changed within ``member_timeout``
as seen by the observer's own clock (no clock synchronisation needed); the key also
carries a server-side TTL of ``member_timeout``, so a dead node's key disappears for
everyone. A graceful stop deletes the key at once.

A node's own view of itself is a lease too: it holds its membership until
``member_timeout`` after sending its last acknowledged heartbeat. Observers declare it
dead no earlier than that, so when a node cannot heartbeat (NATS unreachable, or its
event loop blocked longer than the timeout) it knows it has failed before anyone else
reassigns its shards. A blocked event loop is a node failure by design.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from pydantic import ValidationError

from aether.cancelling import raise_if_cancelled
from aether.cluster.errors import ClusterError, ClusterUnavailableError
from aether.cluster.kv import CasFailed, ClusterBucket, Entry
from aether.cluster.types import Listeners, Member, MembershipChange
from aether.loops import finish, nap
from aether.store.naming import encode_token

log = logging.getLogger("aether.cluster")

PREFIX = "members"
DEAF_AFTER = 2
"""Heartbeats in a row NATS does not answer, on a connection that is up, before the node
reconnects (see NodeDiscovery._reconnect_if_deaf)."""
SAFETY = 0.9
"""A node trusts its own lease for this fraction of its length: slack for clock-rate drift
and for the work done between checking the lease and acting on it."""


class NodeDiscovery:
    def __init__(self, bucket: ClusterBucket, node_id: str, heartbeat_interval: float,
                 member_timeout: float) -> None:
        self.bucket = bucket
        self.me = Member(node_id=node_id, incarnation=time.time_ns() // 1000,
                         started_at=time.time(), member_timeout=member_timeout)
        self.heartbeat_interval = heartbeat_interval
        self.member_timeout = member_timeout
        self.listeners: Listeners[MembershipChange] = Listeners([])
        self._key = f"{PREFIX}.{encode_token(node_id)}"
        self._revision = 0
        self._alive_until = 0.0
        self.lapses = 0
        """How often this node's own lease ran out and was renewed later (it stalled, or could
        not heartbeat): others may have served its shards meanwhile (see ShardManager)."""
        self._superseded = False
        self._unanswered = 0  # heartbeats in a row NATS did not answer
        self._seen: dict[str, tuple[Entry, Member, float]] = {}
        self._members: tuple[Member, ...] = ()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def members(self) -> list[Member]:
        return list(self._members)

    def alive(self) -> bool:
        """True while this node's own membership lease holds."""
        return not self._superseded and time.monotonic() < self._alive_until

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        """Join: the first heartbeat and member scan must succeed."""
        _, revision = await self.bucket.read(self._key)
        self._revision = revision  # a predecessor of ours with this id is replaced
        await self._heartbeat()
        if not self.alive():
            raise ClusterError(f"node {self.me.node_id!r} could not announce itself")
        await self._refresh()
        await self.bucket.nudge(PREFIX)
        self._task = asyncio.create_task(self._run(), name=f"discovery-{self.me.node_id}")

    async def stop(self) -> None:
        """Leave at once: delete our key, so peers need not wait for the timeout."""
        self._stopping = True
        self._wake.set()
        await finish(self._task, grace=2 * self.bucket.timeout)
        self._task = None
        self._alive_until = 0.0
        if not self._superseded and self._revision:
            with contextlib.suppress(CasFailed, ClusterError):
                await self.bucket.delete(self._key, expect=self._revision)
                await self.bucket.nudge(PREFIX)

    async def _run(self) -> None:
        while True:
            await nap(self._wake, self.heartbeat_interval)
            if self._stopping:
                return
            try:
                if not self._superseded:
                    await self._heartbeat()
                await self._refresh()
                self._unanswered = 0
            except ClusterUnavailableError as exc:
                log.warning("node %s: %s", self.me.node_id, exc)
                # Only silence counts: "no responders" (the bucket's stream electing a
                # leader) is the server answering, so this connection reads.
                self._unanswered = self._unanswered + 1 if isinstance(
                    exc.__cause__, TimeoutError) else 0
                if self._unanswered >= DEAF_AFTER:
                    await self._reconnect_if_deaf()
            except ClusterError as exc:
                log.warning("node %s: %s", self.me.node_id, exc)
            except Exception:  # a bug must not silence the loop: that would fail the node
                log.exception("node %s: unexpected error in the cluster loop", self.me.node_id)
            raise_if_cancelled()
            await self._update(time.monotonic())  # silent peers time out even without NATS

    async def _reconnect_if_deaf(self) -> None:
        """NATS answered none of the last heartbeats though the connection is up: it may
        have stopped reading (nats-py's reader stops for good on a message it cannot parse,
        such as a header status line that is not UTF-8, which anyone allowed to publish on
        a shard's subject can send), and would stay deaf until its pings fail, minutes
        later. A new connection costs little next to a node that hears nothing."""
        nc = self.bucket.nc
        self._unanswered = 0
        if nc.is_connected:
            log.warning("node %s: NATS answered none of the last %d heartbeats on a connection "
                        "that is up; reconnecting", self.me.node_id, DEAF_AFTER)
            await nc.force_reconnect()

    async def _heartbeat(self) -> None:
        sent = time.monotonic()
        value = self.me.model_dump_json().encode()
        try:
            self._revision = await self.bucket.write(
                self._key, value, expect=self._revision, ttl=self.member_timeout)
        except CasFailed:
            entry, revision = await self.bucket.read(self._key)
            other = _parse(entry)
            if other is not None and other.incarnation > self.me.incarnation:
                # Another process runs with our node id, started later: it wins.
                log.error("node %s: replaced by a newer process with the same node id "
                          "(incarnation %d); this one stops acting as a member",
                          self.me.node_id, other.incarnation)
                self._superseded = True
                return
            # Our key expired (we were silent too long) or an older process holds it.
            try:
                self._revision = await self.bucket.write(
                    self._key, value, expect=revision, ttl=self.member_timeout)
            except CasFailed:
                return  # raced with the other process: sort it out next heartbeat
        # Counted against the ack, not the send: a stall between the two (the write then
        # finds our key expired) is a lapse too. The local lease ends before the server's
        # TTL, so any expiry of the key shows here.
        if 0 < self._alive_until <= time.monotonic():
            self.lapses += 1
        self._alive_until = sent + self.member_timeout * SAFETY

    async def _refresh(self) -> None:
        entries = await self.bucket.scan(PREFIX)
        now = time.monotonic()
        seen: dict[str, tuple[Entry, Member, float]] = {}
        for entry in entries:
            member = _parse(entry)
            if member is None or f"{PREFIX}.{encode_token(member.node_id)}" != entry.key:
                continue  # not a member record: never trust it
            before = self._seen.get(entry.key)
            first_seen = before[2] if before and before[0].revision == entry.revision else now
            seen[entry.key] = (entry, member, first_seen)
        self._seen = seen
        await self._update(now)

    async def _update(self, now: float) -> None:
        # Each member by the longer of its own timeout and ours: nodes configured with
        # different lease_ttls would otherwise see each other die between heartbeats.
        alive = tuple(sorted(
            (member for _, member, first_seen in self._seen.values()
             if now - first_seen < max(self.member_timeout, member.member_timeout)),
            key=lambda m: m.node_id,
        ))
        if alive == self._members:
            return
        before, self._members = set(self._members), alive
        joined = tuple(m for m in alive if m not in before)
        left = tuple(m for m in before - set(alive))
        await self.listeners.fire(MembershipChange(alive, joined, left))


def _parse(entry: Entry | None) -> Member | None:
    if entry is None:
        return None
    try:
        return Member.model_validate_json(entry.value)
    except ValidationError:
        return None
