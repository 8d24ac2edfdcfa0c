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
  listening; a host given a shard first asks the shard's current listener to release it
  (see ``_take``), so the old owner has let go before the new one serves.

Every event a host writes carries ``SERVED_BY`` (node id) and ``SERVED_AT`` (shard table
version) in its metadata, so anyone can check which node served which command in which table.
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
from nats.aio.subscription import Subscription

from aether.aggregate import Repository
from aether.cancelling import raise_if_cancelled
from aether.cluster.actor_cache import ActorCache, CachedActor, HostCounters
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
    shard_subject,
)
from aether.command import Command, CommandRegistry, InvalidCommandError, with_command_id
from aether.errors import AetherError, InvalidEventError, VersionConflictError
from aether.event import COMMAND_ID, Event
from aether.limits import check_actor_id
from aether.router import CommandRouter, Route

log = logging.getLogger("aether.cluster")

CONTROL, RELEASE = "Aether-Control", "release"
"""A request with this header on a shard's subject asks its current listener to let go."""
RELEASED, HELD = b"released", b"held"

SERVED_BY = "aether_served_by"
SERVED_AT = "aether_served_at"


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
        self.drain_timeout = drain_timeout
        self.retries = retries
        self.handover_timeout = handover_timeout or 2 * manager.timing.member_timeout
        self.reply_prefixes = tuple(reply_prefixes)
        self.counters = HostCounters()
        self._cache = ActorCache(max_actors, passivate_after, self.counters)
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._subscriptions: dict[int, Subscription] = {}
        self._accepting: set[int] = set()
        self._taking: dict[int, asyncio.Task[None]] = {}
        self._drained = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._started = False

    @property
    def node_id(self) -> str:
        return self.manager.node_id

    def serves(self, shard: int) -> bool:
        """True while this host takes commands for ``shard`` (it owns it and listens)."""
        return shard in self._accepting and shard in self.manager.my_shards()

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
        self._gain(self.manager.my_shards())
        self._sweeper = asyncio.create_task(self._sweep(), name=f"host-{self.node_id}")

    async def stop(self) -> None:
        """Stop taking commands, finish those in flight, drop every cached aggregate."""
        self._started = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self._lose(frozenset(self._subscriptions) | frozenset(self._taking))
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.drain_timeout)
        self._cache.clear()

    async def _on_shards(self, change: ShardChange) -> None:
        if not self._started:
            return
        held = frozenset(self._subscriptions) | frozenset(self._taking)
        await self._lose(change.lost | (held - change.owned))
        if self._started:  # stop() may have run while we drained: claim nothing after it
            self._gain(change.owned)

    def _gain(self, shards: frozenset[int]) -> None:
        # Taking a shard waits for its old owner to let go, in the background: the shard
        # manager's loop (which called us) must not stall on a slow or dead old owner.
        for shard in sorted(shards - frozenset(self._subscriptions) - frozenset(self._taking)):
            self._taking[shard] = asyncio.create_task(self._take(shard))

    async def _take(self, shard: int) -> None:
        """Ask whoever still listens on the shard's subject to release it, then listen."""
        subject = shard_subject(self.manager.cluster, shard)
        deadline = time.monotonic() + self.handover_timeout
        try:
            while time.monotonic() < deadline:
                try:
                    reply = await self.manager.nc.request(
                        subject, b"", timeout=self.manager.timing.request_timeout,
                        headers={CONTROL: RELEASE})
                except nats.errors.NoRespondersError:
                    break  # nobody listens: the shard is free
                except (nats.errors.TimeoutError, TimeoutError):
                    raise_if_cancelled()  # a cancel nats-py's request turned into a timeout
                    # Nobody answered: a lagging or paused owner, or only listeners that
                    # never answer (an operator's plain `nats sub '>'` hears every request).
                    # Waiting is for an owner that is still a member; one that is not
                    # refuses commands already.
                    if self.manager.shards.holder_gone(shard):
                        break
                    continue
                if reply.data == RELEASED:
                    break
                await asyncio.sleep(self.manager.timing.heartbeat_interval)
            else:
                log.warning("node %s: shard %d not released in %.1fs; serving it anyway (the "
                            "store's concurrency check protects it)", self.node_id, shard,
                            self.handover_timeout)
            # A lapse of this node's membership lease empties my_shards() for a moment,
            # which the shard manager may never report (it reports what differs between its
            # rounds): wait it out. A shard really lost is reported, and _lose cancels this.
            # Polled: the lease is a deadline on the clock, renewed by each heartbeat.
            while shard not in self.manager.my_shards():
                raise_if_cancelled()
                await asyncio.sleep(self.manager.timing.heartbeat_interval)
            await self._listen(shard, subject)
        except nats.errors.Error as exc:
            log.warning("node %s: could not take shard %d: %s", self.node_id, shard, exc)
        finally:
            self._taking.pop(shard, None)

    async def _listen(self, shard: int, subject: str) -> None:
        """Subscribe to the shard's subject and record it, or leave nothing behind.

        ``nc.subscribe`` registers the subscription before its last await (the flusher
        queue): a claim cancelled there would leave a subscription nobody recorded, answering
        ``moved`` until the connection closed. So the subscribe runs shielded, and a claim
        cancelled meanwhile waits for it and takes it back before it lets the cancel through.
        """
        # A plain subscription, not a queue group: a request must reach every node that
        # listens, so an owner frozen with its subscriptions still on the server (a paused
        # process, after its shards moved) cannot take commands from the node that serves
        # them now; nodes that do not serve the actor's shard answer `moved`, which makes
        # the caller ask again.
        subscribing = asyncio.ensure_future(self.manager.nc.subscribe(
            subject, cb=self._arrived))
        try:
            subscription = await asyncio.shield(subscribing)
        except asyncio.CancelledError:
            with contextlib.suppress(nats.errors.Error):
                await (await subscribing).unsubscribe()
            raise
        # Whatever is cached for the shard dates from an earlier tenure: another node may
        # have written since, and a refusal decided on a stale copy is never checked by a
        # save. Start from the store.
        self._cache.drop_shards({shard})
        self._subscriptions[shard] = subscription
        self._accepting.add(shard)

    async def _lose(self, shards: frozenset[int]) -> None:
        """Refuse new commands, wait for those in flight, drop the shards' aggregates, then
        stop listening: all before this returns, so before the shard manager reports the
        next change and before a new owner's release request finds the shard free."""
        claims = [task for shard in shards if (task := self._taking.pop(shard, None))]
        for task in claims:
            task.cancel()
        # Wait for the cancelled claims to unwind: one cancelled mid-subscribe takes its
        # subscription back first (see _listen), so none outlives this call.
        if claims:
            await asyncio.wait(claims)  # (not `await task`: that would swallow our own cancel)
        lost = [shard for shard in shards if shard in self._subscriptions]
        if not lost:
            return
        self._accepting.difference_update(lost)
        inflight = self.counters.inflight

        def drained() -> bool:
            return all(inflight.get(shard, 0) == 0 for shard in lost)

        async with self._drained:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait_for(drained), self.drain_timeout)
        self._cache.drop_shards(set(lost))
        for shard in lost:
            # Another _lose (stop() racing a shard change) may have taken it meanwhile.
            subscription = self._subscriptions.pop(shard, None)
            if subscription is not None:
                with contextlib.suppress(nats.errors.Error):
                    await subscription.unsubscribe()
        async with self._drained:
            self._drained.notify_all()  # release requests waiting on these shards

    async def _release(self, shard: int) -> bytes:
        """A new owner asks for ``shard``: answer once we stopped listening (our table agrees
        and the shard is drained), or say we still hold it and let the requester ask again."""
        if shard in self._accepting:
            self.manager.shards.wake()  # read the table now rather than at the next poll
        async with self._drained:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait_for(
                    lambda: shard not in self._subscriptions), self.handover_timeout / 2)
        return HELD if shard in self._subscriptions else RELEASED

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
        meta = with_command_id(metadata)
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
                    self._cache.drop(actor_id)
                route.repository.cache.forget(actor_id)  # as Repository.execute does
                raise
            if not self.serves(shard):  # fenced: the table moved on while we decided
                self._cache.drop(actor_id)
                self.counters.refused_moved += 1
                raise ShardMovedError(actor_id, shard, self.node_id)
            stamped = {**meta, SERVED_BY: self.node_id,
                       SERVED_AT: str(self.manager.table_version)}
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
                reply = await self._release(shard)
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
