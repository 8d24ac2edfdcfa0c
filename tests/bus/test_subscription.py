"""Subscription's hand-off between a delivering callback and its readers, under any
interleaving: bursts of deliveries, readers that wait, readers cancelled while waiting or
just after being woken, a full buffer. Every bus (local and NATS) hands events over
through this one class, so this is where "exactly once, in order, bounded" is decided."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from hypothesis import example, given, settings
from hypothesis import strategies as st

from aether import OverflowPolicy, Subscription, SubscriptionClosedError
from aether.event import Event
from aether.testing import make_event

# One step of a scenario: deliver a burst of n events, start a reader (one get()), cancel
# the i-th reader still running, or let the loop run (woken readers take their event).
Step = tuple[str, int]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("deliver"), st.integers(1, 6)),
        st.tuples(st.just("read"), st.just(0)),
        st.tuples(st.just("cancel"), st.integers(0, 5)),
        st.tuples(st.just("run"), st.integers(1, 3)),
    ),
    max_size=40,
)


@dataclass
class Scenario:
    subscription: Subscription
    published: list[Event] = field(default_factory=list)
    taken: list[Event] = field(default_factory=list)
    """What readers got, in the order they took it."""
    readers: list[asyncio.Task[None]] = field(default_factory=list)

    async def read(self) -> None:
        self.taken.append(await self.subscription.get())

    async def play(self, script: list[Step]) -> None:
        for action, n in script:
            if action == "deliver":
                for _ in range(n):
                    event = make_event("a", len(self.published) + 1)
                    self.published.append(event)
                    self.subscription.deliver("ns", event)
            elif action == "read":
                self.readers.append(asyncio.create_task(self.read()))
            elif action == "cancel":
                running = [task for task in self.readers if not task.done()]
                if running:
                    running[n % len(running)].cancel()
            for _ in range(n if action == "run" else 1):
                await asyncio.sleep(0)
        for _ in range(3):
            await asyncio.sleep(0)
        waiting = [task for task in self.readers if not task.done()]
        # No reader sleeps while an event waits for it (a lost wake-up).
        assert not (waiting and self.subscription.pending)
        for task in waiting:  # whoever still waits gets nothing more
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        while self.subscription.pending:
            self.taken.append(await self.subscription.get())


@settings(max_examples=80, deadline=None)
@given(script=steps)
@example(script=[("read", 0), ("read", 0), ("deliver", 2)])  # two waiting, a burst of two
def test_every_event_is_taken_once_in_publish_order(script: list[Step]) -> None:
    async def main() -> Scenario:
        scenario = Scenario(Subscription("ns", max_pending=1_000))
        await scenario.play(script)
        return scenario

    scenario = asyncio.run(main())
    assert [e.id for e in scenario.taken] == [e.id for e in scenario.published]
    assert scenario.subscription.dropped == 0


@settings(max_examples=80, deadline=None)
@given(script=steps, max_pending=st.integers(1, 4),
       overflow=st.sampled_from(list(OverflowPolicy)))
def test_a_full_buffer_drops_and_counts_but_never_duplicates_or_reorders(
    script: list[Step], max_pending: int, overflow: OverflowPolicy
) -> None:
    async def main() -> Scenario:
        scenario = Scenario(Subscription("ns", max_pending=max_pending, overflow=overflow))
        await scenario.play(script)
        return scenario

    scenario = asyncio.run(main())
    taken, published = [e.id for e in scenario.taken], [e.id for e in scenario.published]
    assert len(set(taken)) == len(taken)
    assert taken == [i for i in published if i in set(taken)]  # a subsequence, in order
    assert len(taken) + scenario.subscription.dropped == len(published)


def test_readers_that_timed_out_leave_nothing_behind() -> None:
    """Many get(timeout=) that expire, then one event: the next reader gets it, and close()
    still wakes every reader waiting at that moment."""

    async def main() -> None:
        subscription = Subscription("ns")
        for _ in range(50):
            with contextlib.suppress(TimeoutError):
                await subscription.get(timeout=0)
        event = make_event("a", 1)
        subscription.deliver("ns", event)
        assert await subscription.get(timeout=5) == event
        waiting = [asyncio.create_task(subscription.get()) for _ in range(3)]
        await asyncio.sleep(0)
        subscription.close()
        for task in waiting:
            try:
                await asyncio.wait_for(task, 5)
            except SubscriptionClosedError:
                continue
            raise AssertionError("a reader waiting at close() was not ended")

    asyncio.run(main())
