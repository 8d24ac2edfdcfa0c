"""The event bus conformance suite: written once, subclassed by every EventBroadcaster.

A subclass provides two fixtures, each an open bus that the fixture closes afterwards:

- ``bus``: the bus under test;
- ``peer``: another bus on the same broadcast domain (another node: a second connection for a
  NATS bus); a bus that only works in process returns ``bus`` itself.

Both must start with no traffic of other tests (for a NATS bus: a subject prefix of the
test's own)::

    from aether.testing.conformance import BroadcasterConformance

    class TestMyBus(BroadcasterConformance):
        @pytest_asyncio.fixture  # async fixtures: pytest_asyncio's, for strict mode
        async def bus(self) -> AsyncIterator[MyBus]: ...

        @pytest.fixture
        def peer(self, bus: MyBus) -> MyBus:
            return bus

No test waits a fixed time to prove that something did *not* arrive: a marker published after
it, which would have to arrive later, proves it (NATS keeps one publisher's order per subject).
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aether.errors import InvalidEventError, StoreConfigError, SubscriptionClosedError
from aether.event import Event
from aether.eventbus import OverflowPolicy, Subscription
from aether.jsondata import FrozenList
from aether.store.naming import MAX_NAMESPACE_BYTES
from aether.testing.factories import make_event, unchecked

ODD_NAMESPACES = [
    "",
    "tenant-a",
    "a.b",
    "a_b",
    "a b",
    "*",
    ">",
    "a.*",
    "a.>",
    "$SYS",
    "~",
    "~7E",
    "%2E",
    "ünï-注文",
    "🙂",
    "x" * MAX_NAMESPACE_BYTES,
    "é" * (MAX_NAMESPACE_BYTES // 2),
]
"""Namespaces that must stay apart on every bus: dots, wildcards, spaces, system prefixes,
the encoding's own escape character, unicode and the longest allowed."""

RECEIVE_TIMEOUT = 10.0
"""How long a test waits for an event that must arrive (a failure guard, not a measurement)."""

MARKER = "Marker"


def marker() -> Event:
    return make_event(f"marker-{uuid4().hex[:8]}", 1, MARKER)


async def read_until(subscription: Subscription, end: Event) -> list[Event]:
    """Every event before ``end`` (which must arrive), in order."""
    seen: list[Event] = []
    while True:
        event = await subscription.get(timeout=RECEIVE_TIMEOUT)
        if event.id == end.id:
            return seen
        seen.append(event)


async def read_n(subscription: Subscription, count: int) -> list[Event]:
    return [await subscription.get(timeout=RECEIVE_TIMEOUT) for _ in range(count)]


namespace_text = st.text(
    st.characters(exclude_categories=["Cs"]), max_size=MAX_NAMESPACE_BYTES
).filter(lambda text: len(text.encode()) <= MAX_NAMESPACE_BYTES)


