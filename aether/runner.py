"""ReactionRunner: drives policies and read models from the store's feed, durably.

The runner follows the feed from the lowest position its handlers have reached, hands
each event to every handler that has not seen it (read models first, then policies, in
the order given) and checkpoints each handler's position. After a crash it resumes from
the checkpoints, so an event may be handled again; that is safe because a policy's
commands carry deterministic command ids (``Policy.command_id``) and a sender executes a
command id at most once (see ``Repository.execute``). Nothing shares a transaction with
the checkpoint, so this holds whichever node writes the commands' events.

Failures (aether/retry.py): a handler that raises is retried with exponential backoff;
after ``RetryPolicy.attempts`` the event is parked (aether/parking.py: kept with its error
in the checkpoint store, readable and replayable) and the runner goes on, or the runner
halts, as configured. A DomainError from a policy's command is an outcome
(``rejections``), not a failure. An outage (``TransientError``: the store down, a shard
with no owner, a command timed out) is neither: the runner waits with capped backoff and
tries the same event again, as long as it takes. A record in the feed that is not an event
is parked once for the runner and passed.

Exclusive runners (aether/lease.py): runners of one name on a checkpoint store that keeps
leases take turns. Only the one holding the lease (``active``) handles events and saves
checkpoints, checking the lease before each event and each save; the others wait as
standbys, and one takes over, from the checkpoints, when the active one stops, dies or
cannot renew its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Sequence

from aether.cancelling import raise_if_cancelled
from aether.checkpoints import (
    UNDECODABLE,
    CheckpointAheadError,
    CheckpointStore,
    InMemoryCheckpointStore,
    ParkedEvent,
    check_name,
)
from aether.command import CommandSender
from aether.errors import AetherError, StoreClosedError, TransientError
from aether.event import Event
from aether.feed import DEFAULT_BATCH, EventFeed, UndecodableEventError
from aether.lease import SAFETY
from aether.parking import Parking
from aether.reactions import Policy, ReadModel
from aether.registry import EventRegistry
from aether.retry import MAX_PARKED_ERROR, RetryPolicy, RunnerHalted, is_transient
from aether.runner_state import (
    LEASE_TTL,
    MIN_LEASE_TTL,
    Handler,
    LeaseLostError,
    Rejection,
    RunnerCounters,
    handler_types,
    runner_lease,
)

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
        self._checkpoints = checkpoints
        self._parking = Parking(name, checkpoints or InMemoryCheckpointStore(), store)
        self._handlers = [
            *(Handler(rm, checkpoints is not None and rm.durable, handler_types(rm, rm.reads))
              for rm in read_models),
            *(Handler(policy, checkpoints is not None, handler_types(policy, policy.reacts_to))
              for policy in policies),
        ]
        names = [handler.name for handler in self._handlers]
        for handler_name in names:
            check_name("handler name", handler_name)
        if UNDECODABLE in names:
            raise ValueError(f"{UNDECODABLE!r} is reserved for records the feed cannot decode: "
                             f"give the handler another name")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"handler names must be unique within a runner (checkpoints are "
                             f"kept by name); repeated: {', '.join(duplicates)}")
        self._types = frozenset().union(*(handler.types for handler in self._handlers))
        self._checkpointed = [handler for handler in self._handlers if handler.checkpointed]
        self._task: asyncio.Task[None] | None = None
        self._head = 0
        self._since_flush = 0
        self._progress = asyncio.Event()
        if isinstance(lease_ttl, bool) or not isinstance(lease_ttl, int | float) \
                or not MIN_LEASE_TTL <= lease_ttl < math.inf:
            raise ValueError(f"lease_ttl is the seconds a runner's lease lasts without "
                             f"renewal: a number of at least {MIN_LEASE_TTL}, got {lease_ttl!r}")
        self.lease_ttl = float(lease_ttl)
        self._lease = runner_lease(name, checkpoints, exclusive, lease_ttl,
                                   bool(self._checkpointed),
                                   alive=self._alive, counters=self.counters,
                                   progress=self._progress, grace=lease_ttl)

    # ---- observing ---------------------------------------------------------------------

    @property
    def position(self) -> int:
        """The feed position every handler has handled (or skipped) up to."""
        return min((handler.position for handler in self._handlers), default=self._head)

    @property
    def lag(self) -> int:
        """Events between ``position`` and the newest the runner has seen in the store."""
        return max(0, self._head - self.position)

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
        self._head = max(self._head, target)
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
        if self.active or self._lease is None or self._checkpoints is None:
            return False
        # A standby: the active runner's progress shows in the checkpoints it saves.
        for handler in self._checkpointed:
            if await self._checkpoints.load(self.name, handler.name) < target:
                return False
        return bool(self._checkpointed)

    # ---- running -----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the checkpoints and follow the feed in a background task."""
        if self.running:
            raise AetherError(f"reaction runner {self.name!r} is already running")
        self.error = None
        for handler in self._checkpointed:  # a start reads them afresh: a reset since counts
            handler.position = handler.saved = 0
        try:
            await self._load_positions()
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
        await self._load_positions()
        reactions: list[tuple[Event, Policy]] = []
        while self.error is None:
            try:
                pairs = await self.store.read_all(self.position, DEFAULT_BATCH,
                                                  event_types=self._types)
            except UndecodableEventError as poison:
                try:
                    await self._undecodable(poison)
                except RunnerHalted as halted:
                    self.error = halted
                continue
            if not pairs:
                break
            for position, event in pairs:
                if not await self._process(position, event, reactions):
                    break
        await self._flush()
        if self.error is not None:
            raise self.error
        return reactions

    async def replay_parked(self) -> int:
        """Try every parked event of this runner once more; returns how many succeeded
        (and were unparked). Events are replayed out of feed order; a parked record that
        was not an event is read again from the store (see aether/parking.py)."""
        self._hold()  # a standby replays nothing: the active runner of its name may
        handlers = {handler.name: handler for handler in self._handlers}

        async def deliver(name: str, position: int, event: Event) -> None:
            await self._deliver(handlers[name], position, event, None)

        return await self._parking.replay(
            [(handler.name, handler.types) for handler in self._handlers], deliver)

    async def _load_positions(self) -> None:
        for handler in self._handlers:
            if handler.checkpointed and self._checkpoints is not None:
                # The further of the saved checkpoint and what this runner handled itself
                # (more, when it kept its lease through an outage it could not save in):
                # every event up to either was handled.
                handler.saved = await self._checkpoints.load(self.name, handler.name)
                handler.position = max(handler.position, handler.saved)
        last = await self.store.last_position()
        for handler in self._handlers:
            # A feed's positions only grow: one behind a checkpoint is another history (the
            # stream recreated or restored from an older backup, another store). Following
            # it from the checkpoint would skip, without a word, every event up to there.
            if handler.position > last:
                raise CheckpointAheadError(self.name, handler.name, handler.position, last)
        self._head = max(self._head, last)

    async def _run(self, loaded: bool = True) -> None:
        try:
            while True:
                if self._lease is not None:
                    await self._lease.turn()  # a standby until then
                    # Whatever the lease record says, read the checkpoints: positions loaded
                    # before this term may be long stale (a standby's, or a write of the
                    # lease whose answer was lost); _load_positions keeps the further of the
                    # two, so a runner that kept the lease through an outage goes on.
                    loaded = False
                try:
                    await self._handle(loaded)
                    break  # halted
                except LeaseLostError:
                    await self._save_done()
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

    def _hold(self) -> None:
        """LeaseLostError when this runner is started exclusive and does not hold the lease
        it began its term under: it may neither handle an event nor save a checkpoint."""
        if self._lease is not None:
            self._lease.check()

    async def _handle(self, loaded: bool) -> None:
        """Follow the feed (after loading the checkpoints, unless ``loaded``) until halted,
        waiting out outages."""
        outages = 0
        while True:
            reached = self.position
            try:
                if not loaded:
                    await self._load_positions()
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
            feed.on_skipped(self._skipped_to)
            feed.on_undecodable(self._undecodable)
            async for position, event in feed:
                if not await self._process(position, event, None):
                    return
                if feed.pending() == 0:
                    # Caught up: nothing up to the feed's position is left to handle.
                    self._advance_to(feed.position)
                    await self._flush()
                elif self._since_flush >= self.checkpoint_every:
                    await self._flush()

    async def _skipped_to(self, position: int) -> None:
        self._advance_to(position)
        await self._flush()

    async def _undecodable(self, poison: UndecodableEventError) -> None:
        """A record of the feed that is not an event, met once every event before it was
        handled: retrying cannot help, so park it (one record for the runner, whichever
        handler might have read it), count it, and pass it; or halt, if so configured.
        Parked before the checkpoint moves past it: a crash in between parks it again
        (same key, one record), never loses it."""
        if self._passed_before(poison.position):
            # Every checkpointed handler passed it in an earlier life, which parked it (and
            # someone may have dismissed it since): only the in-memory handlers, reading
            # from 0 again, meet it now. Parked again, it would come back on every start.
            self.counters.undecodable += 1
            self.counters.processed += 1
            logger.info("reaction runner %r passed the record at position %d again (parked "
                        "when first met): %s", self.name, poison.position, poison)
            self._advance_to(poison.position)
            return
        if self.retry.on_exhausted == "halt":
            raise RunnerHalted(self.name, UNDECODABLE, poison.position, poison) from poison
        self._hold()
        await self._parking.park_undecodable(poison)
        self.counters.undecodable += 1
        self.counters.parked += 1
        logger.error("reaction runner %r parked the record at position %d: %s", self.name,
                     poison.position, poison)
        self.counters.processed += 1
        self._advance_to(poison.position)
        await self._flush()

    def _passed_before(self, position: int) -> bool:
        """True when each checkpointed handler (there is one at least) has a saved
        checkpoint at or past ``position``."""
        if self._checkpoints is None:
            return False
        return bool(self._checkpointed) and all(handler.saved >= position
                                                for handler in self._checkpointed)

    def _check_pace(self, handler: Handler, position: int, took: float) -> None:
        """Warn when a handler took longer than the lease can be trusted: a handler that
        blocks the event loop keeps the lease from being renewed, and another runner of
        the name takes over and handles the same events again."""
        if self._lease is not None and took > SAFETY * self.lease_ttl:
            logger.warning(
                "reaction runner %r: %s took %.1f s on position %d, longer than its lease "
                "lasts (lease_ttl %.1f s): another runner of the name may have taken over and "
                "handle it again; give lease_ttl more than the slowest handler takes, or "
                "make the handler await its I/O", self.name, handler.name, took, position,
                self.lease_ttl)

    def _advance_to(self, position: int) -> None:
        self._head = max(self._head, position)
        for handler in self._handlers:
            handler.position = max(handler.position, position)
        self._progress.set()

    async def _process(self, position: int, event: Event,
                       reactions: list[tuple[Event, Policy]] | None) -> bool:
        """Hand one event to every handler that has not seen it; False when halted."""
        for handler in self._handlers:
            if handler.position >= position:
                continue
            if event.event_type in handler.types:
                began = time.monotonic()
                try:
                    await self._deliver_with_retries(handler, position, event, reactions)
                except RunnerHalted as halted:
                    self.error = halted
                    logger.error("%s", halted)
                    return False
                self._check_pace(handler, position, time.monotonic() - began)
            handler.position = position
        self.counters.processed += 1
        self._since_flush += 1
        self._head = max(self._head, position)
        self._progress.set()
        return True

    async def _deliver_with_retries(self, handler: Handler, position: int, event: Event,
                                    reactions: list[tuple[Event, Policy]] | None) -> None:
        attempt = 0
        while True:
            attempt += 1
            self._hold()
            try:
                await self._deliver(handler, position, event, reactions)
                return
            except Exception as exc:
                if is_transient(exc):
                    raise  # an outage, not this handler's fault: _run waits and resumes
                if attempt < self.retry.attempts:
                    self.counters.retried += 1
                    logger.warning("%s failed on position %d (attempt %d), retrying: %r",
                                   handler.name, position, attempt, exc)
                    await asyncio.sleep(self.retry.delay(attempt))
                    continue
                if self.retry.on_exhausted == "halt":
                    raise RunnerHalted(self.name, handler.name, position, exc) from exc
                self._hold()
                await self._parking.park_failure(handler.name, position, event, exc, attempt)
                self.counters.parked += 1
                logger.error("%s parked the event at position %d after %d attempts: %r",
                             handler.name, position, attempt, exc)
                return

    async def _deliver(self, handler: Handler, position: int, event: Event,
                       reactions: list[tuple[Event, Policy]] | None) -> None:
        target = handler.target
        if isinstance(target, ReadModel):
            target.handle(event, self.registry)
            return
        outcomes = await target.handle(event, self.registry, self.sender)
        self._since_flush += len(outcomes)  # each a command resent after a crash
        for outcome in outcomes:
            if outcome.refused is not None:
                self.counters.rejected += 1
                self.rejections.append(Rejection(position, target.name, outcome))
        if outcomes and reactions is not None:
            reactions.append((event, target))

    async def _flush_unless_closed(self) -> None:
        """``_flush``, but a checkpoint store whose connection is closed for good, when the
        runner stopped on that already, is not an error again (the checkpoints are then
        not saved, and the handlers resume from the last saved ones)."""
        try:
            await self._flush()
        except StoreClosedError:
            if not isinstance(self.error, StoreClosedError):
                raise

    async def _flush(self, hold: bool = True) -> None:
        self._since_flush = 0
        if self._checkpoints is None:
            return
        for handler in self._handlers:
            if handler.checkpointed and handler.position > handler.saved:
                position = handler.position
                if hold:
                    self._hold()
                await self._checkpoints.save(self.name, handler.name, position)
                handler.saved = position

    async def _save_done(self) -> None:
        """Save how far the handlers got, the lease lost meanwhile: the events were handled
        (a handler that outlasted the lease finished its event), and a save only moves a
        checkpoint forward, so the runner that took over is never set back. Without it, a
        handler slower than the lease made two runners take the same event from each
        other for ever. An outage here only loses the save: the events are handled again."""
        try:
            await self._flush(hold=False)
        except TransientError as exc:
            logger.warning("reaction runner %r could not save its positions after losing its "
                           "lease: %s", self.name, exc)


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
