"""The CommandSender conformance suite: what every sender (local router, cluster router)
guarantees to policies, the reaction runner and apps.

A subclass provides two fixtures: ``sender``, a CommandSender that routes the commands of
``aether.testing.counters`` (``Increment``, ``Refuse``) to ``Counter`` aggregates, and
``store``, the EventStore those aggregates live in::

    from aether.testing.conformance import SenderConformance
    from aether.testing.counters import make_counter_router

    class TestMySender(SenderConformance):
        @pytest.fixture
        def store(self) -> InMemoryEventStore:
            return InMemoryEventStore()

        @pytest.fixture
        def sender(self, store: InMemoryEventStore) -> MySender:
            return MySender(make_counter_router(store))
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aether.command import CommandSender, Dispatch, InvalidCommandError
from aether.errors import AetherError, DomainError, InvalidEventError
from aether.event import COMMAND_ID, CORRELATION_ID
from aether.store import InMemoryEventStore
from aether.testing.counters import (
    Increment,
    IncrementCounter,
    Refuse,
    make_counter_router,
    registry,
)


async def _count(store: Any, counter: str) -> int:
    events = await store.get_events(counter)
    return sum(int(registry.decode(event).model_dump()["by"]) for event in events)


def _name() -> str:
    return f"counter-{uuid4().hex[:8]}"


class SenderConformance:
    # Every test is a coroutine: marked here so subclasses run in pytest-asyncio's default
    # strict mode too, with no configuration from the user (auto mode ignores the mark).
    pytestmark = pytest.mark.asyncio

    async def test_is_a_command_sender(self, sender: Any) -> None:
        assert isinstance(sender, CommandSender)

    async def test_send_returns_the_events_it_stored_with_a_command_id(
        self, sender: Any, store: Any
    ) -> None:
        counter = _name()
        events = await sender.send(counter, Increment(by=3))
        assert [(e.actor_id, e.event_type, e.data) for e in events] == [
            (counter, "Incremented", {"by": 3})
        ]
        assert events[0].metadata.get(COMMAND_ID)
        assert await store.get_events(counter) == events

    async def test_a_repeated_command_id_is_answered_with_the_first_events(
        self, sender: Any, store: Any
    ) -> None:
        counter = _name()
        first = await sender.send(counter, Increment(), {COMMAND_ID: "cmd-1"})
        await sender.send(counter, Increment(by=10))
        again = await sender.send(counter, Increment(), {COMMAND_ID: "cmd-1"})
        assert again == first
        assert first[0].metadata[COMMAND_ID] == "cmd-1"
        assert await _count(store, counter) == 11

    async def test_sends_without_an_id_each_take_effect(self, sender: Any, store: Any) -> None:
        counter = _name()
        one = await sender.send(counter, Increment())
        two = await sender.send(counter, Increment())
        assert one[0].metadata[COMMAND_ID] != two[0].metadata[COMMAND_ID]
        assert await _count(store, counter) == 2

    async def test_send_command_routes_to_the_commands_own_target(
        self, sender: Any, store: Any
    ) -> None:
        key = uuid4().hex[:8]
        events = await sender.send_command(IncrementCounter(counter=key, by=4),
                                           {COMMAND_ID: "own-1"})
        assert [(e.actor_id, e.data) for e in events] == [(f"counter-{key}", {"by": 4})]
        assert await sender.send_command(IncrementCounter(counter=key, by=4),
                                         {COMMAND_ID: "own-1"}) == events
        with pytest.raises(InvalidCommandError, match=r"send\(actor_id, command\)"):
            await sender.send_command(Increment())

    async def test_dispatch_carries_metadata(self, sender: Any, store: Any) -> None:
        counter = _name()
        events = await sender.dispatch(Dispatch(counter, Increment(by=2)),
                                       {CORRELATION_ID: "corr-9", COMMAND_ID: "d-1"})
        assert events[0].metadata[CORRELATION_ID] == "corr-9"
        assert events[0].metadata[COMMAND_ID] == "d-1"
        assert await sender.dispatch(Dispatch(counter, Increment(by=2)),
                                     {COMMAND_ID: "d-1"}) == events
        assert await _count(store, counter) == 2

    async def test_a_refused_command_raises_domain_error_and_records_nothing(
        self, sender: Any, store: Any
    ) -> None:
        counter = _name()
        with pytest.raises(DomainError, match="not today"):
            await sender.send(counter, Refuse(reason="not today"), {COMMAND_ID: "r-1"})
        assert await store.get_events(counter) == []
        # Nothing was recorded under the id, so it may be decided again.
        events = await sender.send(counter, Increment(), {COMMAND_ID: "r-1"})
        assert await _count(store, counter) == 1 and events[0].metadata[COMMAND_ID] == "r-1"

    async def test_concurrent_duplicates_take_effect_once(self, sender: Any, store: Any) -> None:
        counter = _name()
        results = await asyncio.gather(
            *(sender.send(counter, Increment(), {COMMAND_ID: "same"}) for _ in range(8))
        )
        assert all(result == results[0] for result in results)
        assert await _count(store, counter) == 1

    async def test_actors_are_independent(self, sender: Any, store: Any) -> None:
        first, second = _name(), _name()
        await sender.send(first, Increment(), {COMMAND_ID: "shared-id"})
        await sender.send(second, Increment(), {COMMAND_ID: "shared-id"})
        assert (await _count(store, first), await _count(store, second)) == (1, 1)

    @pytest.mark.parametrize("bad_id", ["", "line\nbreak", "x" * 1000])
    async def test_a_malformed_command_id_is_refused(
        self, sender: Any, store: Any, bad_id: str
    ) -> None:
        counter = _name()
        with pytest.raises(InvalidCommandError):
            await sender.send(counter, Increment(), {COMMAND_ID: bad_id})
        assert await store.get_events(counter) == []

    @pytest.mark.parametrize(("actor_id", "command"), [
        ("counter-huge", Increment(by=2**70)),   # decided, then refused by the event limits
        ("x" * 600, Increment()),                # an actor id no store can hold
    ], ids=["event-limit", "actor-id"])
    async def test_an_invalid_command_raises_what_an_in_process_router_raises(
        self, sender: Any, store: Any, actor_id: str, command: Any
    ) -> None:
        # The reference: a plain CommandRouter on its own store, no network anywhere.
        with pytest.raises(AetherError) as local:
            await make_counter_router(InMemoryEventStore()).send(actor_id, command)
        assert isinstance(local.value, InvalidCommandError | InvalidEventError)
        with pytest.raises(AetherError) as sent:
            await sender.send(actor_id, command, {COMMAND_ID: "invalid-1"})
        assert type(sent.value) is type(local.value)
        assert str(sent.value) == str(local.value)
        if len(actor_id) < 512:
            assert await store.get_events(actor_id) == []

    # The sender and store outlive examples: each example uses counters of its own.
    @settings(suppress_health_check=[HealthCheck.differing_executors, HealthCheck.too_slow,
                                     HealthCheck.function_scoped_fixture])
    @given(sends=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["x", "y", "z", None])),
                          min_size=1, max_size=15))
    async def test_each_counter_counts_its_distinct_command_ids(
        self, sender: Any, store: Any, sends: list[tuple[int, str | None]]
    ) -> None:
        run = uuid4().hex[:8]
        for counter, command_id in sends:
            metadata = {COMMAND_ID: command_id} if command_id else None
            await sender.send(f"{run}-{counter}", Increment(), metadata)
        for counter in range(3):
            mine = [command_id for c, command_id in sends if c == counter]
            expected = len({i for i in mine if i}) + mine.count(None)
            assert await _count(store, f"{run}-{counter}") == expected
