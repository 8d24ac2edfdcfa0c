"""ActorHost: serves the commands of the shards this node owns, keeping hot aggregates in memory.

One host runs beside each node's ClusterManager. For every shard the node owns it subscribes
to the shard's subject (wire.py) and executes the commands that arrive, one at a time per
actor, through the routes of a CommandRouter (generated ``make_router``):

- an aggregate is loaded (snapshot + later events) on its first command, then kept in a
  bounded LRU cache; one idle for ``passivate_after`` seconds, or pushed out by
  ``max_actors`` newer ones, is dropped and reloaded when next needed;
- a repeated command id is answered with the events it produced (``Repository.recorded``);
- ownership is checked on arrival and again right before saving; the store's optimistic
  concurrency is the last line of defence: a stale copy costs a VersionConflictError, after
  which the aggregate is reloaded and the command decided again;
- when the shard table takes a shard away, the host stops taking its commands, waits for
  those in flight (up to ``drain_timeout``), then drops its cached aggregates.

Every event a host writes carries ``SERVED_BY`` (node id) and ``SERVED_AT`` (shard table
version) in its metadata, so anyone can check which node served which command in which table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from aether.aggregate import AggregateRoot, Repository
from aether.cluster.manager import ClusterManager
from aether.cluster.types import ShardChange
from aether.cluster.wire import (
    DOMAIN,
    FAILED,
    INVALID,
    MOVED,
    QUEUE_GROUP,
    ShardMovedError,
    decode_request,
    encode_error,
    encode_events,
    shard_subject,
)
from aether.command import Command, CommandRegistry, InvalidCommandError, with_command_id
from aether.errors import AetherError, DomainError, InvalidEventError, VersionConflictError
from aether.event import COMMAND_ID, Event
from aether.limits import check_actor_id
from aether.router import CommandRouter, Route

log = logging.getLogger("aether.cluster")

SERVED_BY = "aether_served_by"
SERVED_AT = "aether_served_at"


@dataclass
class _Cached:
    aggregate: AggregateRoot[Any]
    repository: Repository[Any]
    shard: int
    used: float


@dataclass
class HostCounters:
    served: int = 0
    loaded: int = 0
    passivated: int = 0
    conflicts: int = 0
    refused_moved: int = 0
    bad_requests: int = 0
    inflight: dict[int, int] = field(default_factory=dict)


class ActorHost:
    """Serves the commands of this node's shards (see the module docstring)."""

    def __init__(self, manager: ClusterManager, router: CommandRouter,
                 commands: CommandRegistry, *, max_actors: int = 10_000,
                 passivate_after: float = 300.0, drain_timeout: float = 10.0,
                 retries: int = 3) -> None:
        if max_actors < 1:
            raise ValueError(f"max_actors must be at least 1, got {max_actors}")
        self.manager = manager
        self.router = router
        self.commands = commands
        self.max_actors = max_actors
        self.passivate_after = passivate_after
        self.drain_timeout = drain_timeout
        self.retries = retries
        self.counters = HostCounters()
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._serving: dict[int, Subscription] = {}
        self._drained = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._started = False

    @property
    def node_id(self) -> str:
        return self.manager.node_id

    def serves(self, shard: int) -> bool:
        """True while this host takes commands for ``shard`` (it owns it and listens)."""
        return shard in self._serving and shard in self.manager.my_shards()

    def cached_actors(self) -> list[str]:
        return list(self._cache)

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Serve the node's shards now and follow the shard table from here on (start the
        manager first, or after: either order works)."""
        if self._started:
            return
        self._started = True
        self.manager.on_shards(self._on_shards)
        await self._gain(self.manager.my_shards())
        self._sweeper = asyncio.create_task(self._sweep(), name=f"host-{self.node_id}")

    async def stop(self) -> None:
        """Stop taking commands, finish those in flight, drop every cached aggregate."""
        self._started = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self._lose(frozenset(self._serving))
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.drain_timeout)
        self._cache.clear()

    async def _on_shards(self, change: ShardChange) -> None:
        if not self._started:
            return
        await self._lose(change.lost | (frozenset(self._serving) - change.owned))
        await self._gain(change.owned)

    async def _gain(self, shards: frozenset[int]) -> None:
        for shard in sorted(shards - frozenset(self._serving)):
            self._serving[shard] = await self.manager.nc.subscribe(
                shard_subject(self.manager.cluster, shard), queue=QUEUE_GROUP, cb=self._arrived)

    async def _lose(self, shards: frozenset[int]) -> None:
        """Stop listening, wait for the shards' in-flight commands, drop their aggregates:
        all before this returns, and so before the shard manager reports the next change."""
        lost = [shard for shard in shards if shard in self._serving]
        if not lost:
            return
        for shard in lost:
            subscription = self._serving.pop(shard)
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
        inflight = self.counters.inflight

        def drained() -> bool:
            return all(inflight.get(shard, 0) == 0 for shard in lost)

        async with self._drained:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait_for(drained), self.drain_timeout)
        gone = set(lost)
        for actor_id in [a for a, c in self._cache.items() if c.shard in gone]:
            del self._cache[actor_id]

    async def _sweep(self) -> None:
        """Passivate aggregates idle for ``passivate_after`` seconds."""
        while True:
            await asyncio.sleep(max(self.passivate_after / 4, 0.05))
            horizon = time.monotonic() - self.passivate_after
            for actor_id in [a for a, c in self._cache.items() if c.used < horizon]:
                if actor_id not in self._locks:  # never under a running command
                    del self._cache[actor_id]
                    self.counters.passivated += 1

    # -- executing ----------------------------------------------------------------

    async def execute(self, actor_id: str, command: Command,
                      metadata: Mapping[str, str] | None = None) -> list[Event]:
        """Run one command here, once per command id; ShardMovedError if this node does not
        serve the actor's shard (a ClusterRouter retries it where the shard went)."""
        check_actor_id(actor_id)
        shard = self.manager.shard_of(actor_id)
        if not self.serves(shard):
            self.counters.refused_moved += 1
            raise ShardMovedError(actor_id, shard, self.node_id)
        route = self.router.route_for(type(command))
        meta = with_command_id(metadata)
        inflight = self.counters.inflight
        inflight[shard] = inflight.get(shard, 0) + 1
        try:
            async with self._actor_lock(actor_id):
                return await self._run(actor_id, shard, route, command, meta)
        finally:
            inflight[shard] -= 1
            if not inflight[shard]:
                del inflight[shard]
                async with self._drained:
                    self._drained.notify_all()

    @contextlib.asynccontextmanager
    async def _actor_lock(self, actor_id: str) -> Any:
        lock, users = self._locks.get(actor_id) or (asyncio.Lock(), 0)
        self._locks[actor_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[actor_id]
            if users == 1:
                del self._locks[actor_id]
            else:
                self._locks[actor_id] = (lock, users - 1)

    async def _run(self, actor_id: str, shard: int, route: Route, command: Command,
                   meta: dict[str, str]) -> list[Event]:
        attempt = 0
        while True:
            cached = await self._aggregate(actor_id, shard, route.repository)
            aggregate = cached.aggregate
            earlier = await route.repository.recorded(aggregate, meta[COMMAND_ID])
            if earlier is not None:
                return earlier
            try:
                route.handle(aggregate, command)
            except BaseException:
                if aggregate.pending_events:  # half-decided: the copy no longer matches
                    self._cache.pop(actor_id, None)
                raise
            if not self.serves(shard):  # fenced: the table moved on while we decided
                self._cache.pop(actor_id, None)
                self.counters.refused_moved += 1
                raise ShardMovedError(actor_id, shard, self.node_id)
            stamped = {**meta, SERVED_BY: self.node_id,
                       SERVED_AT: str(self.manager.table_version)}
            try:
                events = await route.repository.save(aggregate, stamped)
            except VersionConflictError:
                # Another writer (a stale or a new owner): our copy is behind. Reload.
                self._cache.pop(actor_id, None)
                self.counters.conflicts += 1
                attempt += 1
                if attempt > self.retries:
                    raise
                continue
            except BaseException:
                self._cache.pop(actor_id, None)
                raise
            self.counters.served += 1
            return events

    async def _aggregate(self, actor_id: str, shard: int,
                         repository: Repository[Any]) -> _Cached:
        cached = self._cache.get(actor_id)
        if cached is None or cached.repository is not repository:
            aggregate = await repository.load(actor_id)
            self.counters.loaded += 1
            cached = _Cached(aggregate, repository, shard, time.monotonic())
            self._cache[actor_id] = cached
            while len(self._cache) > self.max_actors:
                self._cache.popitem(last=False)
                self.counters.passivated += 1
        else:
            cached.used = time.monotonic()
            self._cache.move_to_end(actor_id)
        return cached

    # -- the wire -----------------------------------------------------------------

    async def _arrived(self, message: Msg) -> None:
        # One task per request: a slow aggregate must not hold up the rest of its shard.
        task = asyncio.create_task(self._answer(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, message: Msg) -> None:
        if not message.reply:
            return  # a publish, not a request: nobody to answer
        try:
            reply = await self._serve(message.data)
        except Exception:  # a bug must never take the host down: answer and log
            log.exception("node %s: serving a command failed", self.node_id)
            reply = encode_error(FAILED, AetherError("internal error on the owning node"))
        with contextlib.suppress(nats.errors.Error):
            await message.respond(reply)

    async def _serve(self, payload: bytes) -> bytes:
        try:
            actor_id, shard, command_type, data, metadata = decode_request(payload)
            command = self.commands.decode(command_type, data)
            check_actor_id(actor_id)
            if shard != self.manager.shard_of(actor_id):
                raise InvalidCommandError(
                    f"the request puts actor {actor_id[:80]!r} in shard {shard}, this cluster "
                    f"in shard {self.manager.shard_of(actor_id)}: the sender's shard_count "
                    f"differs from the cluster's ({self.manager.shards.shard_count})")
            return encode_events(await self.execute(actor_id, command, metadata))
        except DomainError as exc:
            return encode_error(DOMAIN, exc)
        except ShardMovedError as exc:
            return encode_error(MOVED, exc)
        except (InvalidCommandError, InvalidEventError) as exc:
            self.counters.bad_requests += 1
            return encode_error(INVALID, exc)
        except AetherError as exc:
            return encode_error(FAILED, exc)
