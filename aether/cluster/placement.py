"""Shard placement: which node owns which shard, moving as few shards as possible.

Every node gets ``floor(S/N)`` or ``ceil(S/N)`` of the S shards, so the busiest holds at
most ``ceil(S/N) * N / S`` times the mean. Owners keep every shard they can; only
orphans (their owner left) and the overflow of nodes above their quota move: when a node
joins, it takes about S/(N+1) shards, when one leaves, only its own S/N move. A free
shard goes to its first choice on the hash ring when that node has room, otherwise to
the node furthest below its quota, so the result depends only on the inputs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from aether.cluster.hashring import ConsistentHashRing


def place(previous: Sequence[str | None], nodes: Sequence[str],
          ring: ConsistentHashRing | None = None) -> list[str | None]:
    """New owners for ``len(previous)`` shards on ``nodes``, starting from ``previous``."""
    shard_count = len(previous)
    if not nodes:
        return [None] * shard_count
    unique = sorted(set(nodes))
    quota, extra = divmod(shard_count, len(unique))
    counts = Counter(owner for owner in previous if owner is not None)
    # The nodes already holding most shards are the ones allowed one extra.
    by_load = sorted(unique, key=lambda n: (-counts[n], n))
    room = {node: quota + (1 if i < extra else 0) for i, node in enumerate(by_load)}

    owners: list[str | None] = [None] * shard_count
    free: list[int] = []
    for shard, owner in enumerate(previous):
        if owner is not None and room.get(owner, 0) > 0:
            owners[shard] = owner
            room[owner] -= 1
        else:
            free.append(shard)
    if ring is None or ring.nodes != frozenset(unique):
        ring = ConsistentHashRing(unique)
    for shard in free:
        first = ring.get_node(f"shard-{shard}")
        node = first if first is not None and room[first] > 0 else max(
            unique, key=lambda n: (room[n], n))
        owners[shard] = node
        room[node] -= 1
    return owners