class BroadcasterConformance:
    # Every test is a coroutine: marked here so subclasses run in pytest-asyncio's default
    # strict mode too, with no configuration from the user (auto mode ignores the mark).
    pytestmark = pytest.mark.asyncio

    # ---- delivery ------------------------------------------------------------------

    async def test_publish_reaches_every_subscriber_on_every_node_once_in_order(
        self, bus: Any, peer: Any
    ) -> None:
        local = await bus.subscribe("orders")
        remote = await peer.subscribe("orders")
        events = [make_event("order-1", version) for version in range(1, 6)]
        for event in events:
            await bus.publish("orders", event)
        assert await read_n(remote, len(events)) == events
        # The peer's marker reaches `bus` after any echo of bus's own events would have.
        end = marker()
        await peer.publish("orders", end)
        assert await read_until(local, end) == events
        # And the peer's own marker is not served to the peer twice either.
        assert await read_n(remote, 1) == [end]
        later = marker()
        await bus.publish("orders", later)
        assert await read_until(local, later) == []
        assert await read_until(remote, later) == []

    async def test_events_arrive_equal_to_what_was_published(self, bus: Any, peer: Any) -> None:
        remote = await peer.subscribe("tenant")
        event = make_event("a.b c", 7, "Odd", text="quote \" \\ \n ünï 🙂", n=None, f=0.1,
                           nested={"list": [1, 2.5, True, None, "x"]})
        event = event.model_copy(update={"metadata": {"correlation_id": "c-1", "k": "é"}})
        await bus.publish("tenant", event)
        (received,) = await read_n(remote, 1)
        assert received == event
        assert received.timestamp.utcoffset() == event.timestamp.utcoffset()

    async def test_odd_namespaces_stay_apart(self, bus: Any, peer: Any) -> None:
        remote = {ns: await peer.subscribe(ns) for ns in ODD_NAMESPACES}
        local = {ns: await bus.subscribe(ns) for ns in ODD_NAMESPACES}
        sent = {ns: make_event("a", 1, marker=ns) for ns in ODD_NAMESPACES}
        for ns, event in sent.items():
            await bus.publish(ns, event)
        ends = {ns: marker() for ns in ODD_NAMESPACES}
        for ns, end in ends.items():
            await bus.publish(ns, end)
        for ns in ODD_NAMESPACES:
            assert await read_until(remote[ns], ends[ns]) == [sent[ns]], ns
            assert await read_until(local[ns], ends[ns]) == [sent[ns]], ns

    # One test method runs in every subclass (differing executors) with the subclass's
    # function-scoped buses, which each example reuses: both on purpose.
    @settings(suppress_health_check=[HealthCheck.differing_executors,
                                     HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(namespaces=st.lists(namespace_text, min_size=2, max_size=4, unique=True))
    async def test_any_two_namespaces_stay_apart(
        self, bus: Any, peer: Any, namespaces: list[str]
    ) -> None:
        subscriptions = [await peer.subscribe(ns) for ns in namespaces]
        sent = [make_event("a", 1, ns=ns) for ns in namespaces]
        for ns, event in zip(namespaces, sent, strict=True):
            await bus.publish(ns, event)
        ends = [marker() for _ in namespaces]
        for ns, end in zip(namespaces, ends, strict=True):
            await bus.publish(ns, end)
        try:
            for subscription, event, end in zip(subscriptions, sent, ends, strict=True):
                assert await read_until(subscription, end) == [event]
        finally:
            for subscription in subscriptions:
                subscription.close()

    async def test_event_types_filter_what_a_subscription_sees(
        self, bus: Any, peer: Any
    ) -> None:
        chosen = await peer.subscribe("shop", event_types=["OrderPlaced", MARKER])
        everything = await peer.subscribe("shop")
        events = [make_event("o", v, kind) for v, kind in
                  enumerate(["OrderPlaced", "OrderPaid", "OrderPlaced", "Other"], start=1)]
        for event in events:
            await bus.publish("shop", event)
        end = marker()
        await bus.publish("shop", end)
        assert await read_until(chosen, end) == [events[0], events[2]]
        assert await read_until(everything, end) == events
        assert chosen.dropped == 0

    # ---- patterns ------------------------------------------------------------------

    async def test_pattern_follows_every_matching_namespace(self, bus: Any, peer: Any) -> None:
        tenants = await peer.subscribe_pattern("tenant-*")
        local = await bus.subscribe_pattern("tenant-*")
        plan = [("tenant-a", True), ("tenant", False), ("other", False), ("tenant-b.x", True),
                ("xtenant-c", False), ("tenant-", True)]
        sent = [(ns, make_event("a", 1, ns=ns)) for ns, _ in plan]
        for ns, event in sent:
            await bus.publish(ns, event)
        end = marker()
        await bus.publish("tenant-end", end)
        expected = [(ns, event) for (ns, event), (_, wanted) in zip(sent, plan, strict=True)
                    if wanted]
        for subscription in (tenants, local):
            got = []
            while True:
                ns, event = await subscription.get_with_namespace(timeout=RECEIVE_TIMEOUT)
                if event.id == end.id:
                    break
                got.append((ns, event))
            assert got == expected

    async def test_wildcard_characters_are_literal_in_plain_namespaces(
        self, bus: Any, peer: Any
    ) -> None:
        star = await peer.subscribe("*")
        literal_star = await peer.subscribe_pattern("[*]")
        everything = await peer.subscribe_pattern("*")
        plain, starred = make_event("a", 1), make_event("b", 1)
        await bus.publish("tenant-a", plain)
        await bus.publish("*", starred)
        end = marker()
        await bus.publish("*", end)
        assert await read_until(star, end) == [starred]
        assert await read_until(literal_star, end) == [starred]
        assert await read_until(everything, end) == [plain, starred]

    async def test_pattern_and_namespace_subscriptions_each_get_an_event_once(
        self, bus: Any, peer: Any
    ) -> None:
        subscriptions = [await bus.subscribe("ns"), await bus.subscribe_pattern("n?"),
                         await peer.subscribe("ns"), await peer.subscribe_pattern("*")]
        event = make_event("a", 1)
        await bus.publish("ns", event)
        assert await read_n(subscriptions[2], 1) == [event]
        end = marker()
        await peer.publish("ns", end)
        for subscription in subscriptions:
            assert await read_until(subscription, end) == ([] if subscription is
                                                           subscriptions[2] else [event])

    # ---- slow subscribers ----------------------------------------------------------

    async def test_slow_subscriber_drops_oldest_without_blocking_others(
        self, bus: Any, peer: Any
    ) -> None:
        slow = await peer.subscribe("ns", max_pending=3)
        fast = await peer.subscribe("ns", max_pending=100)
        events = [make_event("a", version) for version in range(1, 11)]
        for event in events:
            await bus.publish("ns", event)  # never waits on `slow`
        assert await read_n(fast, 10) == events
        assert slow.dropped == 7
        assert slow.pending == 3
        assert [e.version for e in await read_n(slow, 3)] == [8, 9, 10]

    async def test_drop_newest_keeps_what_came_before_the_buffer_filled(
        self, bus: Any, peer: Any
    ) -> None:
        slow = await peer.subscribe("ns", max_pending=2, overflow=OverflowPolicy.DROP_NEWEST)
        fast = await peer.subscribe("ns")
        for version in range(1, 6):
            await bus.publish("ns", make_event("a", version))
        await read_n(fast, 5)
        assert slow.dropped == 3
        assert [e.version for e in await read_n(slow, 2)] == [1, 2]
        await bus.publish("ns", make_event("a", 6))  # room again: later events arrive
        assert [e.version for e in await read_n(slow, 1)] == [6]

    # ---- readers and closing -------------------------------------------------------

    async def test_several_readers_share_a_subscription_and_close_wakes_them_all(
        self, bus: Any, peer: Any
    ) -> None:
        shared = await peer.subscribe("ns")
        received: list[list[str]] = [[], [], []]
        events = [make_event("a", version) for version in range(1, 31)]
        all_read = asyncio.Event()

        async def reader(into: list[str]) -> None:
            async for event in shared:
                into.append(event.id)
                if sum(map(len, received)) == len(events):
                    all_read.set()

        readers = [asyncio.create_task(reader(into)) for into in received]
        for event in events:
            await bus.publish("ns", event)
        await asyncio.wait_for(all_read.wait(), RECEIVE_TIMEOUT)
        blocked = [asyncio.create_task(shared.get()) for _ in range(2)]
        await asyncio.sleep(0)
        shared.close()
        await asyncio.wait_for(asyncio.gather(*readers), RECEIVE_TIMEOUT)
        for task in blocked:
            with pytest.raises(SubscriptionClosedError):
                await asyncio.wait_for(task, RECEIVE_TIMEOUT)
        # Each event went to exactly one reader.
        assert sorted(i for into in received for i in into) == sorted(e.id for e in events)

    async def test_closed_subscription_ends_iteration_and_stops_receiving(
        self, bus: Any, peer: Any
    ) -> None:
        closing = await peer.subscribe("ns")
        staying = await peer.subscribe("ns")
        await bus.publish("ns", make_event("a", 1))
        await read_n(staying, 1)
        closing.close()
        closing.close()  # twice is harmless
        assert closing.closed and closing.pending == 0
        assert [event async for event in closing] == []
        with pytest.raises(SubscriptionClosedError):
            await closing.get(timeout=RECEIVE_TIMEOUT)
        await bus.publish("ns", make_event("a", 2))
        assert [e.version for e in await read_n(staying, 1)] == [2]
        assert closing.pending == 0

    async def test_closed_bus_closes_subscriptions_and_refuses_more(self, bus: Any) -> None:
        subscription = await bus.subscribe("ns")
        pattern = await bus.subscribe_pattern("*")
        await bus.close()
        await bus.close()  # twice is harmless
        assert subscription.closed and pattern.closed
        with pytest.raises(SubscriptionClosedError):
            await bus.publish("ns", make_event("a", 1))
        with pytest.raises(SubscriptionClosedError):
            await bus.subscribe("ns")
        with pytest.raises(SubscriptionClosedError):
            await bus.subscribe_pattern("*")

    # ---- refusals ------------------------------------------------------------------

    @pytest.mark.parametrize(
        "namespace", ["x" * (MAX_NAMESPACE_BYTES + 1), "é" * 33, "bad \ud800 surrogate"],
        ids=["too-long", "too-long-utf8", "lone-surrogate"],
    )
    async def test_namespaces_beyond_the_limits_are_refused(
        self, bus: Any, namespace: str
    ) -> None:
        with pytest.raises(StoreConfigError, match="namespace"):
            await bus.subscribe(namespace)
        with pytest.raises(StoreConfigError, match="namespace"):
            await bus.publish(namespace, make_event("a", 1))

    @pytest.mark.parametrize(
        "options",
        [{"max_pending": 0}, {"max_pending": 2.5}, {"overflow": "drop_oldest"},
         {"event_types": "OrderPlaced"}, {"event_types": []}],
        ids=["zero-pending", "float-pending", "overflow-text", "types-string", "types-empty"],
    )
    async def test_bad_subscription_options_are_refused(
        self, bus: Any, options: dict[str, Any]
    ) -> None:
        with pytest.raises(StoreConfigError):
            await bus.subscribe("ns", **options)
        with pytest.raises(StoreConfigError):
            await bus.subscribe_pattern("*", **options)

    async def test_what_is_not_a_namespace_or_an_event_is_refused(self, bus: Any) -> None:
        for not_text in (None, 7, b"ns"):
            with pytest.raises(StoreConfigError, match="namespace"):
                await bus.subscribe(not_text)
            with pytest.raises(StoreConfigError, match="namespace"):
                await bus.publish(not_text, make_event("a", 1))
            with pytest.raises(StoreConfigError, match="pattern"):
                await bus.subscribe_pattern(not_text)
        subscription = await bus.subscribe("ns")
        with pytest.raises(InvalidEventError, match="Event"):
            await bus.publish("ns", {"id": "e1"})
        assert subscription.pending == 0

    async def test_unvalidated_events_are_delivered_as_their_constructor_builds_them(
        self, bus: Any, peer: Any
    ) -> None:
        # model_construct skips validation: a bus builds the event through its constructor,
        # so local and remote subscribers get the same event and nobody gets a refused one.
        local, remote = await bus.subscribe("ns"), await peer.subscribe("ns")
        for bad in ({"data": {"n": float("nan")}}, {"data": {"t": (1, 2)}},
                    {"data": {1: "a"}}, {"version": 0}, {"actor_id": ""}):
            with pytest.raises(InvalidEventError):
                await bus.publish("ns", unchecked(make_event("a", 1), **bad))

        class Tagged(Event):
            tenant: str = ""

        with pytest.raises(InvalidEventError, match="Tagged"):
            await bus.publish("ns", Tagged(**make_event("a", 1).__dict__, tenant="t"))
        raw = unchecked(make_event("a", 2), data={"lines": [{"sku": "x"}]})
        await bus.publish("ns", raw)
        built = Event(**raw.__dict__)
        assert await read_n(remote, 1) == [built]
        (mine,) = await read_n(local, 1)
        assert mine == built and type(mine.data["lines"]) is FrozenList

    async def test_overlong_patterns_are_refused(self, bus: Any) -> None:
        with pytest.raises(StoreConfigError, match="pattern"):
            await bus.subscribe_pattern("*" * (4 * MAX_NAMESPACE_BYTES + 1))
