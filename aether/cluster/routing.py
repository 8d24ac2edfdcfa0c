"""ClusterRouter: a CommandSender that delivers each command to the node owning its actor.

The router hashes the actor id to its shard (the cluster's stable hash and shard count) and
sends the command as a NATS request on the shard's subject (wire.py); whoever owns the shard
answers. A shard this process's own ActorHost serves runs in process, with no network hop.

While a shard moves (its old owner answers "moved", or nobody listens yet), and when an
attempt gets no answer within ``attempt_timeout``, the router tries again with the *same*
command id until ``timeout``: the owner executes a command id at most once and answers a
repeat with the original events, so a retry never doubles an effect. When ``timeout`` runs
out it raises CommandTimeoutError naming the command id, to resend later just as safely.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import nats.errors
from nats.aio.client import Client

from aether.cancelling import raise_if_cancelled
from aether.cluster.errors import ClusterUnavailableError
from aether.cluster.host import ActorHost
from aether.cluster.kv import check_cluster_name
from aether.cluster.shard import shard_for
from aether.cluster.status import read_status
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
    with_command_id,
)
from aether.event import COMMAND_ID, Event
from aether.limits import check_actor_id
from aether.store import jsapi


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
        self.nc = nc
        self.cluster = cluster
        self.commands = commands
        self.shard_count = shard_count
        self.host = host
        self.timeout = timeout
        self.attempt_timeout = attempt_timeout

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
        return cls(nc, cluster, commands, shard_count=settings.shard_count, timeout=timeout,
                   attempt_timeout=attempt_timeout)

    async def send(self, actor_id: str, command: Command,
                   metadata: Mapping[str, str] | None = None) -> list[Event]:
        check_actor_id(actor_id)
        meta = with_command_id(metadata)
        encoded = self.commands.encode(command)
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
        subject = shard_subject(self.cluster, shard)
        deadline = time.monotonic() + self.timeout
        delay = 0.01
        events: list[Event] = []  # got so far: a reply too large for one message comes in parts
        while True:
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
                except (nats.errors.TimeoutError, TimeoutError):
                    raise_if_cancelled()  # else a lost cancel would retry until the deadline
                    reason = "the owner did not answer in time"
                except nats.errors.MaxPayloadError as exc:  # checked above: the server changed
                    raise InvalidCommandError(
                        f"the command for actor {actor_id[:80]!r} is {len(request)} bytes as "
                        f"sent, more than the NATS server takes ({exc})") from exc
                except jsapi.TRANSPORT_ERRORS as exc:  # the connection itself: as a store says
                    raise jsapi.unavailable(
                        f"sending a command for actor {actor_id[:80]!r} to cluster "
                        f"{self.cluster!r}", exc) from exc
                else:
                    result = decode_reply(reply.data, actor_id, meta[COMMAND_ID], after or 1)
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
