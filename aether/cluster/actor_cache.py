"""The aggregates an ActorHost keeps in memory between commands, and the host's counters.

A bounded LRU: an aggregate is cached when a command first loads it, one pushed out by
``max_actors`` newer ones or idle for ``passivate_after`` seconds is dropped (passivated)
and reloaded from the store when next needed, and all of a shard's are dropped when the
shard leaves the node or comes back to it (another node may have written meanwhile).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Collection, Container
from dataclasses import dataclass, field
from typing import Any

from aether.aggregate import AggregateRoot, Repository


@dataclass
class HostCounters:
    served: int = 0
    loaded: int = 0
    passivated: int = 0
    conflicts: int = 0
    refused_moved: int = 0
    bad_requests: int = 0
    inflight: dict[int, int] = field(default_factory=dict)


@dataclass
class CachedActor:
    aggregate: AggregateRoot[Any]
    repository: Repository[Any]
    shard: int
    used: float


class ActorCache:
    """Aggregates by actor id, least recently used first (see the module docstring)."""

    def __init__(self, max_actors: int, passivate_after: float, counters: HostCounters
                 ) -> None:
        if max_actors < 1:
            raise ValueError(f"max_actors must be at least 1, got {max_actors}")
        self.max_actors = max_actors
        self.passivate_after = passivate_after
        self._counters = counters
        self._actors: OrderedDict[str, CachedActor] = OrderedDict()

    def actors(self) -> list[str]:
        return list(self._actors)

    def get(self, actor_id: str) -> CachedActor | None:
        """The cached aggregate, marked as just used; None if not cached."""
        cached = self._actors.get(actor_id)
        if cached is not None:
            cached.used = time.monotonic()
            self._actors.move_to_end(actor_id)
        return cached

    def put(self, actor_id: str, cached: CachedActor) -> None:
        self._actors[actor_id] = cached
        while len(self._actors) > self.max_actors:
            self._actors.popitem(last=False)
            self._counters.passivated += 1

    def drop(self, actor_id: str) -> None:
        """Forget one aggregate (its copy no longer matches the store)."""
        self._actors.pop(actor_id, None)

    def drop_shards(self, shards: Collection[int]) -> None:
        for actor_id in [a for a, c in self._actors.items() if c.shard in shards]:
            del self._actors[actor_id]

    def passivate_idle(self, busy: Container[str]) -> None:
        """Drop aggregates idle for ``passivate_after`` seconds, except ``busy`` ones."""
        horizon = time.monotonic() - self.passivate_after
        for actor_id in [a for a, c in self._actors.items() if c.used < horizon]:
            if actor_id not in busy:  # never under a running command
                del self._actors[actor_id]
                self._counters.passivated += 1

    def clear(self) -> None:
        self._actors.clear()
