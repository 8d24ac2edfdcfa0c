"""ClusterRouter: a CommandSender that delivers each command to the node owning its actor.

The router hashes the actor id to its shard (the cluster's stable hash and shard count) and
sends the command as a NATS request on the shard's subject (wire.py); whoever owns the shard
answers. A shard this process's own ActorHost serves runs in process, with no network hop.

While a shard moves (its old owner answers "moved", or nobody listens yet), and when an
attempt gets no answer within ``attempt_timeout``, the router tries again with the *same*
command id until ``timeout``: the owner executes a command id at most once and answers a
repeat with the original events, so a retry never doubles an effect. When ``timeout`` runs
out it raises CommandTimeoutError naming the command id, to resend later just as safely.

The shard count must be the cluster's (the ``settings`` key of its KV bucket): hashed with
another, a command reaches the wrong shard, where an owner refuses it or nobody listens.
So the router reads the settings before its first command (``connect`` reads them
anyway) and refuses with RouterShardCountError, sending nothing, when they name another
count. It reads them again only when an attempt hints that they changed (nobody listens
on the shard, or an owner answers ``invalid``): the bucket may have been created again
with another count. A router from ``connect`` follows the cluster to its new count
instead. While no node has founded the cluster (or its bucket does not answer) the count
stays unchecked: commands find nobody and time out as before, and the next send looks again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Generic, TypeVar

import nats.errors
from nats.aio.client import Client
from pydantic import ValidationError

from aether.cancelling import raise_if_cancelled
from aether.cluster.errors import (
    ClusterConfigError,
    ClusterUnavailableError,
    RouterShardCountError,
)
from aether.cluster.host import ActorHost
from aether.cluster.kv import ClusterBucket, check_cluster_name
from aether.cluster.shard import SETTINGS_KEY, shard_for
from aether.cluster.status import read_status
from aether.cluster.types import ClusterSettings
from aether.cluster.wire import (
    FROM_VERSION_RESERVE,
    MOVED,
    CommandTimeoutError,
    RemoteCommandError,
    ShardMovedError,
    decode_reply,
    encode_request,
    shard_subject,
)
from aether.command import (
    Command,
    CommandRegistry,
    InvalidCommandError,
    SenderBase,
    command_metadata,
)
from aether.errors import StoreUnavailableError
from aether.event import COMMAND_ID, Event
from aether.limits import check_actor_id
from aether.nats_probe import ReaderProbe
from aether.store import jsapi

log = logging.getLogger("aether.cluster")
T = TypeVar("T")


class ClusterRouter(SenderBase):
    """Sends commands to their owners across the cluster (see the module docstring)."""

    def __init__(self, nc: Client, cluster: str, commands: CommandRegistry, *,
                 shard_count: int, host: ActorHost | None = None, timeout: float = 10.0,
                 attempt_timeout: float = 2.0) -> None:
        check_cluster_name(cluster)
        if shard_count < 1:
            raise ValueError(f"shard_count must be at least 1, got {shard_count}")
        if timeout <= 0 or attempt_timeout <= 0:
            raise ValueError("timeout and attempt_timeout must be positive")
        if host is not None and host.manager.shards.shard_count != shard_count:
            # Its shards would be looked up by numbers the host does not use.
            raise ClusterConfigError(
                f"the router's shard_count={shard_count} differs from its host's "
                f"({host.manager.shards.shard_count}): use ClusterRouter.for_host(host)")
        self.nc = nc
        self.cluster = cluster
        self.commands = commands
        self.shard_count = shard_count
        self.host = host
        self.timeout = timeout
        self.attempt_timeout = attempt_timeout
        self._bucket = ClusterBucket(nc, cluster, min(timeout, attempt_timeout))
        self._follows = False  # connect(): take the cluster's count when it changes
        self._checked = False  # the cluster's settings name self.shard_count
        # Each run by one send at a time, shared by the others that ask meanwhile.
        self._settings_read = _Shared(self._read_shard_count)
        self._reconnect_if_deaf = _Shared(self._probe)
        self._hears = ReaderProbe(nc, nc.new_inbox())

    @classmethod
    def for_host(cls, host: ActorHost, *, timeout: float = 10.0,
                 attempt_timeout: float = 2.0) -> ClusterRouter:
        """The router of a node: same connection, cluster, shard count and commands as its
        host, and the host's shards served in process."""
        manager = host.manager
        return cls(manager.nc, manager.cluster, host.commands,
                   shard_count=manager.shards.shard_count, host=host, timeout=timeout,
                   attempt_timeout=attempt_timeout)

    @classmethod
    async def connect(cls, nc: Client, cluster: str, commands: CommandRegistry, *,
                      timeout: float = 10.0, attempt_timeout: float = 2.0) -> ClusterRouter:
        """The router of a process that runs no node (a client, a script): the shard count
        is read from the cluster's settings. UnknownClusterError if no node ever started."""
        settings = (await read_status(nc, cluster)).settings
        if settings is None:
            raise ClusterUnavailableError(
                f"cluster {cluster!r} has no settings yet: start one of its nodes first")
        router = cls(nc, cluster, commands, shard_count=settings.shard_count,
                     timeout=timeout, attempt_timeout=attempt_timeout)
        router._follows, router._checked = True, True
        return router

    async def send(self, actor_id: str, command: Command,
                   metadata: Mapping[str, str] | None = None) -> list[Event]:
        check_actor_id(actor_id)
        meta = command_metadata(actor_id, command, metadata)
        encoded = self.commands.encode(command)
        began = time.monotonic()
        if not self._checked:
            await self._check_shard_count()
        count = self.shard_count
        shard, payload = self._request(actor_id, encoded, meta)
        subject = shard_subject(self.cluster, shard)
        deadline = began + self.timeout
        delay = 0.01
        events: list[Event] = []  # got so far: a reply too large for one message comes in parts
        while True:
            if self.shard_count != count:  # followed the cluster to a new shard count
                count = self.shard_count
                shard, payload = self._request(actor_id, encoded, meta)
                subject = shard_subject(self.cluster, shard)
            after = events[-1].version + 1 if events else None
            if self.host is not None and self.host.serves(shard):
                try:
                    if after is None:
                        return await self.host.execute(actor_id, command, meta)
                    return events + await self.host.recorded(actor_id, command,
                                                             meta[COMMAND_ID], after)
                except ShardMovedError:
                    reason = "the shard moved away from this node"
            else:
                remaining = deadline - time.monotonic()
                request = payload if after is None else encode_request(
                    actor_id, shard, encoded, meta, from_version=after)
                try:
                    reply = await self.nc.request(
                        subject, request, timeout=max(0.001, min(self.attempt_timeout, remaining)))
                except nats.errors.NoRespondersError:
                    reason = "no node serves the shard yet"
                    # A shard the cluster does not have, had it been founded again with
                    # fewer; or the cluster was not there when this router looked.
                    await self._check_shard_count()
                except (nats.errors.TimeoutError, TimeoutError):
                    raise_if_cancelled()  # else a lost cancel would retry until the deadline
                    reason = "the owner did not answer in time"
                    await self._reconnect_if_deaf()
                except nats.errors.MaxPayloadError as exc:  # checked above: the server changed
                    raise InvalidCommandError(
                        f"the command for actor {actor_id[:80]!r} is {len(request)} bytes as "
                        f"sent, more than the NATS server takes ({exc})") from exc
                except jsapi.TRANSPORT_ERRORS as exc:  # the connection itself: as a store says
                    raise jsapi.unavailable(
                        f"sending a command for actor {actor_id[:80]!r} to cluster "
                        f"{self.cluster!r}", exc) from exc
                else:
                    try:
                        result = decode_reply(reply.data, actor_id, meta[COMMAND_ID],
                                              after or 1)
                    except InvalidCommandError:
                        # An owner hashing with another count refuses (nothing ran): the
                        # cluster may have been founded again since we checked.
                        await self._check_shard_count()
                        if self.shard_count == count:
                            raise
                        continue  # followed it: ask the new shard's owner
                    if not isinstance(result, RemoteCommandError):
                        events += result.events
                        if not result.more:
                            return events
                        delay = 0.01
                        continue  # ask for the rest at once
                    if result.kind != MOVED:
                        raise result
                    reason = "the shard is moving"
            if time.monotonic() + delay >= deadline:
                raise CommandTimeoutError(actor_id, shard, meta[COMMAND_ID], self.timeout,
                                          reason)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)

    async def _probe(self) -> None:
        """An attempt went unanswered: check that the connection still hears the server,
        and reconnect when it does not. A message anyone who learns this client's reply
        inbox can send it stops nats-py's reader for good (aether/nats_probe.py), the
        connection staying up, deaf, until its own pings fail minutes later (a node's
        discovery checks its heartbeats for the same; a client has none)."""
        if not self.nc.is_connected:
            return  # reconnecting already
        try:
            await self._hears(max(self.attempt_timeout, 1.0))
        except (nats.errors.TimeoutError, TimeoutError):
            log.warning("cluster %r: the NATS connection is up but hears nothing; "
                        "reconnecting", self.cluster)
            with contextlib.suppress(nats.errors.Error):
                await self.nc.force_reconnect()
        except nats.errors.Error:
            pass  # closing or reconnecting: nats-py recovers, or the send reports it

    def _request(self, actor_id: str, encoded: Mapping[str, object],
                 meta: Mapping[str, str]) -> tuple[int, bytes]:
        """The actor's shard and the request for it, refused when it cannot fit a message."""
        shard = shard_for(actor_id, self.shard_count)
        payload = encode_request(actor_id, shard, encoded, meta)
        # Refused wherever the actor lives (here too), so a command's fate never depends on
        # which node owns it at the time.
        # Room for the "from_version" that asks for the rest of a result sent in parts.
        limit = self.nc.max_payload - FROM_VERSION_RESERVE
        if len(payload) > limit:
            raise InvalidCommandError(
                f"the command for actor {actor_id[:80]!r} is {len(payload)} bytes as sent; "
                f"at most {limit} fit the NATS server's max_payload ({self.nc.max_payload}): "
                f"keep large data elsewhere and send a reference to it, or raise max_payload")
        return shard, payload

    async def _check_shard_count(self) -> None:
        """Compare the shard count with the cluster's settings, read afresh (sends that
        ask while a read runs share it); RouterShardCountError when they differ, or, for a
        router from ``connect``, take the cluster's count."""
        found = await self._settings_read()
        if found is None or found == self.shard_count:
            self._checked = found is not None
            return
        if not self._follows:
            self._checked = False
            raise RouterShardCountError(self.cluster, found, self.shard_count)
        log.warning("cluster %r now has %d shards, not %d (its KV bucket was created again?): "
                    "the router follows it", self.cluster, found, self.shard_count)
        self.shard_count, self._checked = found, True

    async def _read_shard_count(self) -> int | None:
        """The cluster's shard count; None while it has no settings or they cannot be read
        (no bucket yet answers "no responders" too): sending then tells what is wrong."""
        try:
            entry, _ = await self._bucket.read(SETTINGS_KEY)
        except (ClusterUnavailableError, StoreUnavailableError):
            raise_if_cancelled()
            return None
        if entry is None:
            return None
        try:
            return ClusterSettings.model_validate_json(entry.value).shard_count
        except ValidationError:
            return None  # junk is never trusted (types.py); no node starts on it either


class _Shared(Generic[T]):
    """``work()`` run once at a time: a call while it runs waits for that run instead of
    starting another. One task that every waiting caller wakes from at once (a lock would
    hand over to them one loop turn at a time, a long tail with a hundred senders); a caller
    cancelled meanwhile does not cancel it for the others."""

    def __init__(self, work: Callable[[], Coroutine[Any, Any, T]]) -> None:
        self._work = work
        self._running: asyncio.Task[T] | None = None

    async def __call__(self) -> T:
        if self._running is None:
            self._running = asyncio.create_task(self._work())
            self._running.add_done_callback(self._ended)
        return await asyncio.shield(self._running)

    def _ended(self, task: asyncio.Task[T]) -> None:
        self._running = None
        if not task.cancelled():
            task.exception()  # retrieved: each waiting caller raises it, if any waits
