"""What can go wrong when a node joins or inspects a cluster, and what to do about it."""

from __future__ import annotations

from aether.command import InvalidCommandError
from aether.errors import AetherError, TransientError


class ClusterError(AetherError):
    """Root of the cluster's errors."""


class ClusterConfigError(ClusterError, ValueError):
    """The cluster cannot work as configured (no JetStream, a name clash, bad settings)."""


class ShardCountMismatchError(ClusterConfigError):
    """A node tried to join with a shard count other than the one the cluster was founded with."""

    def __init__(self, cluster: str, cluster_count: int, node_count: int) -> None:
        self.cluster = cluster
        self.cluster_count = cluster_count
        self.node_count = node_count
        super().__init__(
            f"cluster {cluster!r} was founded with shard_count={cluster_count}, this node asks "
            f"for shard_count={node_count}; the shard count is fixed for a cluster's lifetime "
            f"(actor ids map to shards by it): start the node with shard_count={cluster_count}"
        )

    def __reduce__(self) -> tuple[type[ShardCountMismatchError], tuple[str, int, int]]:
        return (type(self), (self.cluster, self.cluster_count, self.node_count))


class RouterShardCountError(ShardCountMismatchError, InvalidCommandError):
    """A ClusterRouter hashes actor ids with a shard count other than its cluster's.

    Also an InvalidCommandError: an owner used to answer such a command ``invalid`` (and
    still does, should one get through), so code that catches that keeps working."""

    def __init__(self, cluster: str, cluster_count: int, node_count: int) -> None:
        self.cluster = cluster
        self.cluster_count = cluster_count
        self.node_count = node_count  # the router's count (the field's name is the base's)
        # Not ShardCountMismatchError's message: that one tells a node how to start.
        super(ShardCountMismatchError, self).__init__(
            f"this ClusterRouter hashes actor ids with shard_count={node_count}, but cluster "
            f"{cluster!r} was founded with shard_count={cluster_count}: its shard_count "
            f"differs, so commands would reach the wrong shards; this one did not run. Build "
            f"the router with ClusterRouter.connect(nc, cluster, commands), which reads the "
            f"count, with ClusterRouter.for_host(host) on a node, or with "
            f"shard_count={cluster_count}")


class UnknownClusterError(ClusterError, LookupError):
    """Nobody ever started a node of this cluster on this NATS server."""

    def __init__(self, cluster: str, bucket: str) -> None:
        self.cluster = cluster
        self.bucket = bucket
        super().__init__(
            f"no cluster {cluster!r} on this server (KV bucket {bucket!r} does not exist): "
            f"check the cluster name and the server URL, or start a node of it first"
        )

    def __reduce__(self) -> tuple[type[UnknownClusterError], tuple[str, str]]:
        return (type(self), (self.cluster, self.bucket))


class ClusterUnavailableError(ClusterError, TransientError, ConnectionError):
    """NATS or JetStream did not answer a cluster request in time."""
