"""Parked events of one reaction runner: writing them, and replaying them.

Two kinds are parked (both as ``ParkedEvent`` in the runner's checkpoint store, keyed by
runner, handler and position, so parking the same thing twice, after a crash or by two
runners sharing a name, keeps one record):

- an event a handler kept failing on, under that handler's name, with the event;
- a record of the feed that is not an event, once for the runner under ``UNDECODABLE``,
  with its subject and first bytes instead of an event. It stays in the store, so replaying
  reads it again at its position: if it decodes now (a newer Aether reads it), every
  handler that reads its type gets it; if it still does not, it stays parked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from aether.checkpoints import UNDECODABLE, CheckpointStore, ParkedEvent, parked_record
from aether.event import Event
from aether.feed import MAX_POSITION, EventFeed, UndecodableEventError
from aether.retry import described, is_transient

Deliver = Callable[[str, int, Event], Awaitable[None]]
"""Hands one event to the named handler (no retries): what a replay calls."""


class Parking:
    def __init__(self, runner: str, store: CheckpointStore, feed: EventFeed) -> None:
        self.runner = runner
        self.store = store
        self.feed = feed

    async def parked(self) -> list[ParkedEvent]:
        return await self.store.parked(self.runner)

    async def park_failure(self, handler: str, position: int, event: Event,
                           error: BaseException, attempts: int) -> None:
        await self.store.park(parked_record(
            runner=self.runner, handler=handler, position=position, event=event,
            error=described(error), attempts=attempts, parked_at=datetime.now(UTC)))

    async def park_undecodable(self, poison: UndecodableEventError, attempts: int = 1) -> None:
        await self.store.park(ParkedEvent(
            runner=self.runner, handler=UNDECODABLE, position=poison.position, event=None,
            error=described(poison), attempts=attempts, parked_at=datetime.now(UTC),
            subject=poison.subject, excerpt=poison.excerpt.decode("utf-8", "backslashreplace")))

    async def replay(self, handlers: Sequence[tuple[str, frozenset[str]]],
                     deliver: Deliver) -> int:
        """Try every parked record once more; returns how many succeeded (and were
        unparked). ``handlers`` are the runner's (name, event types). An outage
        (TransientError) propagates: nothing is counted against the records."""
        names = {name for name, _ in handlers}
        succeeded = 0
        work = await self.parked()
        while work:
            parked = work.pop(0)
            if parked.event is None:
                decoded = await self._decode_again(parked, handlers)
                if decoded is not None:
                    succeeded += not decoded
                    work[:0] = decoded
                continue
            if parked.handler not in names:
                continue
            try:
                await deliver(parked.handler, parked.position, parked.event)
            except Exception as exc:
                if is_transient(exc):
                    raise
                await self.store.park(parked.model_copy(update={
                    "attempts": parked.attempts + 1, "error": described(exc)}))
            else:
                await self.store.unpark(parked)
                succeeded += 1
        return succeeded

    async def _decode_again(self, parked: ParkedEvent,
                            handlers: Sequence[tuple[str, frozenset[str]]],
                            ) -> list[ParkedEvent] | None:
        """The record read again at its position. Still undecodable or gone: updated, None.
        An event now: parked once per handler that reads its type (so each is replayed
        and, if it fails, kept on its own, like any event), unparked as a record, and those
        per-handler records returned."""
        if not 1 <= parked.position <= MAX_POSITION:  # the record came from elsewhere
            await self.store.park(parked.model_copy(update={
                "attempts": parked.attempts + 1,
                "error": f"{parked.position} is not a feed position (1 to {MAX_POSITION}): "
                         f"unpark this record with checkpoints.unpark(record)"}))
            return None
        try:
            pairs = await self.feed.read_all(parked.position - 1, 1)
        except UndecodableEventError as poison:
            if poison.position == parked.position:  # still not an event
                await self.store.park(parked.model_copy(update={
                    "attempts": parked.attempts + 1, "error": described(poison)}))
                return None
            # A later record, undecodable too: ours is gone (reads start after position - 1).
            pairs = []
        if not pairs or pairs[0][0] != parked.position:
            await self.store.park(parked.model_copy(update={
                "attempts": parked.attempts + 1,
                "error": f"the record is no longer in the store at position "
                         f"{parked.position} (retention or a purge removed it); unpark it "
                         f"with checkpoints.unpark(record) once you have dealt with it"}))
            return None
        event = pairs[0][1]
        records = [parked.model_copy(update={"handler": name, "event": event, "subject": None,
                                              "excerpt": None})
                   for name, types in handlers if event.event_type in types]
        for record in records:
            await self.store.park(record)
        await self.store.unpark(parked)
        return records
