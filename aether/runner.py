"""ReactionRunner: drives policies and read models from the store's feed, durably.

The runner follows the feed from the lowest position its handlers have reached, hands
each event to every handler that has not seen it (read models first, then policies, in
the order given) and checkpoints each handler's position. After a crash it resumes from
the checkpoints, so an event may be handled again; that is safe because a policy's
commands carry deterministic command ids (``Policy.command_id``) and a sender executes a
command id at most once (see ``Repository.execute``). Nothing shares a transaction with
the checkpoint, so this holds whichever node writes the commands' events.

Failures (aether/retry.py; aether/runner_delivery.py hands events to handlers): a handler
that raises is retried with exponential backoff; after ``RetryPolicy.attempts`` the event
is parked (aether/parking.py: kept with its error in the checkpoint store, readable and
replayable) and the runner goes on, or the runner halts, as configured. A DomainError from
a policy's command is an outcome (``rejections``), not a failure. An outage
(``TransientError``: the store down, a shard with no owner, a command timed out) is
neither: the runner waits with capped backoff and tries the same event again, as long as
it takes. A record in the feed that is not an event is parked once for the runner and
passed.

Exclusive runners (aether/lease.py; the runner's lease in aether/runner_lease.py): runners
of one name on a checkpoint store that keeps leases take turns. Only the one holding the
lease (``active``) handles events and saves checkpoints, checking the lease before each
event and each save; the others wait as standbys, and one takes over, from the
checkpoints, when the active one stops, dies or cannot renew its lease.

The handlers' positions and their checkpoints: aether/runner_positions.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence

from aether.cancelling import raise_if_cancelled
from aether.checkpoints import CheckpointStore, InMemoryCheckpointStore, ParkedEvent, check_name
from aether.command import CommandSender
from aether.errors import AetherError, StoreClosedError, TransientError
from aether.event import Event
from aether.feed import DEFAULT_BATCH, EventFeed, UndecodableEventError
from aether.parking import Parking
from aether.reactions import Policy, ReadModel
from aether.registry import EventRegistry
from aether.retry import MAX_PARKED_ERROR, RetryPolicy, RunnerHalted
from aether.runner_delivery import Delivery
from aether.runner_lease import LEASE_TTL, LeaseLostError, check_lease_ttl, hold, runner_lease
from aether.runner_positions import Positions
from aether.runner_state import Rejection, RunnerCounters, runner_handlers

__all__ = ["MAX_PARKED_ERROR", "LeaseLostError", "ReactionRunner", "Rejection", "RetryPolicy",
           "RunnerCounters", "RunnerHalted", "settle"]

logger = logging.getLogger(__name__)


class ReactionRunner:
    """Feeds every event after its checkpoints to its read models and policies.

    ``checkpoints=None`` keeps positions on the handler objects (in process: fine for
    tests; a restarted process replays from 0, and policies' commands are deduplicated by
    command id within each aggregate's remembered window). In production pass a durable
    ``CheckpointStore`` (e.g. ``JetStreamCheckpointStore.for_store``): policies and
    ``durable`` read models are then checkpointed there, whenever ``checkpoint_every``
    events have been handled or commands sent since the last checkpoint, and whenever the
    runner catches up. Counting commands bounds what a crash makes a policy send again:
    an aggregate remembers only its last ``remembered_commands`` command ids, and a
    policy fanning out many commands per event would otherwise resend, after a crash,
    more than the aggregate remembers: each one forgotten runs again, and (stored as the
    newest) pushes out the next one the runner resends.

    ``exclusive``: runners of one name exclude each other through a lease in the
    checkpoint store (``lease_ttl`` seconds, renewed every quarter of it): one is
    ``active``, the others wait as standbys. The default (None) is exclusive whenever the
    checkpoint store keeps leases (``JetStreamCheckpointStore`` across processes,
    ``InMemoryCheckpointStore`` within one); ``exclusive=False`` lets copies run side by
    side, each doing all the work.
    """

    def __init__(
        self,
        name: str,
        store: EventFeed,
        registry: EventRegistry,
        sender: CommandSender,
        *,
        policies: Sequence[Policy] = (),
        read_models: Sequence[ReadModel] = (),
        checkpoints: CheckpointStore | None = None,
        retry: RetryPolicy | None = None,
        checkpoint_every: int = 100,
        exclusive: bool | None = None,
        lease_ttl: float = LEASE_TTL,
    ) -> None:
        check_name("a ReactionRunner's name", name)
        if checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be at least 1, got {checkpoint_every}")
        self.name = name
        self.store = store
        self.registry = registry
        self.sender = sender
        self.retry = retry or RetryPolicy()
        self.checkpoint_every = checkpoint_every
        self.counters = RunnerCounters()
        self.rejections: deque[Rejection] = deque(maxlen=1000)
        self.error: BaseException | None = None
        self.policies = tuple(policies)
        self.read_models = tuple(read_models)
        self._parking = Parking(name, checkpoints or InMemoryCheckpointStore(), store)
        handlers = runner_handlers(read_models, policies, checkpoints is not None)
        self._types = frozenset().union(*(handler.types for handler in handlers))
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Event()
        self.lease_ttl = check_lease_ttl(lease_ttl)
        self._lease = runner_lease(name, checkpoints, exclusive, lease_ttl,
                                   any(handler.checkpointed for handler in handlers),
                                   alive=self._alive, counters=self.counters,
                                   progress=self._progress, grace=lease_ttl)
        self._positions = Positions(name, store, handlers, checkpoints, self._lease,
                                    self._progress)
        self._delivery = Delivery(name, registry, sender, retry=self.retry,
                                  counters=self.counters, rejections=self.rejections,
                                  parking=self._parking, positions=self._positions,
                                  lease=self._lease)

    # ---- observing ---------------------------------------------------------------------

    @property
    def position(self) -> int:
        """The feed position every handler has handled (or skipped) up to."""
        return self._positions.position

    @property
    def lag(self) -> int:
        """Events between ``position`` and the newest the runner has seen in the store."""
        return max(0, self._positions.head - self.position)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def active(self) -> bool:
        """Running and handling events: not a standby waiting for another runner of its
        name to let go of the lease."""
        return self.running and (self._lease is None or self._lease.held())

    @property
    def exclusive(self) -> bool:
        """Whether the runner takes turns with the others of its name, by a lease."""
        return self._lease is not None

    async def parked(self) -> list[ParkedEvent]:
        """Events handlers kept failing on, and records of the feed that were not events
        (``handler == UNDECODABLE``), ordered by handler, then position."""
        return await self._parking.parked()

    async def wait_caught_up(self) -> None:
        """Wait until the runner has handled every event in the store at the time of the
        call; raises the runner's error if it stopped on one. On a standby: until the
        runner of its name that is active has checkpointed them, or this one took over
        and handled them."""
        target = await self.store.last_position()
        self._positions.head = max(self._positions.head, target)
        while not await self._reached(target):
            if self.error is not None:
                raise self.error
            if not self.running:
                raise AetherError(f"reaction runner {self.name!r} is not running: start it")
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0 if self.active else 0.25):
                    await self._progress.wait()

    async def _reached(self, target: int) -> bool:
        if self.position >= target:
            return True
        if self.active or self._lease is None:
            return False
        # A standby: the active runner's progress shows in the checkpoints it saves.
        return await self._positions.saved_reach(target)

    # ---- running -----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the checkpoints and follow the feed in a background task."""
        if self.running:
            raise AetherError(f"reaction runner {self.name!r} is already running")
        self.error = None
        # A start reads the checkpoints afresh: a reset since counts.
        for handler in self._positions.checkpointed:
            handler.position = handler.saved = 0
        try:
            await self._positions.load()
            loaded = True
        except StoreClosedError:
            raise
        except TransientError as exc:
            # An outage as the service starts: wait it out in the background, as one met
            # while running is (a CheckpointAheadError still stops the runner then).
            logger.warning("reaction runner %r could not read its checkpoints yet (outage): "
                           "%s; trying again in the background", self.name, exc)
            loaded = False
        self._task = asyncio.create_task(self._run(loaded), name=f"reactions:{self.name}")
        if self._lease is not None:
            try:
                await self._lease.begin(self._task)
            except BaseException:
                await self.stop()
                raise

    async def stop(self) -> None:
        """Stop following and save the checkpoints reached; an exclusive runner then lets
        go of its lease, so a standby takes over at once."""
        lease = self._lease if self._lease is not None and self._lease.term is not None else None
        if lease is not None:
            await lease.stop_renewing()  # its lease stays valid for the last save
        task, self._task = self._task, None
        if task is not None:
            # On 3.11, asyncio.wait_for (used inside nats-py too) can swallow a cancellation
            # that lands as its inner future completes: cancel until the task has ended.
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=1.0)
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            if lease is None or lease.term:  # a standby has nothing to save
                await self._flush_unless_closed()
        except LeaseLostError:
            logger.warning("reaction runner %r lost its lease as it stopped: its last "
                           "positions were not saved", self.name)
        finally:
            if lease is not None:
                await lease.release()

    async def wait_quiet(self) -> None:
        """Wait until the runner has handled every event in the store, the ones its own
        policies' commands add meanwhile included: ``wait_caught_up`` until a catch-up ends
        with nothing new stored. For a point where the other writers have stopped (the end
        of a demo or a batch): while they go on, it waits for them too."""
        while True:
            target = await self.store.last_position()
            await self.wait_caught_up()
            # A command a policy issued for an event is stored before the runner moves
            # past that event: a store that did not grow since holds nothing unhandled.
            if await self.store.last_position() == target:
                return

    async def settle(self) -> list[tuple[Event, Policy]]:
        """Handle every event not handled yet, including those the handlers' own commands
        produce, until the feed has nothing more; returns (event, policy) for each policy
        that issued commands. Raises the error the runner stopped on, if any."""
        await self._positions.load()
        reactions: list[tuple[Event, Policy]] = []
        while self.error is None:
            try:
                pairs = await self.store.read_all(self.position, DEFAULT_BATCH,
                                                  event_types=self._types)
            except UndecodableEventError as poison:
                try:
                    await self._delivery.undecodable(poison)
                except RunnerHalted as halted:
                    self.error = halted
                continue
            if not pairs:
                break
            for position, event in pairs:
                if not await self._process(position, event, reactions):
                    break
        await self._positions.flush()
        if self.error is not None:
            raise self.error
        return reactions

    async def replay_parked(self) -> int:
        """Try every parked event of this runner once more; returns how many succeeded
        (and were unparked). Events are replayed out of feed order; a parked record that
        was not an event is read again from the store (see aether/parking.py)."""
        hold(self._lease)  # a standby replays nothing: the active runner of its name may
        handlers = {handler.name: handler for handler in self._positions.handlers}

        async def deliver(name: str, position: int, event: Event) -> None:
            await self._delivery.deliver(handlers[name], position, event, None)

        return await self._parking.replay(
            [(handler.name, handler.types) for handler in self._positions.handlers], deliver)

    async def _run(self, loaded: bool = True) -> None:
        try:
            while True:
                if self._lease is not None:
                    await self._lease.turn()  # a standby until then
                    # Whatever the lease record says, read the checkpoints: positions loaded
                    # before this term may be long stale (a standby's, or a write of the
                    # lease whose answer was lost); Positions.load keeps the further of the
                    # two, so a runner that kept the lease through an outage goes on.
                    loaded = False
                try:
                    await self._handle(loaded)
                    break  # halted
                except LeaseLostError:
                    await self._positions.save_done()
                    continue  # a standby again (the lease said so, and logged it)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.error = exc
            logger.exception("reaction runner %r stopped", self.name)
        finally:
            self._progress.set()
        with contextlib.suppress(LeaseLostError):
            await self._flush_unless_closed()

    def _alive(self) -> bool:
        return self.running

    async def _handle(self, loaded: bool) -> None:
        """Follow the feed (after loading the checkpoints, unless ``loaded``) until halted,
        waiting out outages."""
        outages = 0
        while True:
            reached = self.position
            try:
                if not loaded:
                    await self._positions.load()
                    loaded = True
                await self._follow()
                return  # halted
            except StoreClosedError:
                raise  # no retry can succeed on a closed connection: stop, saying so
            except TransientError as exc:
                # The infrastructure, not a handler or the event, failed: wait and try
                # again from the positions reached; nothing is parked for an outage.
                outages = 1 if self.position > reached else outages + 1
                self.counters.outages += 1
                logger.warning("reaction runner %r paused at position %d (outage, try "
                               "%d): %s", self.name, self.position, outages, exc)
                raise_if_cancelled()
                await asyncio.sleep(self.retry.delay(outages))

    async def _follow(self) -> None:
        """Follow the feed from the handlers' positions; returns when halted."""
        async with self.store.follow(self.position, event_types=self._types) as feed:
            # Events no handler reads (e.g. those the policies' own commands produce) are
            # skipped by the feed; without this the position, lag and checkpoints stayed at
            # the last event read until another one came, and wait_caught_up hung.
            feed.on_skipped(self._positions.skipped_to)
            feed.on_undecodable(self._delivery.undecodable)
            async for position, event in feed:
                if not await self._process(position, event, None):
                    return
                if feed.pending() == 0:
                    # Caught up: nothing up to the feed's position is left to handle.
                    self._positions.advance_to(feed.position)
                    await self._positions.flush()
                elif self._positions.since_flush >= self.checkpoint_every:
                    await self._positions.flush()

    async def _process(self, position: int, event: Event,
                       reactions: list[tuple[Event, Policy]] | None) -> bool:
        """Hand one event to every handler that has not seen it; False when halted."""
        try:
            await self._delivery.process(position, event, reactions)
        except RunnerHalted as halted:
            self.error = halted
            logger.error("%s", halted)
            return False
        return True

    async def _flush_unless_closed(self) -> None:
        """``Positions.flush``, but a checkpoint store whose connection is closed for good,
        when the runner stopped on that already, is not an error again (the checkpoints are
        then not saved, and the handlers resume from the last saved ones)."""
        try:
            await self._positions.flush()
        except StoreClosedError:
            if not isinstance(self.error, StoreClosedError):
                raise


async def settle(store: EventFeed, registry: EventRegistry, sender: CommandSender,
                 policies: Sequence[Policy] = (), read_models: Sequence[ReadModel] = (),
                 ) -> list[tuple[Event, Policy]]:
    """Feed every event the given handlers have not seen yet, from the store's feed, to
    the read models and policies, and keep going while the commands they send produce
    more, until all is quiet.

    For tests, demos and single-process apps: positions live on the handler objects (call
    it again later and each continues where it stopped), and the first handler error is
    raised. Long-running services use ``ReactionRunner.start``. Returns which policy
    reacted to which event, in order.
    """
    runner = ReactionRunner("settle", store, registry, sender, policies=policies,
                            read_models=read_models,
                            retry=RetryPolicy(attempts=1, on_exhausted="halt"))
    try:
        return await runner.settle()
    except RunnerHalted as halted:
        # In a test the handler's own error says most.
        raise (halted.__cause__ or halted) from None
