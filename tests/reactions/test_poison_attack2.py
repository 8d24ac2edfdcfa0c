"""Attacks on the feed's handling of records that are not events: headers a foreign client
chose, a poison first, runs of poison under a type filter, poison arriving while tailing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

import pytest
from nats.aio.client import Client

from aether import InMemoryCheckpointStore, ReactionRunner, UndecodableEventError
from aether.store import JetStreamConfig, JetStreamEventStore
from aether.testing.counters import Incremented, make_counter_router, registry
from tests.reactions.poison import FOREIGN, foreign_tick, poisons, publish_raw
from tests.reactions.test_poison import TickLog, read_everything
from tests.reactions.test_runner import tick


async def publish_with(nc: Client, store: JetStreamEventStore, data: bytes,
                       headers: dict[str, str]) -> int:
    ack = await nc.jetstream().publish(f"{store.stream_name}.events.{FOREIGN}", data,
                                       headers=headers)
    return int(ack.seq)


@pytest.mark.parametrize("headers", [
    {"Nats-Sequence": "1"}, {"Nats-Sequence": "999999"}, {"Nats-Sequence": "x"},
    {"Status": "404"}, {"Status": "204", "Nats-Num-Pending": "0"},
    {"Nats-Subject": "s" * 10_000},
])
@pytest.mark.parametrize("data", [b"{not json", None])
async def test_a_foreign_records_own_headers_do_not_move_or_end_the_feed(
        nc: Client, jetstream_store: JetStreamEventStore, headers: dict[str, str],
        data: bytes | None) -> None:
    store = jetstream_store
    await tick(store, ["a"])
    first = await store.last_position()
    odd = await publish_with(nc, store, data or foreign_tick("outside", 1), headers)
    await tick(store, ["b"])
    last = await store.last_position()
    for limit in (1, 1000):
        pairs, skipped = await read_everything(store, limit)
        if data is None:  # a valid event with odd headers: returned at its own position
            assert [p for p, _ in pairs] == [first, odd, last] and skipped == []
        else:
            assert [p for p, _ in pairs] == [first, last] and skipped == [odd]


async def increment(store: JetStreamEventStore, actor: str) -> int:
    version = await store.get_latest_version(actor)
    await store.save_event(registry.to_event(Incremented(by=1), actor, version + 1))
    return await store.last_position()


async def test_runs_of_poison_between_filtered_out_events_are_each_reported_once(
        nc: Client, jetstream_store: JetStreamEventStore) -> None:
    """Poison first, then runs of poison among events the filter skips and events it keeps."""
    store = jetstream_store
    bad = [await publish_raw(nc, store, b"{first")]
    wanted: list[int] = []
    samples = list(poisons().values())
    for round_ in range(12):
        for index in range(round_ % 4):
            bad.append(await publish_raw(nc, store, samples[(round_ + index) % len(samples)]))
        await increment(store, f"n{round_}")
        if round_ % 3 == 0:
            await tick(store, [f"t{round_}"])
            wanted.append(await store.last_position())
        bad.append(await publish_raw(nc, store, b"[]"))
    for limit in (1, 2, 1000):
        pairs, skipped = await read_everything(store, limit, ["Ticked"])
        assert [p for p, _ in pairs] == wanted and skipped == bad, limit


@pytest.mark.parametrize("with_callback", [True, False])
async def test_follow_meets_poison_published_while_it_tails_in_order(
        nc: Client, jetstream_store: JetStreamEventStore, with_callback: bool) -> None:
    """With and without on_undecodable, a tailing follower sees every poison once, at its
    position, between the good events around it, and does not stop at it."""
    store = jetstream_store
    start = await store.last_position()
    seen: list[tuple[str, int]] = []
    expected: list[tuple[str, int]] = []

    async def reported(error: UndecodableEventError) -> None:
        seen.append(("bad", error.position))

    async with store.follow(start, event_types=["Ticked"]) as feed:
        if with_callback:
            feed.on_undecodable(reported)

        async def consume() -> None:
            while len(seen) < 10:
                try:
                    position, _ = await feed.__anext__()
                except UndecodableEventError as error:
                    assert not with_callback
                    seen.append(("bad", error.position))
                    continue
                seen.append(("good", position))

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0.05)  # the follower is tailing now
        for round_ in range(3):
            expected.append(("bad", await publish_raw(nc, store, b"\xff")))
            await increment(store, "skipped")
            await tick(store, [f"t{round_}"])
            expected.append(("good", await store.last_position()))
            expected.append(("bad", await publish_raw(nc, store, b"{}")))
            await asyncio.sleep(0.02)
        await tick(store, ["last"])  # the callback's last record is followed by a match
        expected.append(("good", await store.last_position()))
        try:
            async with asyncio.timeout(5):
                await consumer
        except TimeoutError:
            consumer.cancel()
    assert seen == expected, with_callback


async def test_replaying_a_parked_record_that_expired_before_another_foreign_one(
        nc: Client) -> None:
    # The re-read starts after the parked position, so with the parked record gone it meets
    # the next one; when that is undecodable too, the parked record is gone all the same
    # (it used to raise the later record's error on every replay).
    store = await JetStreamEventStore.create(nc, f"expire_{uuid4().hex[:8]}", JetStreamConfig(
        storage="memory", stream_retention=timedelta(seconds=1),
        duplicate_window=timedelta(milliseconds=500)))
    first = await publish_raw(nc, store, b"not an event")
    runner = ReactionRunner("expired", store, registry, make_counter_router(store),
                            read_models=[TickLog()], checkpoints=InMemoryCheckpointStore())
    await runner.start()
    await asyncio.wait_for(runner.wait_caught_up(), 30)
    await runner.stop()
    assert [parked.position for parked in await runner.parked()] == [first]
    for _ in range(100):  # until the server expires it (about a second)
        try:
            if await store.read_all(0, 10) == []:
                break
        except UndecodableEventError:
            pass
        await asyncio.sleep(0.1)
    second = await publish_raw(nc, store, b"[1, 2]")
    assert second > first

    assert await runner.replay_parked() == 0
    (parked,) = await runner.parked()
    assert parked.position == first and parked.attempts == 2
    assert "no longer in the store" in (parked.error or "")
