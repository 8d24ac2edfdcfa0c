"""A runner in its own OS process, SIGKILLed again and again while foreign records sit among
the events it reacts to: every good event's reaction takes effect exactly once, every
foreign record is parked exactly once, and none stops the runner."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
from collections import Counter
from uuid import uuid4

import nats
import pytest

from aether import COMMAND_ID, UNDECODABLE, JetStreamCheckpointStore
from aether.store import JetStreamEventStore
from aether.testing import NatsServer
from aether.testing.counters import CountsView, Ticked, registry
from tests.reactions.crash_worker import RUNNER
from tests.reactions.poison import foreign_tick, poisons, publish_raw
from tests.reactions.test_crash import COUNTERS, spawn
from tests.reactions.test_poison import read_everything

KILLS = 8
TICKS_PER_ROUND = 20


@pytest.mark.slow
async def test_sigkilled_runner_parks_each_foreign_record_once_and_loses_nothing(
    private_nats_server: NatsServer,
) -> None:
    rng = random.Random(20261128)
    name = f"poison_{uuid4().hex[:8]}"
    nc = await nats.connect(private_nats_server.url)
    store = await JetStreamEventStore.create(nc, name)
    checkpoints = await JetStreamCheckpointStore.for_store(nc, store)
    bad = list(poisons().values())
    clock_version = 0
    ticks: list[str] = []
    poisoned: list[int] = []
    interrupted = 0

    async def add_round(last_is_poison: bool = False) -> None:
        nonlocal clock_version
        for number in range(TICKS_PER_ROUND):
            if rng.random() < 0.3:
                poisoned.append(await publish_raw(nc, store, rng.choice(bad)))
            if number == 3:  # a valid event a foreign client wrote: a good event like any
                await publish_raw(nc, store, foreign_tick(rng.choice(COUNTERS), 1))
                ticks.append(str((await store.read_all(await store.last_position() - 1,
                                                       1))[0][1].id))
                continue
            clock_version += 1
            event = registry.to_event(Ticked(counter=rng.choice(COUNTERS)), "clock",
                                      clock_version)
            await store.save_event(event)
            ticks.append(event.id)
        if last_is_poison:
            poisoned.append(await publish_raw(nc, store, b"\x00the very last record"))

    async def started_on(position: int) -> None:
        # Until the runner's checkpoint moves past where the round began (as test_crash).
        for _ in range(2500):
            if await checkpoints.load(RUNNER, "IncrementOnTick") > position:
                return
            await asyncio.sleep(0.002)

    for round_number in range(KILLS):
        await add_round()
        began = await checkpoints.load(RUNNER, "IncrementOnTick")
        worker = spawn(private_nats_server.url, name, "forever")
        if round_number % 2:  # soon after the runner started on the round
            await started_on(began)
            await asyncio.sleep(rng.uniform(0.0, 0.02))
        else:  # any moment, catching up included
            await asyncio.sleep(rng.uniform(0.0, 0.3))
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
        reached = await checkpoints.load(RUNNER, "IncrementOnTick")
        interrupted += reached < await store.last_position()

    await add_round(last_is_poison=True)
    final = spawn(private_nats_server.url, name, "finish")
    try:
        out, err = final.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        final.kill()
        out, err = final.communicate()
    assert final.returncode == 0, err[-3000:]
    views = json.loads(out.strip().splitlines()[-1])

    # Every foreign record parked once, under the runner, and none left behind.
    parked = await checkpoints.parked(RUNNER)
    assert [(p.handler, p.position) for p in parked] == [(UNDECODABLE, p) for p in poisoned]
    assert len(poisoned) >= KILLS // 2
    assert interrupted >= KILLS // 2  # kills landed with work outstanding

    # Every good tick's reaction exactly once, with its deterministic command id.
    pairs, skipped = await read_everything(store, 1000)
    assert skipped == poisoned
    tick_events = [event for _, event in pairs if event.event_type == "Ticked"]
    assert [event.id for event in tick_events] == ticks
    expected = Counter(str(event.data["counter"]) for event in tick_events)
    command_ids: list[str] = []
    for counter in COUNTERS:
        increments = await store.get_events(counter)
        assert len(increments) == expected[counter], counter
        command_ids += [event.metadata[COMMAND_ID] for event in increments]
    assert sorted(command_ids) == sorted(f"{tick}/IncrementOnTick/0" for tick in ticks)

    # The final run's read model equals a rebuild from the good events.
    rebuilt = CountsView()
    for _, event in pairs:
        rebuilt.handle(event, registry)
    assert views["counts"] == rebuilt.counts == dict(expected)
    assert views["ticks"] == rebuilt.ticks == len(ticks)
    await nc.drain()
