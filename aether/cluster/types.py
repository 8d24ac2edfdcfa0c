"""The records a cluster keeps in its KV bucket and the changes it reports to callbacks.

Records are JSON (pydantic models) so any client can read them; see docs/cluster.md
for the bucket layout. A record that does not parse is treated as absent, never trusted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger("aether.cluster")

FORMAT = 1
HASH_NAME = "blake2b-64"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Member(_Record):
    """One running node. A restarted node comes back with a new (greater) incarnation."""

    node_id: str
    incarnation: int
    started_at: float = 0.0
    """Wall-clock start time (seconds since the epoch), for operators."""
    member_timeout: float = 0.0
    """The node's own member timeout: observers wait at least this long before declaring it
    dead, so a node with a longer one (fewer heartbeats) is not taken for dead by one with
    a shorter one. 0.0: not said (records of older nodes); each observer uses its own."""


class ClusterSettings(_Record):
    """Fixed when the first node founds the cluster; every joiner is checked against it."""

    shard_count: int = Field(gt=0)
    hash: str = HASH_NAME
    format: int = FORMAT
    founded: str = ""
    """A random id written with the settings: a bucket deleted and created again (an
    operator's `nats stream rm`, a server restarted without its store) is a new founding,
    whose epochs and table versions start again from 1. ("" for clusters founded before
    it was recorded.)"""


class LeaseRecord(_Record):
    """The value of the ``leader`` key. ``epoch`` is 0 in the write that acquires the
    lease: the epoch is that write's KV revision, carried by every renewal after it."""

    node_id: str
    incarnation: int
    epoch: int = 0
    lease_ttl: float = Field(gt=0)


class ShardTable(_Record):
    """shard -> node, written only by the leader, by compare-and-swap, one version at a time."""

    version: int = Field(ge=0)
    epoch: int = Field(ge=0)
    leader: str
    nodes: list[str]
    """Nodes that own shards, sorted; ``owners`` indexes into it (keeps the value small)."""
    owners: list[int]
    """One entry per shard: an index into ``nodes``, or -1 for no owner."""
    founded: str = ""
    """The founding (ClusterSettings.founded) of the bucket the leader wrote it in."""

    def owner(self, shard: int) -> str | None:
        index = self.owners[shard]
        return None if index < 0 else self.nodes[index]

    def owner_list(self) -> list[str | None]:
        return [None if i < 0 else self.nodes[i] for i in self.owners]

    def shards_of(self, node_id: str) -> frozenset[int]:
        if node_id not in self.nodes:
            return frozenset()
        mine = self.nodes.index(node_id)
        return frozenset(s for s, i in enumerate(self.owners) if i == mine)

    @classmethod
    def build(cls, version: int, epoch: int, leader: str,
              owners: list[str | None], founded: str = "") -> ShardTable:
        nodes = sorted({o for o in owners if o is not None})
        index = {n: i for i, n in enumerate(nodes)}
        return cls(version=version, epoch=epoch, leader=leader, nodes=nodes,
                   owners=[-1 if o is None else index[o] for o in owners], founded=founded)


@dataclass(frozen=True)
class LeadershipChange:
    node_id: str
    is_leader: bool
    epoch: int
    """The term gained or lost (a KV revision: greater for every new leader)."""


@dataclass(frozen=True)
class MembershipChange:
    members: tuple[Member, ...]
    joined: tuple[Member, ...]
    left: tuple[Member, ...]


@dataclass(frozen=True, slots=True)
class Tenure:
    """One unbroken stretch of a node owning a shard: the number of the ShardChange that gave
    it the shard (a node numbers its shard changes from 1 and never reuses one). A class of
    its own, not an int, so that a table version passed for it is refused, never compared."""

    number: int

    def __bool__(self) -> bool:
        return self.number != 0  # Tenure(0): no tenure, as the int it replaced was falsy


@dataclass(frozen=True)
class ShardChange:
    """This node's shards changed. ``version`` and ``epoch`` are those of the table that
    made the change (or of the last table, when the node lost its membership lease).
    ``tenure`` numbers this change among the node's shard changes: ask
    ``ClusterManager.owns(shard, tenure)`` later to check that a shard it gained is still
    yours, without a break since. (Not the table version: after a break, a lapse of the
    node's lease, the same table gives its shards back under a new tenure.)"""

    version: int
    epoch: int
    gained: frozenset[int]
    lost: frozenset[int]
    owned: frozenset[int]
    tenure: Tenure = Tenure(0)  # 0: no tenure (a change made by hand)


T = TypeVar("T")
Callback = Callable[[T], Awaitable[None] | None]


@dataclass
class Listeners(Generic[T]):
    """Callbacks of one kind; async ones are awaited in order, so a listener can finish
    (drain, persist) before the next change is reported. A failing callback is logged:
    it must not stop heartbeats or elections."""

    callbacks: list[Callback[T]]

    def add(self, callback: Callback[T]) -> None:
        self.callbacks.append(callback)

    async def fire(self, change: T) -> None:
        for callback in list(self.callbacks):
            try:
                result = callback(change)
                if result is not None:
                    await result
            except Exception:
                log.exception("cluster callback %r failed on %r", callback, change)
