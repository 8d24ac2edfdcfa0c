"""The feed conformance suite: the global, ordered read (``aether.feed.EventFeed``).

A subclass provides a ``store`` fixture returning a fresh, empty store that implements
EventStore and EventFeed::

    from aether.testing.conformance import FeedConformance

    class TestMyStoreFeed(FeedConformance):
        @pytest_asyncio.fixture  # async fixtures: pytest_asyncio's, for strict mode
        async def store(self) -> MyStore:
            return await MyStore.open(...)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aether.event import Event
from aether.testing.factories import make_event

BIG_FEED = 100_000


async def _page_through(store: Any, after: int, limit: int, **filters: Any,
                        ) -> list[tuple[int, Event]]:
    pairs: list[tuple[int, Event]] = []
    while True:
        page = await store.read_all(after=after, limit=limit, **filters)
        if not page:
            return pairs
        assert len(page) <= limit
        pairs.extend(page)
        after = page[-1][0]


async def _take(feed: Any, count: int) -> list[tuple[int, Event]]:
    return [await asyncio.wait_for(feed.__anext__(), 10) for _ in range(count)]


def _assert_increasing(pairs: list[tuple[int, Event]]) -> None:
    positions = [position for position, _ in pairs]
    assert all(a < b for a, b in itertools.pairwise(positions)), positions[:20]


class FeedConformance:
    # Every test is a coroutine: marked here so subclasses run in pytest-asyncio's default
    # strict mode too, with no configuration from the user (auto mode ignores the mark).
    pytestmark = pytest.mark.asyncio

    async def test_empty_store_has_an_empty_feed(self, store: Any) -> None:
        assert await store.read_all() == []
        assert await store.last_position() == 0

    async def test_feed_returns_every_event_in_save_order(self, store: Any) -> None:
        saved = [make_event("a", 1), make_event("b", 1), make_event("a", 2)]
        for event in saved:
            await store.save_event(event)
        batch = [make_event("c", v) for v in (1, 2, 3)]
        await store.save_events(batch)
        pairs = await store.read_all()
        assert [event for _, event in pairs] == [*saved, *batch]
        _assert_increasing(pairs)
        assert pairs[0][0] > 0
        assert await store.last_position() == pairs[-1][0]

    async def test_after_and_limit_page_through_the_feed(self, store: Any) -> None:
        events = [make_event(f"actor-{n % 3}", n // 3 + 1) for n in range(25)]
        for event in events:
            await store.save_event(event)
        everything = await store.read_all(limit=1000)
        assert len(everything) == 25
        assert await _page_through(store, 0, 4) == everything
        middle = everything[9][0]
        assert await store.read_all(after=middle, limit=3) == everything[10:13]
        assert await store.read_all(after=everything[-1][0]) == []

    async def test_event_type_filter_skips_other_events(self, store: Any) -> None:
        for version in range(1, 31):
            kind = "Wanted" if version % 7 == 0 else "Other"
            await store.save_event(make_event("a", version, kind))
        wanted = await store.read_all(event_types=["Wanted"])
        assert [event.version for _, event in wanted] == [7, 14, 21, 28]
        everything = await store.read_all()
        assert wanted == [pair for pair in everything if pair[1].event_type == "Wanted"]
        assert await _page_through(store, 0, 1, event_types={"Wanted"}) == wanted
        assert await store.read_all(event_types=[]) == []

    async def test_filter_finds_a_match_behind_many_other_events(self, store: Any) -> None:
        await store.save_events([make_event("noise", v) for v in range(1, 1001)])
        await store.save_events([make_event("noise", v) for v in range(1001, 1501)])
        await store.save_event(make_event("rare", 1, "Rare"))
        (found,) = await store.read_all(event_types=["Rare"], limit=5)
        assert found[1].actor_id == "rare"
        assert await store.read_all(after=found[0], event_types=["Rare"]) == []

    async def test_follow_catches_up_then_tails(self, store: Any) -> None:
        first = [make_event("a", v) for v in (1, 2, 3)]
        await store.save_events(first)
        async with store.follow() as feed:
            caught_up = await _take(feed, 3)
            assert [event for _, event in caught_up] == first

            later = [make_event("b", 1), make_event("a", 4)]

            async def write_later() -> None:
                await asyncio.sleep(0.05)
                for event in later:
                    await store.save_event(event)

            writer = asyncio.create_task(write_later())
            tailed = await _take(feed, 2)
            await writer
        assert [event for _, event in tailed] == later
        _assert_increasing(caught_up + tailed)
        assert caught_up + tailed == await store.read_all()

    async def test_follow_from_a_position_and_with_a_filter(self, store: Any) -> None:
        for version in range(1, 11):
            await store.save_event(make_event("a", version, "Even" if version % 2 == 0 else "Odd"))
        everything = await store.read_all()
        async with store.follow(after=everything[4][0], event_types={"Even"}) as feed:
            pairs = await _take(feed, 3)
            await store.save_event(make_event("a", 11, "Odd"))
            await store.save_event(make_event("a", 12, "Even"))
            pairs += await _take(feed, 1)
        assert [event.version for _, event in pairs] == [6, 8, 10, 12]

    async def test_closing_a_follower_ends_its_iteration(self, store: Any) -> None:
        feed = store.follow()
        waiting = asyncio.create_task(feed.__anext__())
        await asyncio.sleep(0.05)
        await feed.close()
        got: list[Any] = []

        async def drain() -> None:
            with contextlib.suppress(StopAsyncIteration):
                got.append(await waiting)
            got.extend([pair async for pair in feed])

        await asyncio.wait_for(drain(), 10)
        assert got == []
        await feed.close()  # closing twice is harmless

    async def test_concurrent_writers_keep_each_actors_versions_in_feed_order(
        self, store: Any
    ) -> None:
        async def writer(actor: str) -> None:
            for version in range(1, 21):
                await store.save_event(make_event(actor, version))

        await asyncio.gather(*(writer(f"w{n}") for n in range(5)))
        pairs = await store.read_all()
        assert len(pairs) == 100
        for n in range(5):
            versions = [e.version for _, e in pairs if e.actor_id == f"w{n}"]
            assert versions == list(range(1, 21))

    # Every backend subclass runs this method (differing executors are the point) and the
    # store fixture outlives examples (each example reads after its own start).
    @settings(suppress_health_check=[HealthCheck.differing_executors, HealthCheck.too_slow,
                                     HealthCheck.function_scoped_fixture])
    @given(plan=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3)), min_size=1,
                         max_size=12),
           limit=st.integers(1, 7))
    async def test_paging_any_history_yields_exactly_what_was_saved(
        self, store: Any, plan: list[tuple[int, int]], limit: int
    ) -> None:
        # The store outlives the examples: each example reads only after its own start.
        start = await store.last_position()
        run = uuid4().hex[:8]
        versions: dict[int, int] = {}
        saved: list[Event] = []
        for actor, size in plan:
            first = versions.get(actor, 0) + 1
            batch = [make_event(f"{run}-{actor}", v) for v in range(first, first + size)]
            versions[actor] = first + size - 1
            await (store.save_event(batch[0]) if size == 1 else store.save_events(batch))
            saved.extend(batch)
        pairs = await _page_through(store, start, limit)
        assert [event for _, event in pairs] == saved
        _assert_increasing(pairs)

    async def test_a_feed_of_100000_events(self, store: Any) -> None:
        for first in range(1, BIG_FEED + 1, 1000):
            actor = f"bulk-{first % 7}"
            await store.save_events([make_event(actor, v) for v in range(first, first + 1000)])
        # Page through the first half, follow from there through the rest and the tail.
        half = await _page_through_until(store, BIG_FEED // 2)
        seen = [position for position, _ in half]
        async with store.follow(after=seen[-1]) as feed:
            async for position, _ in feed:
                seen.append(position)
                if len(seen) == BIG_FEED:
                    await store.save_event(make_event("tail", 1))
                if len(seen) == BIG_FEED + 1:
                    break
        assert len(seen) == len(set(seen)) == BIG_FEED + 1
        assert seen == sorted(seen)
        assert await store.last_position() == seen[-1]


async def _page_through_until(store: Any, count: int) -> list[tuple[int, Event]]:
    pairs: list[tuple[int, Event]] = []
    while len(pairs) < count:
        page = await store.read_all(after=pairs[-1][0] if pairs else 0, limit=1000)
        assert 0 < len(page) <= 1000
        pairs.extend(page)
    _assert_increasing(pairs)
    return pairs
