"""Where a reaction runner's handlers are in the feed, and their checkpoints: loaded (the
further of the saved one and the runner's own), refused when ahead of the feed, saved only
forward, and read by a standby to follow the active runner of its name."""

from __future__ import annotations

import asyncio
import logging

from aether.checkpoints import CheckpointAheadError, CheckpointStore
from aether.errors import TransientError
from aether.feed import EventFeed
from aether.runner_lease import RunnerLease, hold
from aether.runner_state import Handler

logger = logging.getLogger("aether.runner")  # one logger for all of a runner (docs/runtime.md)


class Positions:
    """The positions of one runner's handlers, and how far the runner has seen the feed."""

    def __init__(self, runner: str, store: EventFeed, handlers: list[Handler],
                 checkpoints: CheckpointStore | None, lease: RunnerLease | None,
                 progress: asyncio.Event) -> None:
        self.runner = runner
        self.store = store
        self.handlers = handlers
        self.checkpointed = [handler for handler in handlers if handler.checkpointed]
        self.checkpoints = checkpoints
        self.lease = lease
        """An exclusive runner's: a checkpoint is saved only while it holds it (``hold``)."""
        self.progress = progress
        """Set whenever a position moves (or the lease changes hands): waiters look again."""
        self.head = 0
        """The newest position the runner has seen in the store."""
        self.since_flush = 0
        """Events gone through and commands sent since the last save of the checkpoints."""

    @property
    def position(self) -> int:
        """The feed position every handler has handled (or skipped) up to."""
        return min((handler.position for handler in self.handlers), default=self.head)

    def advance_to(self, position: int) -> None:
        """Every handler is done up to ``position`` (what lay between was not theirs)."""
        self.head = max(self.head, position)
        for handler in self.handlers:
            handler.position = max(handler.position, position)
        self.progress.set()

    def went_through(self, position: int) -> None:
        """The handlers went through the event at ``position`` (each set its own position)."""
        self.since_flush += 1
        self.head = max(self.head, position)
        self.progress.set()

    async def load(self) -> None:
        """Read the checkpoints; CheckpointAheadError for one ahead of the feed."""
        for handler in self.handlers:
            if handler.checkpointed and self.checkpoints is not None:
                # The further of the saved checkpoint and what this runner handled itself
                # (more, when it kept its lease through an outage it could not save in):
                # every event up to either was handled.
                handler.saved = await self.checkpoints.load(self.runner, handler.name)
                handler.position = max(handler.position, handler.saved)
        last = await self.store.last_position()
        for handler in self.handlers:
            # A feed's positions only grow: one behind a checkpoint is another history (the
            # stream recreated or restored from an older backup, another store). Following
            # it from the checkpoint would skip, without a word, every event up to there.
            if handler.position > last:
                raise CheckpointAheadError(self.runner, handler.name, handler.position, last)
        self.head = max(self.head, last)

    async def saved_reach(self, target: int) -> bool:
        """Whether the checkpoints saved (by the active runner of the name, for a standby)
        reach ``target``; False when nothing is checkpointed."""
        if self.checkpoints is None:
            return False
        for handler in self.checkpointed:
            if await self.checkpoints.load(self.runner, handler.name) < target:
                return False
        return bool(self.checkpointed)

    def passed_before(self, position: int) -> bool:
        """True when each checkpointed handler (there is one at least) has a saved
        checkpoint at or past ``position``."""
        if self.checkpoints is None:
            return False
        return bool(self.checkpointed) and all(handler.saved >= position
                                               for handler in self.checkpointed)

    async def skipped_to(self, position: int) -> None:
        self.advance_to(position)
        await self.flush()

    async def flush(self, checked: bool = True) -> None:
        self.since_flush = 0
        if self.checkpoints is None:
            return
        for handler in self.handlers:
            if handler.checkpointed and handler.position > handler.saved:
                position = handler.position
                if checked:
                    hold(self.lease)
                await self.checkpoints.save(self.runner, handler.name, position)
                handler.saved = position

    async def save_done(self) -> None:
        """Save how far the handlers got, the lease lost meanwhile: the events were handled
        (a handler that outlasted the lease finished its event), and a save only moves a
        checkpoint forward, so the runner that took over is never set back. Without it, a
        handler slower than the lease made two runners take the same event from each
        other for ever. An outage here only loses the save: the events are handled again."""
        try:
            await self.flush(checked=False)
        except TransientError as exc:
            logger.warning("reaction runner %r could not save its positions after losing its "
                           "lease: %s", self.runner, exc)
