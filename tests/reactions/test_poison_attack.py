"""Attacks on the poison handling: any bytes at all, two runners sharing a name, an outage
between parking a record and checkpointing past it, hostile parked positions."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import nats
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client
from nats.aio.msg import Msg

from aether import (
    UNDECODABLE,
    EventDecodeError,
    InMemoryCheckpointStore,
    JetStreamCheckpointStore,
    ParkedEvent,
    ReactionRunner,
    RetryPolicy,
)
from aether.event import Event
from aether.feed import MAX_POSITION
from aether.store import JetStreamConfig, JetStreamEventStore
from aether.store.stored import decode_message
from aether.testing import NatsServer
from aether.testing.counters import CountsView, IncrementOnTick, make_counter_router, registry
from tests.reactions.poison import foreign_tick, poisons, publish_raw
from tests.reactions.test_poison import mixed, read_everything
from tests.reactions.test_runner import counts, tick

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                               max_size=4),
    max_leaves=20)


def _mutated(fields: dict[str, Any], key: str, value: Any) -> bytes:
    return json.dumps(fields | {key: value}).encode()


@given(raw=st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.tuples(st.sampled_from(["id", "event_type", "actor_id", "version", "data",
                               "timestamp", "metadata"]), json_values).map(
        lambda change: _mutated(json.loads(foreign_tick("x", 1)), *change)),
))
def test_decoding_any_stored_bytes_gives_an_event_or_an_event_decode_error(raw: bytes) -> None:
    """Whatever a foreign client wrote, the feed's decoder never raises anything a reader
    would not expect (which would stop a runner instead of parking the record)."""
    message = Msg(None, subject="s", data=raw, headers={"Nats-Subject": "s"})  # type: ignore[arg-type]
    with contextlib.suppress(EventDecodeError):
        assert isinstance(decode_message(Event, message), Event)


async def test_two_runners_on_one_name_park_each_poison_once_and_act_once(
        nc: Client, jetstream_store: JetStreamEventStore) -> None:
    store = jetstream_store
    good, bad = await mixed(nc, store)
    checkpoints = await JetStreamCheckpointStore.for_store(nc, store)
    runners = [ReactionRunner("shared", store, registry, make_counter_router(store),
                              policies=[IncrementOnTick()], checkpoints=checkpoints)
               for _ in range(2)]
    await asyncio.gather(*(runner.start() for runner in runners))
    for _ in range(3):  # the ticks, then the increments the policy's commands write
        await asyncio.wait_for(asyncio.gather(*(r.wait_caught_up() for r in runners)), 30)
    await asyncio.gather(*(runner.stop() for runner in runners))
    assert all(runner.error is None for runner in runners)
    parked = await checkpoints.parked("shared")
    assert [(p.handler, p.position) for p in parked] == [(UNDECODABLE, p) for p in sorted(bad)]
    assert await counts(store, [f"c{n}" for n in range(len(poisons()))] + ["outside"]) == \
        dict.fromkeys([f"c{n}" for n in range(len(poisons()))] + ["outside"], 1)
    assert len(good) == len(poisons()) + 1


class StopsTheServerAfterParking(JetStreamCheckpointStore):
    """A real checkpoint bucket; right after the first record is parked (before the runner
    can checkpoint past it) the server goes down for a while."""

    server: NatsServer
    outage: asyncio.Task[None] | None = None

    async def park(self, parked: ParkedEvent) -> None:
        await super().park(parked)
        if self.outage is None:
            await asyncio.to_thread(self.server.stop)
            self.outage = asyncio.create_task(self._restart())

    async def _restart(self) -> None:
        await asyncio.sleep(2.0)
        await asyncio.to_thread(self.server.start)


@pytest.mark.slow
async def test_a_server_restart_between_park_and_checkpoint_parks_once_and_loses_nothing(
        private_nats_server: NatsServer) -> None:
    server = private_nats_server
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    store = await JetStreamEventStore.create(nc, "restart", JetStreamConfig(request_timeout=0.5))
    plain = await JetStreamCheckpointStore.for_store(nc, store)
    checkpoints = StopsTheServerAfterParking(nc, plain.bucket, timeout=0.5)
    checkpoints.server = server
    await tick(store, ["a"])
    poison = await publish_raw(nc, store, poisons()["garbage"])
    await tick(store, ["b"])
    view = CountsView()
    runner = ReactionRunner("restart", store, registry, make_counter_router(store),
                            policies=[IncrementOnTick()], read_models=[view],
                            checkpoints=checkpoints,
                            retry=RetryPolicy(attempts=2, backoff=0.05, max_backoff=0.3))
    await runner.start()
    try:
        for _ in range(3):
            await asyncio.wait_for(runner.wait_caught_up(), 60)
        assert checkpoints.outage is not None
        await checkpoints.outage
        assert runner.error is None and runner.counters.outages >= 1
        parked = await runner.parked()
        assert [(p.handler, p.position) for p in parked] == [(UNDECODABLE, poison)]
        assert await counts(store, "ab") == {"a": 1, "b": 1}
        assert view.ticks == 2
        assert await checkpoints.load("restart", "IncrementOnTick") == \
            await store.last_position()
    finally:
        await runner.stop()
        with contextlib.suppress(Exception):
            await nc.drain()


@pytest.mark.parametrize("position", [0, -1, MAX_POSITION + 1])
async def test_a_parked_record_with_a_hostile_position_stays_parked_on_replay(
        jetstream_store: JetStreamEventStore, position: int) -> None:
    checkpoints = InMemoryCheckpointStore()
    runner = ReactionRunner("hostile", jetstream_store, registry,
                            make_counter_router(jetstream_store), read_models=[CountsView()],
                            checkpoints=checkpoints)
    (pairs, _) = await read_everything(jetstream_store, 10)
    assert pairs == []
    await checkpoints.park(ParkedEvent.model_validate({
        "runner": "hostile", "handler": UNDECODABLE, "position": position, "event": None,
        "error": "?", "attempts": 1, "parked_at": "2026-01-01T00:00:00Z"}))
    assert await runner.replay_parked() == 0
    (left,) = await runner.parked()
    assert left.attempts == 2 and "not a feed position" in left.error


async def test_a_flood_of_foreign_records_is_passed_in_one_read_each_not_a_batch_each(
        nc: Client, jetstream_store: JetStreamEventStore) -> None:
    """1,500 records in a row that are not events, then one that is: each read past one used
    to fetch a whole batch again (3,000 took 128 s); the rest of the batch is kept now."""
    store = jetstream_store
    await tick(store, ["first"])
    js = nc.jetstream()
    for number in range(1500):
        await js.publish(f"{store.stream_name}.events.foreign", b"junk %d" % number)
    await tick(store, ["last"])
    pairs, skipped = await read_everything(store, 1000, ["Ticked"])
    assert [position for position, _ in pairs] == [1, 1502] and skipped == list(range(2, 1502))
    view = CountsView()
    runner = ReactionRunner("flood", store, registry, make_counter_router(store),
                            read_models=[view], checkpoints=InMemoryCheckpointStore())
    await runner.start()
    await asyncio.wait_for(runner.wait_caught_up(), 60)
    await runner.stop()
    assert view.ticks == 2 and runner.counters.undecodable == 1500
    assert [parked.excerpt for parked in await runner.parked()] == \
        [f"junk {number}" for number in range(1500)]
