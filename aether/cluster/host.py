"""ActorHost: serves the commands of the shards this node owns, keeping hot aggregates in memory.

One host runs beside each node's ClusterManager. For every shard the node owns it subscribes
to the shard's subject (wire.py) and executes the commands that arrive, one at a time per
actor, through the routes of a CommandRouter (generated ``make_router``):

- an aggregate is loaded (snapshot + later events) on its first command, then kept in a
  bounded LRU cache (actor_cache.py); one idle for ``passivate_after`` seconds, or pushed
  out by ``max_actors`` newer ones, is dropped and reloaded when next needed;
- a repeated command id is answered with the events it produced (``Repository.recorded``);
- ownership is checked on arrival and again right before saving; the store's optimistic
  concurrency is the last line of defence: a stale copy costs a VersionConflictError, after
  which the aggregate is reloaded and the command decided again;
- when the shard table takes a shard away, the host stops taking its commands, waits for
  those in flight (up to ``drain_timeout``), drops its cached aggregates, then stops
  listening; a host given a shard first asks the shard's current listener to release it,
  so the old owner has let go before the new one serves (handover.py).

Every event a host writes carries ``SERVED_BY`` (node id), ``SERVED_AT`` (shard table
version) and ``SERVED_IN`` (the cluster's founding) in its metadata, so anyone can check which
node served which command in which table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import nats.errors
from nats.aio.msg import Msg

from aether.aggregate import Repository
from aether.cluster.actor_cache import ActorCache, CachedActor, HostCounters
from aether.cluster.handover import CONTROL, RELEASE, ShardListeners
from aether.cluster.manager import ClusterManager
from aether.cluster.types import ShardChange
from aether.cluster.wire import (
    FAILED,
    REPLY_PREFIXES,
    ShardMovedError,
    decode_request,
    encode_error,
    encode_events,
    error_reply,
)
from aether.command import (
    Command,
    CommandRegistry,
    InvalidCommandError,
    command_metadata,
)
from aether.errors import AetherError, InvalidEventError, VersionConflictError
from aether.event import COMMAND_ID, Event
from aether.limits import check_actor_id
from aether.router import CommandRouter, Route

log = logging.getLogger("aether.cluster")

SERVED_BY = "aether_served_by"
SERVED_AT = "aether_served_at"
SERVED_IN = "aether_served_in"
"""The founding (ClusterSettings.founded) whose table ``SERVED_AT`` numbers: versions start
again from 1 when a cluster's bucket is founded anew. Absent for clusters founded before
foundings had ids."""


class ActorHost:
    """Serves the commands of this node's shards (see the module docstring)."""

    def __init__(self, manager: ClusterManager, router: CommandRouter,
                 commands: CommandRegistry, *, max_actors: int = 10_000,
                 passivate_after: float = 300.0, drain_timeout: float = 10.0,
                 retries: int = 3, handover_timeout: float | None = None,
                 reply_prefixes: Sequence[str] = REPLY_PREFIXES) -> None:
        if not reply_prefixes or not all(reply_prefixes):
            raise ValueError("reply_prefixes must name at least one non-empty inbox prefix")
        self.manager = manager
        self.router = router
        self.commands = commands
        self.retries = retries
        self.reply_prefixes = tuple(reply_prefixes)
        self.counters = HostCounters()
        self._cache = ActorCache(max_actors, passivate_after, self.counters)
        self._listeners = ShardListeners(
            manager, self._arrived, self._cache.drop_shards, self.counters.inflight,
            drain_timeout=drain_timeout,
            handover_timeout=handover_timeout or 2 * manager.timing.member_timeout)
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._started = False

    @property
    def node_id(self) -> str:
        return self.manager.node_id

    def serves(self, shard: int) -> bool:
        """True while this host takes commands for ``shard`` (it owns it and listens)."""
        return self._listeners.accepting(shard) and shard in self.manager.my_shards()

    def _served_at(self) -> dict[str, str]:
        """SERVED_AT and SERVED_IN of the table this node serves under, read together."""
        table = self.manager.table
        if table is None:
            return {SERVED_AT: "0"}
        if not table.founded:
            return {SERVED_AT: str(table.version)}
        return {SERVED_AT: str(table.version), SERVED_IN: table.founded}

    @property
    def drain_timeout(self) -> float:
        """Seconds a lost shard's commands in flight are waited for (settable)."""
        return self._listeners.drain_timeout

    @drain_timeout.setter
    def drain_timeout(self, value: float) -> None:
        self._listeners.drain_timeout = value

    @property
    def handover_timeout(self) -> float:
        """Seconds a claim asks the shard's old owner to let go before serving anyway."""
        return self._listeners.handover_timeout

    @property
    def max_actors(self) -> int:
        """Aggregates kept in memory at most (settable)."""
        return self._cache.max_actors

    @max_actors.setter
    def max_actors(self, value: int) -> None:
        self._cache.max_actors = value

    @property
    def passivate_after(self) -> float:
        """Seconds an aggregate stays cached unused (settable)."""
        return self._cache.passivate_after

    @passivate_after.setter
    def passivate_after(self, value: float) -> None:
        self._cache.passivate_after = value

    def cached_actors(self) -> list[str]:
        return self._cache.actors()

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Serve the node's shards now and follow the shard table from here on (start the
        manager first, or after: either order works)."""
        if self._started:
            return
        self._started = True
        self.manager.on_shards(self._on_shards)
        self._listeners.gain(self.manager.my_shards())
        self._sweeper = asyncio.create_task(self._sweep(), name=f"host-{self.node_id}")

    async def stop(self) -> None:
        """Stop taking commands, finish those in flight, drop every cached aggregate."""
        self._started = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self._listeners.lose(self._listeners.held())
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.drain_timeout)
        self._cache.clear()

    async def _on_shards(self, change: ShardChange) -> None:
        if not self._started:
            return
        listeners = self._listeners
        await listeners.lose(change.lost | (listeners.held() - change.owned))
        if self._started:  # stop() may have run while we drained: claim nothing after it
            listeners.gain(change.owned)

    async def _sweep(self) -> None:
        """Passivate aggregates idle for ``passivate_after`` seconds."""
        while True:
            await asyncio.sleep(max(self.passivate_after / 4, 0.05))
            self._cache.passivate_idle(self._locks)

    # -- executing ----------------------------------------------------------------

    async def execute(self, actor_id: str, command: Command,
                      metadata: Mapping[str, str] | None = None) -> list[Event]:
        """Run one command here, once per command id; ShardMovedError if this node does not
        serve the actor's shard (a ClusterRouter retries it where the shard went)."""
        shard = self._served_shard(actor_id)
        route = self.router.route_for(type(command))
        meta = command_metadata(actor_id, command, metadata)
        return await self._serving(actor_id, shard, lambda: self._run(
            actor_id, shard, route, command, meta))

    async def recorded(self, actor_id: str, command: Command, command_id: str,
                       from_version: int = 1) -> list[Event]:
        """The events command ``command_id`` produced on the actor, from ``from_version`` on,
        executing nothing (the rest of a reply too large for one message); ShardMovedError
        as ``execute``, InvalidCommandError when the actor does not remember the command."""
        shard = self._served_shard(actor_id)
        repository = self.router.route_for(type(command)).repository

        async def read() -> list[Event]:
            cached = await self._aggregate(actor_id, shard, repository)
            return await repository.recorded(cached.aggregate, command_id) or []

        events = await self._serving(actor_id, shard, read)
        if not events:
            raise InvalidCommandError(
                f"actor {actor_id[:80]!r} has no events of command {command_id[:80]!r} to "
                f"send: it remembers only its latest commands' ids; read the events from the "
                f"store")
        return [event for event in events if event.version >= from_version]

    def _served_shard(self, actor_id: str) -> int:
        """The actor's shard, or ShardMovedError when this node does not serve it."""
        check_actor_id(actor_id)
        shard = self.manager.shard_of(actor_id)
        if not self.serves(shard):
            self.counters.refused_moved += 1
            raise ShardMovedError(actor_id, shard, self.node_id)
        return shard

    async def _serving(self, actor_id: str, shard: int,
                       work: Callable[[], Awaitable[list[Event]]]) -> list[Event]:
        """``work`` on the actor, one at a time, counted in flight on its shard (a shard
        is handed over only when none are)."""
        inflight = self.counters.inflight
        inflight[shard] = inflight.get(shard, 0) + 1
        try:
            async with self._actor_lock(actor_id):
                return await work()
        finally:
            inflight[shard] -= 1
            if not inflight[shard]:
                del inflight[shard]
                await self._listeners.finished()

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
                    self._cache.drop(actor_id)
                route.repository.cache.forget(actor_id)  # as Repository.execute does
                raise
            if not self.serves(shard):  # fenced: the table moved on while we decided
                self._cache.drop(actor_id)
                self.counters.refused_moved += 1
                raise ShardMovedError(actor_id, shard, self.node_id)
            stamped = {**meta, SERVED_BY: self.node_id, **self._served_at()}
            try:
                events = await route.repository.save(aggregate, stamped)
            except VersionConflictError:
                # Another writer (a stale or a new owner): our copy is behind. Reload.
                self._cache.drop(actor_id)
                self.counters.conflicts += 1
                attempt += 1
                if attempt > self.retries:
                    raise
                continue
            except BaseException:
                self._cache.drop(actor_id)
                raise
            self.counters.served += 1
            return events

    async def _aggregate(self, actor_id: str, shard: int,
                         repository: Repository[Any]) -> CachedActor:
        cached = self._cache.get(actor_id)
        if cached is None or cached.repository is not repository:
            aggregate = await repository.load(actor_id)
            self.counters.loaded += 1
            cached = CachedActor(aggregate, repository, shard, time.monotonic())
            if self.serves(shard):  # else lost while loading (drain timed out): cache nothing
                self._cache.put(actor_id, cached)
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
        if not message.reply.startswith(self.reply_prefixes):
            # The answer is published with this node's connection: to a reply subject such
            # as the event stream's or the JetStream API's it would write there for whoever
            # can reach a shard's subject. Callers' inboxes are all a reply can go to.
            self.counters.bad_requests += 1
            log.warning("node %s: ignored a request whose reply subject %r is not an inbox "
                        "(%s)", self.node_id, message.reply[:80], ", ".join(self.reply_prefixes))
            return
        try:
            if message.headers and message.headers.get(CONTROL) == RELEASE:
                shard = int(message.subject.rsplit(".", 1)[1])
                reply = await self._listeners.release(shard)
            else:
                reply = await self._serve(message.data)
        except Exception as exc:  # a bug must never take the host down: answer and log
            log.exception("node %s: serving a command failed", self.node_id)
            # Not an AetherError: the caller gets RemoteCommandError naming its type.
            reply = encode_error(FAILED, AetherError(
                f"internal error on node {self.node_id!r}; see its log"), type(exc).__name__,
                max_payload=self.manager.nc.max_payload)
        try:
            await message.respond(reply)
        except nats.errors.MaxPayloadError:  # encode_events keeps replies within it: a bug
            log.exception("node %s: a reply of %d bytes is over max_payload", self.node_id,
                          len(reply))
        except nats.errors.Error:
            pass  # the connection is closing or gone: the caller times out and resends

    async def _serve(self, payload: bytes) -> bytes:
        try:
            actor_id, shard, command_type, data, metadata, from_version = decode_request(
                payload)
            command = self.commands.decode(command_type, data)
            check_actor_id(actor_id)
            if shard != self.manager.shard_of(actor_id):
                raise InvalidCommandError(
                    f"the request puts actor {actor_id[:80]!r} in shard {shard}, this cluster "
                    f"in shard {self.manager.shard_of(actor_id)}: the sender's shard_count "
                    f"differs from the cluster's ({self.manager.shards.shard_count})")
            if from_version is None:
                events = await self.execute(actor_id, command, metadata)
            else:  # the rest of an earlier reply: read, never execute
                command_id = metadata.get(COMMAND_ID)
                if not command_id:
                    raise InvalidCommandError("a request for the rest of a reply (from_version) "
                                              "must carry the command's id")
                events = await self.recorded(actor_id, command, command_id, from_version)
            return encode_events(events, self.manager.nc.max_payload)
        except (InvalidCommandError, InvalidEventError) as exc:
            self.counters.bad_requests += 1
            return error_reply(exc, self.manager.nc.max_payload)
        except AetherError as exc:  # the caller raises it as a local router would
            return error_reply(exc, self.manager.nc.max_payload)
