"""Cluster primitives on NATS alone: node discovery, leader election, consistent hashing
and shard placement (see docs/cluster.md)."""

from aether.cluster.discovery import NodeDiscovery
from aether.cluster.errors import (
    ClusterConfigError,
    ClusterError,
    ClusterUnavailableError,
    RouterShardCountError,
    ShardCountMismatchError,
    UnknownClusterError,
)
from aether.cluster.hashring import DEFAULT_VNODES, ConsistentHashRing, stable_hash
from aether.cluster.host import ActorHost
from aether.cluster.leader import LeaderElection
from aether.cluster.manager import ClusterManager
from aether.cluster.placement import place
from aether.cluster.routing import ClusterRouter
from aether.cluster.shard import ShardManager, shard_for
from aether.cluster.status import ClusterStatus, read_status
from aether.cluster.types import (
    LeadershipChange,
    Member,
    MembershipChange,
    ShardChange,
    ShardTable,
    Tenure,
)

__all__ = [
    "DEFAULT_VNODES",
    "ActorHost",
    "ClusterConfigError",
    "ClusterError",
    "ClusterManager",
    "ClusterRouter",
    "ClusterStatus",
    "ClusterUnavailableError",
    "ConsistentHashRing",
    "LeaderElection",
    "LeadershipChange",
    "Member",
    "MembershipChange",
    "NodeDiscovery",
    "RouterShardCountError",
    "ShardChange",
    "ShardCountMismatchError",
    "ShardManager",
    "ShardTable",
    "Tenure",
    "UnknownClusterError",
    "place",
    "read_status",
    "shard_for",
    "stable_hash",
]
