"""ShardManager: actor id -> shard by the stable hash; shard -> node by the leader's table.

Routing and placement stay apart: ``shard_of`` is pure arithmetic every process agrees
on, ``owner_of`` reads the latest shard table. The table lives under the ``shards`` key;
only the leader writes it, by compare-and-swap on the key's revision, with a version one
greater than the table it replaces and its own epoch. Every node polls it (and re-reads
on a nudge) and adopts a table only if its ``(epoch, version)`` is greater than the one it
holds, so a stale leader's table is ignored; a leader that finds a table of a newer
epoch stops writing.

A node's shards are only its own while its membership lease holds (see discovery.py):
once it cannot heartbeat it owns nothing, before anyone else reassigns its shards.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

import nats.errors
from pydantic import ValidationError

from aether.cancelling import raise_if_cancelled
from aether.cluster.discovery import NodeDiscovery
from aether.cluster.errors import (
    ClusterConfigError,
    ClusterError,
    ShardCountMismatchError,
    UnknownClusterError,
)
from aether.cluster.hashring import ConsistentHashRing, stable_hash
from aether.cluster.kv import CasFailed, ClusterBucket
from aether.cluster.leader import LeaderElection
from aether.cluster.placement import place
from aether.cluster.types import ClusterSettings, Listeners, ShardChange, ShardTable, Tenure
from aether.loops import finish, nap

log = logging.getLogger("aether.cluster")

TABLE_KEY = "shards"
SETTINGS_KEY = "settings"


def shard_for(actor_id: str, shard_count: int) -> int:
    """``stable_hash(actor_id) % shard_count``: the same in every process."""
    return stable_hash(actor_id) % shard_count


class ShardManager:
    def __init__(self, bucket: ClusterBucket, node_id: str, shard_count: int,
                 discovery: NodeDiscovery, election: LeaderElection, interval: float,
                 vnodes: int, replicas: int = 1) -> None:
        if shard_count < 1:
            raise ValueError(f"shard_count must be at least 1, got {shard_count}")
        self.bucket = bucket
        self.node_id = node_id
        self.shard_count = shard_count
        self.discovery = discovery
        self.election = election
        self.interval = interval
        self.vnodes = vnodes
        self.replicas = replicas  # of the bucket, should it have to be created again
        self.founded = ""  # the founding (ClusterSettings.founded) this node's view is of
        self._refounded = False  # this node saw the bucket created again
        self.listeners: Listeners[ShardChange] = Listeners([])
        self.table: ShardTable | None = None
        self._revision = 0
        self._stored_version = 0
        self._stored_current = True
        self._owned: frozenset[int] = frozenset()
        self._since: dict[int, Tenure] = {}  # owned shard -> the tenure it was gained in
        self._changes = 0  # shard changes reported: the last tenure
        # shard -> its owner in the table this node held before the one that moved it
        # (None: unowned there), for the shards this node has seen move; all of them None
        # when its first table was the cluster's first (the key was empty when it looked).
        self._before: dict[int, str | None] = {}
        self._founding = False
        # A break in this node's view: its lease lapsed (discovery.lapses moved on) or it
        # adopted a table that skips versions. Either way its shards may have been served
        # elsewhere meanwhile, so it lets go of them all and takes them back from a table
        # read after the lapse, with the release handshake, starting from the store.
        self._lapses = 0  # discovery.lapses when this manager last let go for a lapse
        self._read_lapses = 0  # discovery.lapses when the last table read began
        self._skipped = False
        self._ring = ConsistentHashRing(vnodes=vnodes)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    # -- queries ------------------------------------------------------------------

    def shard_of(self, actor_id: str) -> int:
        return shard_for(actor_id, self.shard_count)

    def owner_of(self, actor_id: str) -> str | None:
        return None if self.table is None else self.table.owner(self.shard_of(actor_id))

    def my_shards(self) -> frozenset[int]:
        if not self.discovery.alive() or self.discovery.lapses != self._lapses:
            return frozenset()  # a lapse not yet let go of (see _report): nothing is ours
        return self._owned

    def owns(self, shard: int, tenure: Tenure | None = None) -> bool:
        """True if this node owns ``shard`` right now and, when ``tenure`` is given, has
        owned it without a break since the ShardChange of that tenure gave it the shard."""
        if tenure is not None and not isinstance(tenure, Tenure):
            raise TypeError(f"owns() takes a ShardChange's tenure, not {tenure!r}: a table "
                            f"version says nothing of breaks (see docs/cluster.md)")
        if shard not in self.my_shards():
            return False
        return tenure is None or self._since.get(shard) == tenure

    @property
    def table_version(self) -> int:
        return 0 if self.table is None else self.table.version

    def holder_gone(self, shard: int) -> bool:
        """True when nobody can still be serving ``shard`` but this node: the node that
        owned it in the table before the one that moved it is not a live member (or was
        this node, or nobody). A node whose membership lapsed refuses commands, so a release
        request nobody answers need not be asked again for it. False when that owner is
        alive or unknown (a shard that moved before this node read its first table, unless
        that table was the cluster's first)."""
        if shard not in self._before:
            return False
        before = self._before[shard]
        return before is None or before == self.node_id or before not in {
            member.node_id for member in self.discovery.members()}

    # -- lifecycle ----------------------------------------------------------------

    async def check_settings(self) -> None:
        """Found the cluster with our shard count, or check ours against it; its founding
        is this node's from now on."""
        self.founded = (await self._settings()).founded

    async def _settings(self) -> ClusterSettings:
        while True:
            entry, revision = await self.bucket.read(SETTINGS_KEY)
            if entry is None:
                wanted = await self._founding_settings()
                try:
                    await self.bucket.write(SETTINGS_KEY, wanted.model_dump_json().encode(),
                                            expect=revision)
                    return wanted
                except CasFailed:
                    continue  # another node founded it just now: check against theirs
            try:
                have = ClusterSettings.model_validate_json(entry.value)
            except ValidationError:
                raise ClusterConfigError(
                    f"cluster {self.bucket.cluster!r}: the settings in its KV bucket "
                    f"{self.bucket.bucket!r} are not Aether's (something else wrote "
                    f"{entry.value[:60]!r}): delete the bucket's stream (nats stream rm "
                    f"{self.bucket.stream}) to found the cluster again, or use another "
                    f"cluster name") from None
            if have.shard_count != self.shard_count:
                raise ShardCountMismatchError(self.bucket.cluster, have.shard_count,
                                              self.shard_count)
            return have

    async def start(self) -> None:
        await self._step()
        self._task = asyncio.create_task(self._run(), name=f"shards-{self.node_id}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        await finish(self._task, grace=2 * self.bucket.timeout)
        self._task = None
        await self._report(stopping=True)

    def wake(self) -> None:
        self._wake.set()

    # -- the loop -----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await nap(self._wake, self.interval)
            if self._stopping:
                return
            try:
                await self._step()
            except ClusterError as exc:
                log.warning("node %s: %s", self.node_id, exc)
                if isinstance(exc.__cause__, nats.errors.NoRespondersError):
                    await self._recreate_if_gone()
            except Exception:  # a bug must not silence the loop: that would fail the node
                log.exception("node %s: unexpected error in the cluster loop", self.node_id)
            raise_if_cancelled()
            await self._report()  # shards lapse with the membership lease, NATS or not

    async def _step(self) -> None:
        await self._read()
        # A leader whose own membership lapsed has a view it cannot trust (it may be the
        # one cut off): it places nothing until it is a member again.
        if self.election.is_leader() and self.discovery.alive():
            await self._place()
        await self._report()

    async def _founding_settings(self) -> ClusterSettings:
        """The settings to write when there are none: a new founding, unless the bucket
        still holds a table (only the settings key was deleted), whose founding the
        running nodes keep: a new one would part this node from them."""
        founded = secrets.token_hex(8)
        entry, revision = await self.bucket.read(TABLE_KEY)
        table = self._valid(entry.value, revision) if entry is not None else None
        if table is not None:
            founded = table.founded
        return ClusterSettings(shard_count=self.shard_count, founded=founded)

    async def _recreate_if_gone(self) -> None:
        """Nobody answers for the bucket: if its stream is gone (deleted, or a server
        restarted without its store), create it again, as a node starting would. The next
        read then finds the table gone and founds the cluster anew (_check_founding)."""
        try:
            await self.bucket.check()
            return  # there: its replicas are electing a leader, or the server is busy
        except UnknownClusterError:
            pass
        except ClusterError:
            return  # unknown: the next round asks again
        log.warning("cluster %r: its KV bucket %r is gone (deleted, or a server restarted "
                    "without its store); node %s creates it again", self.bucket.cluster,
                    self.bucket.bucket, self.node_id)
        try:
            await self.bucket.ensure(self.replicas)
        except ClusterError as exc:
            log.warning("node %s: %s", self.node_id, exc)

    async def _read(self) -> None:
        lapses = self.discovery.lapses
        entry, revision = await self.bucket.read(TABLE_KEY)
        self._read_lapses = lapses
        self._revision = revision
        table = self._valid(entry.value, revision) if entry is not None else None
        if (table is not None and table.founded != self.founded) or (
                entry is None and self.table is not None):
            # Not a table of our founding, or ours is gone: was the bucket created again?
            await self._check_founding()
            if table is not None and table.founded != self.founded:
                table = None  # a stale leader's, of an older founding: never adopted
        # Only a node that saw the cluster's first table knows that nobody held a shard
        # before it; after a new founding, old owners may still be serving.
        self._founding = self._founding or (
            entry is None and self.table is None and not self._refounded)
        # The stored value is not the table we hold (stale, foreign or unreadable): the
        # leader replaces it, so nodes starting now do not pick it up. (Past a stale
        # table's version; one of another founding numbers its versions apart.)
        self._stored_version = table.version if table is not None else 0
        self._stored_current = entry is None or table == self.table
        if table is not None and (self.table is None or (table.epoch, table.version) > (
                self.table.epoch, self.table.version)):
            self._adopt(table)
            self._stored_current = True

    async def _check_founding(self) -> None:
        settings = await self._settings()  # founds the cluster again when the bucket is new
        if settings.founded == self.founded:
            return
        log.warning("cluster %r: its KV bucket was created again (founding %r, was %r): "
                    "node %s lets go of its shards and takes them back from the new table",
                    self.bucket.cluster, settings.founded, self.founded, self.node_id)
        self.founded = settings.founded
        # Epochs and table versions start again from 1 in the new bucket: what this node
        # held is no measure of what is newer. And others may have served its shards
        # meanwhile: a break, as after a lapse (see _report).
        self.table = None
        self._before.clear()
        self._skipped = True
        self._refounded = True
        self._founding = False  # who held what before the new founding's table is unknown
        await self.election.refound()

    def _adopt(self, table: ShardTable) -> None:
        if self.table is not None and table.version > self.table.version + 1:
            # Tables are written one version at a time: one skipped may have moved this
            # node's shards away and back (only the skipped one says), and who held what
            # before this table is unknown now.
            self._skipped = True
            self._before.clear()
        else:
            if self.table is not None:
                previous = self.table.owner_list()
            elif self._founding:
                previous = [None] * self.shard_count
            else:  # joined a running cluster: who had what before this table is unknown
                previous = table.owner_list()
            for shard, (before, after) in enumerate(zip(previous, table.owner_list(),
                                                        strict=True)):
                if before != after:
                    self._before[shard] = before
        self.table = table

    def _valid(self, value: bytes, revision: int) -> ShardTable | None:
        try:
            table = ShardTable.model_validate_json(value)
        except ValidationError:
            log.error("cluster %r: unreadable shard table at revision %d ignored",
                      self.bucket.cluster, revision)
            return None
        if len(table.owners) != self.shard_count or any(
                not -1 <= i < len(table.nodes) for i in table.owners):
            log.error("cluster %r: shard table version %d does not fit %d shards; ignored",
                      self.bucket.cluster, table.version, self.shard_count)
            return None
        return table

    async def _place(self) -> None:
        epoch = self.election.epoch
        current = self.table
        if current is not None and current.epoch > epoch:
            return  # a newer leader has written: we are stale, whatever our lease says
        nodes = [m.node_id for m in self.discovery.members()]
        if self._ring.nodes != frozenset(nodes):
            self._ring = ConsistentHashRing(nodes, vnodes=self.vnodes)
        previous = current.owner_list() if current else [None] * self.shard_count
        owners = place(previous, nodes, self._ring)
        if (current is not None and owners == previous and current.epoch == epoch
                and self._stored_current):
            return
        version = max(current.version if current else 0, self._stored_version) + 1
        table = ShardTable.build(version=version, epoch=epoch, leader=self.node_id,
                                 owners=owners, founded=self.founded)
        if not self.election.is_leader():
            return  # checked again right before writing: the lease may have run out
        try:
            self._revision = await self.bucket.write(
                TABLE_KEY, table.model_dump_json().encode(), expect=self._revision)
        except CasFailed:
            return  # the table moved on; read it next round
        self._adopt(table)
        log.info("cluster %r: shard table version %d (epoch %d) on %d nodes",
                 self.bucket.cluster, table.version, epoch, len(table.nodes))
        await self.bucket.nudge(TABLE_KEY)

    async def _report(self, stopping: bool = False) -> None:
        """Fire on_shards when this node's shards differ from those last reported."""
        lapses = self.discovery.lapses
        lapsed = lapses != self._lapses
        if lapsed:
            self._before.clear()  # others may have held anything meanwhile: unknown
        broken = lapsed or self._skipped
        self._lapses, self._skipped = lapses, False
        owned: frozenset[int] = frozenset()
        if (self.table is not None and self.discovery.alive() and not stopping
                and not broken and self._read_lapses == lapses):
            owned = self.table.shards_of(self.node_id)
        if owned == self._owned:
            return
        version = self.table_version
        epoch = 0 if self.table is None else self.table.epoch
        gained, lost = owned - self._owned, self._owned - owned
        self._changes += 1
        tenure = Tenure(self._changes)
        for shard in lost:
            self._since.pop(shard, None)
        for shard in gained:
            self._since[shard] = tenure
        self._owned = owned
        await self.listeners.fire(ShardChange(version, epoch, frozenset(gained),
                                              frozenset(lost), owned, tenure))
