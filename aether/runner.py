"""ReactionRunner: drives policies and read models from the store's feed, durably.

The runner follows the feed from the lowest position its handlers have reached, hands
each event to every handler that has not seen it (read models first, then policies, in
the order given) and checkpoints each handler's position. After a crash it resumes from
the checkpoints, so an event may be handled again; that is safe because a policy's
commands carry deterministic command ids (``Policy.command_id``) and a sender executes a
command id at most once (see ``Repository.execute``). Nothing shares a transaction with
the checkpoint, so this holds whichever node writes the commands' events.

A handler that raises is retried with exponential backoff; after ``RetryPolicy.attempts``
the event is parked (kept with its error in the checkpoint store, readable and
replayable) and the runner goes on, or the runner halts, as configured. A DomainError from
a policy's command is an outcome (``rejections``), not a failure. StoreUnavailableError
(NATS down) is neither: the runner waits with backoff and resumes from its positions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from aether.checkpoints import (
    CheckpointAheadError,
    CheckpointStore,
    InMemoryCheckpointStore,
    ParkedEvent,
)
from aether.command import CommandSender
from aether.errors import AetherError, StoreUnavailableError
from aether.event import Event
from aether.feed import DEFAULT_BATCH, EventFeed, FeedArgumentError, normal_types
from aether.reactions import Outcome, Policy, ReadModel
from aether.registry import EventRegistry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing handler is tried on one event, and what happens then."""

    attempts: int = 5
    backoff: float = 0.1
    """Seconds before the first retry; doubled for each further one."""
    max_backoff: float = 10.0
    on_exhausted: Literal["park", "halt"] = "park"

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, got {self.attempts}")

    def delay(self, attempt: int) -> float:
        return float(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))


@dataclass
class RunnerCounters:
    processed: int = 0
    """Events the runner went through (whether or not a handler wanted them)."""
    retried: int = 0
    parked: int = 0
    rejected: int = 0
    """Policy commands an aggregate refused with a DomainError."""


@dataclass(frozen=True)
class Rejection:
    position: int
    policy: str
    outcome: Outcome


class RunnerHalted(AetherError):
    """A handler kept failing and the runner is configured to halt rather than park."""

    def __init__(self, runner: str, handler: str, position: int, error: BaseException) -> None:
        self.runner, self.handler, self.position = runner, handler, position
        super().__init__(
            f"reaction runner {runner!r} halted: {handler} failed on the event at position "
            f"{position}: {error!r}; fix the handler and start the runner again (it resumes "
            f"at that event), or configure RetryPolicy(on_exhausted='park')"
        )


@dataclass(eq=False)
class _Handler:
    target: Policy | ReadModel
    checkpointed: bool
    types: frozenset[str]
    saved: int = 0

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def position(self) -> int:
        return self.target.position

    @position.setter
    def position(self, value: int) -> None:
        # In-process positions live on the handler object, beside the state they describe.
        self.target.position = value


MAX_PARKED_ERROR = 2000
"""Characters of a handler's error kept with a parked event. The record must fit one
message of the checkpoint store (a NATS server's max_payload, 1 MiB by default) beside the
event itself; an error whose text is a whole response body or a big repr would not, and the
runner, unable to park, stopped instead of going on."""


def _described(error: BaseException) -> str:
    text = repr(error)
    if len(text) <= MAX_PARKED_ERROR:
        return text
    return f"{text[:MAX_PARKED_ERROR]}... ({len(text)} characters in all)"


def _types(target: Policy | ReadModel, names: object) -> frozenset[str]:
    """The event types a handler declares (``reacts_to`` / ``reads``), or FeedArgumentError:
    a bare string there would become the set of its characters and match nothing, so the
    handler would silently never run."""
    try:
        types = normal_types(names)  # type: ignore[arg-type]
    except FeedArgumentError as exc:
        raise FeedArgumentError(f"{target.name}: {exc}") from None
    return types or frozenset()


