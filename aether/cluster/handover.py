"""ShardListeners: which shards an ActorHost listens on, and how a shard changes hands.

A node given a shard first asks whoever still listens on the shard's subject to let go
(a request with the ``CONTROL: RELEASE`` header), then subscribes (``gain``). A node losing
a shard stops taking its commands, waits for those in flight (up to ``drain_timeout``),
drops its cached aggregates, then unsubscribes (``lose``), and only then answers a release
request with ``RELEASED`` (``release``). So the old owner has let go before the new one
serves; the store's optimistic concurrency covers what a timeout lets through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from aether.cancelling import raise_if_cancelled
from aether.cluster.manager import ClusterManager
from aether.cluster.wire import shard_subject

log = logging.getLogger("aether.cluster")

CONTROL, RELEASE = "Aether-Control", "release"
"""A request with this header on a shard's subject asks its current listener to let go."""
RELEASED, HELD = b"released", b"held"


class ShardListeners:
    """The shard subscriptions of one host (see the module docstring).

    ``on_message`` gets every message on a subscribed shard's subject; ``drop_cached``
    forgets the cached aggregates of the given shards; ``inflight`` counts the commands
    running per shard (the host keeps it, and calls ``finished`` when one ends).
    """

    def __init__(self, manager: ClusterManager, on_message: Callable[[Msg], Awaitable[None]],
                 drop_cached: Callable[[set[int]], None], inflight: dict[int, int], *,
                 drain_timeout: float, handover_timeout: float) -> None:
        self.manager = manager
        self.drain_timeout = drain_timeout
        self.handover_timeout = handover_timeout
        self._on_message = on_message
        self._drop_cached = drop_cached
        self._inflight = inflight
        self._subscriptions: dict[int, Subscription] = {}
        self._accepting: set[int] = set()
        self._taking: dict[int, asyncio.Task[None]] = {}
        self._drained = asyncio.Condition()

    def accepting(self, shard: int) -> bool:
        """True while commands of ``shard`` are taken: subscribed, and not being let go."""
        return shard in self._accepting

    def held(self) -> frozenset[int]:
        """The shards subscribed to or being claimed."""
        return frozenset(self._subscriptions) | frozenset(self._taking)

    def claiming(self) -> bool:
        return bool(self._taking)

    async def finished(self) -> None:
        """A command ended: wake whoever waits for a shard to drain."""
        async with self._drained:
            self._drained.notify_all()

    def gain(self, shards: frozenset[int]) -> None:
        # Taking a shard waits for its old owner to let go, in the background: the shard
        # manager's loop (which called us) must not stall on a slow or dead old owner.
        for shard in sorted(shards - self.held()):
            self._taking[shard] = asyncio.create_task(self._take(shard))

    async def _take(self, shard: int) -> None:
        """Ask whoever still listens on the shard's subject to release it, then listen."""
        manager = self.manager
        subject = shard_subject(manager.cluster, shard)
        deadline = time.monotonic() + self.handover_timeout
        try:
            while time.monotonic() < deadline:
                try:
                    reply = await manager.nc.request(
                        subject, b"", timeout=manager.timing.request_timeout,
                        headers={CONTROL: RELEASE})
                except nats.errors.NoRespondersError:
                    break  # nobody listens: the shard is free
                except (nats.errors.TimeoutError, TimeoutError):
                    raise_if_cancelled()  # a cancel nats-py's request turned into a timeout
                    # Nobody answered: a lagging or paused owner, or only listeners that
                    # never answer (an operator's plain `nats sub '>'` hears every request).
                    # Waiting is for an owner that is still a member; one that is not
                    # refuses commands already.
                    if manager.shards.holder_gone(shard):
                        break
                    continue
                if reply.data == RELEASED:
                    break
                await asyncio.sleep(manager.timing.heartbeat_interval)
            else:
                log.warning("node %s: shard %d not released in %.1fs; serving it anyway (the "
                            "store's concurrency check protects it)", manager.node_id, shard,
                            self.handover_timeout)
            # A lapse of this node's membership lease empties my_shards() for a moment,
            # which the shard manager may never report (it reports what differs between its
            # rounds): wait it out. A shard really lost is reported, and lose cancels this.
            # Polled: the lease is a deadline on the clock, renewed by each heartbeat.
            while shard not in manager.my_shards():
                raise_if_cancelled()
                await asyncio.sleep(manager.timing.heartbeat_interval)
            await self._listen(shard, subject)
        except nats.errors.Error as exc:
            log.warning("node %s: could not take shard %d: %s", manager.node_id, shard, exc)
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
            subject, cb=self._on_message))
        try:
            subscription = await asyncio.shield(subscribing)
        except asyncio.CancelledError:
            with contextlib.suppress(nats.errors.Error):
                await (await subscribing).unsubscribe()
            raise
        # Whatever is cached for the shard dates from an earlier tenure: another node may
        # have written since, and a refusal decided on a stale copy is never checked by a
        # save. Start from the store.
        self._drop_cached({shard})
        self._subscriptions[shard] = subscription
        self._accepting.add(shard)

    async def lose(self, shards: frozenset[int]) -> None:
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
        inflight = self._inflight

        def drained() -> bool:
            return all(inflight.get(shard, 0) == 0 for shard in lost)

        async with self._drained:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait_for(drained), self.drain_timeout)
        self._drop_cached(set(lost))
        for shard in lost:
            # Another lose (the host stopping while a shard change is handled) may have
            # taken it meanwhile.
            subscription = self._subscriptions.pop(shard, None)
            if subscription is not None:
                with contextlib.suppress(nats.errors.Error):
                    await subscription.unsubscribe()
        await self.finished()  # release requests waiting on these shards

    async def release(self, shard: int) -> bytes:
        """A new owner asks for ``shard``: answer once we stopped listening (our table agrees
        and the shard is drained), or say we still hold it and let the requester ask again."""
        if shard in self._accepting:
            self.manager.shards.wake()  # read the table now rather than at the next poll
        async with self._drained:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait_for(
                    lambda: shard not in self._subscriptions), self.handover_timeout / 2)
        return HELD if shard in self._subscriptions else RELEASED
