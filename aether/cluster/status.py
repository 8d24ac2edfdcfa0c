"""What an operator sees of a cluster: its settings, members, leader and shard table,
read straight from the cluster's KV bucket (no node needs to be asked)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from nats.aio.client import Client
from pydantic import ValidationError

from aether.cluster.discovery import PREFIX
from aether.cluster.kv import ClusterBucket, Entry
from aether.cluster.leader import KEY as LEADER_KEY
from aether.cluster.shard import SETTINGS_KEY, TABLE_KEY
from aether.cluster.types import ClusterSettings, LeaseRecord, Member, ShardTable


@dataclass(frozen=True)
class ClusterStatus:
    cluster: str
    bucket: str
    settings: ClusterSettings | None
    members: list[Member]
    """Nodes whose heartbeat has not expired on the server."""
    leader: LeaseRecord | None
    epoch: int
    table: ShardTable | None
    leader_age: float | None = None
    """Seconds since the leader's lease was last written, by this host's clock: past its
    ``lease_ttl`` nobody renews it (the leader is gone and no other took over yet, or the
    bucket cannot be written, e.g. its servers lost their quorum)."""

    def leader_live(self) -> bool:
        return self.leader is not None and (
            self.leader_age is None or self.leader_age <= self.leader.lease_ttl)

    def shards_per_node(self) -> dict[str, int]:
        if self.table is None:
            return {}
        counts = Counter(self.table.owner_list())
        return {node: counts[node] for node in sorted({*self.table.nodes,
                                                         *(m.node_id for m in self.members)})}

    def render(self) -> str:
        lines = [f"cluster   {self.cluster!r} (KV bucket {self.bucket})"]
        if self.settings is not None:
            lines.append(f"shards    {self.settings.shard_count} "
                         f"(hash {self.settings.hash}, format {self.settings.format})")
        if self.leader is None:
            lines.append("leader    none")
        elif not self.leader_live():
            lines.append(f"leader    none live: the lease of {self.leader.node_id!r} (epoch "
                         f"{self.epoch}, {self.leader.lease_ttl:g}s) was last renewed "
                         f"{self.leader_age:.0f}s ago")
        else:
            lines.append(f"leader    {self.leader.node_id!r} epoch {self.epoch} "
                         f"(lease {self.leader.lease_ttl:g}s)")
        if self.table is None:
            lines.append("table     none yet")
        else:
            unowned = self.table.owners.count(-1)
            lines.append(f"table     version {self.table.version}, epoch {self.table.epoch}, "
                         f"written by {self.table.leader!r}, {unowned} shards unowned")
        lines.append(f"members   {len(self.members)}")
        counts = self.shards_per_node()
        live = {m.node_id: m for m in self.members}
        for node in sorted({*live, *counts}):
            member = live.get(node)
            state = f"incarnation {member.incarnation}" if member else "gone (still in table)"
            lines.append(f"  {node!r:<30} {counts.get(node, 0):>6} shards  {state}")
        return "\n".join(lines)


async def read_status(nc: Client, cluster: str, timeout: float = 5.0) -> ClusterStatus:
    """Read a cluster's state; UnknownClusterError if it has never been started here."""
    bucket = ClusterBucket(nc, cluster, timeout)
    await bucket.check()
    settings_entry, _ = await bucket.read(SETTINGS_KEY)
    leader_entry, _ = await bucket.read(LEADER_KEY)
    table_entry, _ = await bucket.read(TABLE_KEY)
    members = [m for m in (_parse(Member, e) for e in await bucket.scan(PREFIX)) if m]
    leader = _parse(LeaseRecord, leader_entry)
    epoch, age = 0, None
    if leader is not None and leader_entry is not None:
        epoch = leader.epoch or leader_entry.revision
        if leader_entry.written is not None:
            age = max(0.0, (datetime.now(UTC) - leader_entry.written).total_seconds())
    return ClusterStatus(
        cluster=cluster, bucket=bucket.bucket, settings=_parse(ClusterSettings, settings_entry),
        members=sorted(members, key=lambda m: m.node_id), leader=leader, epoch=epoch,
        table=_parse(ShardTable, table_entry), leader_age=age,
    )


R = TypeVar("R", Member, LeaseRecord, ClusterSettings, ShardTable)


def _parse(kind: type[R], entry: Entry | None) -> R | None:
    if entry is None:
        return None
    try:
        return kind.model_validate_json(entry.value)
    except ValidationError:
        return None