class ReactionRunner:
    """Feeds every event after its checkpoints to its read models and policies.

    ``checkpoints=None`` keeps positions on the handler objects (in process: fine for
    tests; a restarted process replays from 0, and policies' commands are deduplicated by
    command id within each aggregate's remembered window). In production pass a durable
    ``CheckpointStore`` (e.g. ``JetStreamCheckpointStore.for_store``): policies and
    ``durable`` read models are then checkpointed there, every ``checkpoint_every``
    events and whenever the runner catches up.
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
    ) -> None:
        if not name:
            raise ValueError("a ReactionRunner needs a non-empty name (its checkpoints' key)")
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
        self._parking: CheckpointStore = checkpoints or InMemoryCheckpointStore()
        self._handlers = [
            *(_Handler(rm, checkpoints is not None and rm.durable, _types(rm, rm.reads))
              for rm in read_models),
            *(_Handler(policy, checkpoints is not None, _types(policy, policy.reacts_to))
              for policy in policies),
        ]
        names = [handler.name for handler in self._handlers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"handler names must be unique within a runner (checkpoints are "
                             f"kept by name); repeated: {', '.join(duplicates)}")
        self._types = frozenset().union(*(handler.types for handler in self._handlers))
        self._task: asyncio.Task[None] | None = None
        self._head = 0
        self._since_flush = 0
        self._progress = asyncio.Event()

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

    async def parked(self) -> list[ParkedEvent]:
        return await self._parking.parked(self.name)

    async def wait_caught_up(self) -> None:
        """Wait until the runner has handled every event in the store at the time of the
        call; raises the runner's error if it stopped on one."""
        target = await self.store.last_position()
        self._head = max(self._head, target)
        while self.position < target:
            if self.error is not None:
                raise self.error
            if not self.running:
                raise AetherError(f"reaction runner {self.name!r} is not running: start it")
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._progress.wait()

    # ---- running -----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the checkpoints and follow the feed in a background task."""
        if self.running:
            raise AetherError(f"reaction runner {self.name!r} is already running")
        self.error = None
        await self._load_positions()
        self._task = asyncio.create_task(self._run(), name=f"reactions:{self.name}")

    async def stop(self) -> None:
        """Stop following and save the checkpoints reached."""
        task, self._task = self._task, None
        if task is not None:
            # On 3.11, asyncio.wait_for (used inside nats-py too) can swallow a cancellation
            # that lands as its inner future completes: cancel until the task has ended.
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=1.0)
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._flush()

    async def settle(self) -> list[tuple[Event, Policy]]:
        """Handle every event not handled yet, including those the handlers' own commands
        produce, until the feed has nothing more; returns (event, policy) for each policy
        that issued commands. Raises the error the runner stopped on, if any."""
        await self._load_positions()
        reactions: list[tuple[Event, Policy]] = []
        while self.error is None:
            pairs = await self.store.read_all(self.position, DEFAULT_BATCH,
                                              event_types=self._types)
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
        (and were unparked). Events are replayed out of feed order."""
        handlers = {handler.name: handler for handler in self._handlers}
        succeeded = 0
        for parked in await self._parking.parked(self.name):
            handler = handlers.get(parked.handler)
            if handler is None:
                continue
            try:
                await self._deliver(handler, parked.position, parked.event, None)
            except Exception as exc:
                await self._parking.park(parked.model_copy(update={
                    "attempts": parked.attempts + 1, "error": _described(exc)}))
            else:
                await self._parking.unpark(parked)
                succeeded += 1
        return succeeded

    async def _load_positions(self) -> None:
        for handler in self._handlers:
            if handler.checkpointed and self._checkpoints is not None:
                handler.position = handler.saved = await self._checkpoints.load(self.name,
                                                                                handler.name)
        last = await self.store.last_position()
        for handler in self._handlers:
            # A feed's positions only grow: one behind a checkpoint is another history (the
            # stream recreated or restored from an older backup, another store). Following
            # it from the checkpoint would skip, without a word, every event up to there.
            if handler.position > last:
                raise CheckpointAheadError(self.name, handler.name, handler.position, last)
        self._head = max(self._head, last)

    async def _run(self) -> None:
        outages = 0
        try:
            while True:
                try:
                    await self._follow()
                    break  # halted
                except StoreUnavailableError as exc:
                    # The store, not a handler, failed: wait for it and resume from the
                    # positions reached; nothing is parked for an outage.
                    outages += 1
                    logger.warning("reaction runner %r: store unavailable, retrying: %s",
                                   self.name, exc)
                    await asyncio.sleep(self.retry.delay(min(outages, 30)))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.error = exc
            logger.exception("reaction runner %r stopped", self.name)
        finally:
            self._progress.set()
        await self._flush()

    async def _follow(self) -> None:
        """Follow the feed from the handlers' positions; returns when halted."""
        async with self.store.follow(self.position, event_types=self._types) as feed:
            # Events no handler reads (e.g. those the policies' own commands produce) are
            # skipped by the feed; without this the position, lag and checkpoints stayed at
            # the last event read until another one came, and wait_caught_up hung.
            feed.on_skipped(self._skipped_to)
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
                try:
                    await self._deliver_with_retries(handler, position, event, reactions)
                except RunnerHalted as halted:
                    self.error = halted
                    logger.error("%s", halted)
                    return False
            handler.position = position
        self.counters.processed += 1
        self._since_flush += 1
        self._head = max(self._head, position)
        self._progress.set()
        return True

    async def _deliver_with_retries(self, handler: _Handler, position: int, event: Event,
                                    reactions: list[tuple[Event, Policy]] | None) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._deliver(handler, position, event, reactions)
                return
            except StoreUnavailableError:
                raise  # an outage, not this handler's fault: _run waits and resumes
            except Exception as exc:
                if attempt < self.retry.attempts:
                    self.counters.retried += 1
                    logger.warning("%s failed on position %d (attempt %d), retrying: %r",
                                   handler.name, position, attempt, exc)
                    await asyncio.sleep(self.retry.delay(attempt))
                    continue
                if self.retry.on_exhausted == "halt":
                    raise RunnerHalted(self.name, handler.name, position, exc) from exc
                await self._parking.park(ParkedEvent(
                    runner=self.name, handler=handler.name, position=position, event=event,
                    error=_described(exc), attempts=attempt, parked_at=datetime.now(UTC)))
                self.counters.parked += 1
                logger.error("%s parked the event at position %d after %d attempts: %r",
                             handler.name, position, attempt, exc)
                return

    async def _deliver(self, handler: _Handler, position: int, event: Event,
                       reactions: list[tuple[Event, Policy]] | None) -> None:
        target = handler.target
        if isinstance(target, ReadModel):
            target.handle(event, self.registry)
            return
        outcomes = await target.handle(event, self.registry, self.sender)
        for outcome in outcomes:
            if outcome.refused is not None:
                self.counters.rejected += 1
                self.rejections.append(Rejection(position, target.name, outcome))
        if outcomes and reactions is not None:
            reactions.append((event, target))

    async def _flush(self) -> None:
        self._since_flush = 0
        if self._checkpoints is None:
            return
        for handler in self._handlers:
            if handler.checkpointed and handler.position > handler.saved:
                position = handler.position
                await self._checkpoints.save(self.name, handler.name, position)
                handler.saved = position


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
