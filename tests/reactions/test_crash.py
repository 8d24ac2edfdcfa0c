"""A runner SIGKILLed at random moments still applies every reaction exactly once."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from uuid import uuid4

import nats
import pytest

from aether import COMMAND_ID, JetStreamCheckpointStore, Repository
from aether.store import JetStreamEventStore
from aether.testing import NatsServer
from aether.testing.counters import Counter as CounterAggregate
from aether.testing.counters import CountsView, Ticked, registry
from tests.reactions.crash_worker import RUNNER

ROOT = Path(__file__).resolve().parents[2]
KILLS = 22
TICKS_PER_ROUND = 25
COUNTERS = [f"counter-{n}" for n in range(6)]


def spawn(url: str, name: str, mode: str,
          worker_module: str = "tests.reactions.crash_worker") -> subprocess.Popen[str]:
    """A worker process (``python -m worker_module URL NAME MODE``), once it said "ready"."""
    worker = subprocess.Popen(
        [sys.executable, "-m", worker_module, url, name, mode],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert worker.stdout is not None
    line = worker.stdout.readline()
    assert line.strip() == "ready", (line, worker.stderr.read() if worker.stderr else "")
    return worker


@pytest.mark.slow
async def test_sigkilled_runner_applies_every_reaction_exactly_once(
    private_nats_server: NatsServer,
) -> None:
    rng = random.Random(20261127)
    name = f"crash_{uuid4().hex[:8]}"
    nc = await nats.connect(private_nats_server.url)
    store = await JetStreamEventStore.create(nc, name)
    checkpoints = await JetStreamCheckpointStore.for_store(nc, store)
    clock_version = 0
    ticks: list[str] = []
    interrupted = 0

    async def add_ticks(count: int) -> None:
        nonlocal clock_version
        for _ in range(count):
            clock_version += 1
            counter = rng.choice(COUNTERS)
            event = registry.to_event(Ticked(counter=counter), "clock", clock_version)
            await store.save_event(event)
            ticks.append(event.id)

    async def started_on(position: int) -> None:
        # Until the runner's checkpoint moves past where the round began (it saves one every
        # 4 events of the round's 50), so the kill lands while work is outstanding however
        # fast this machine runs the round; at most 5 s.
        for _ in range(2500):
            if await checkpoints.load(RUNNER, "IncrementOnTick") > position:
                return
            await asyncio.sleep(0.002)

    for round_number in range(KILLS):
        await add_ticks(TICKS_PER_ROUND)
        began = await checkpoints.load(RUNNER, "IncrementOnTick")
        worker = spawn(private_nats_server.url, name, "forever")
        if round_number % 3:  # a moment soon after the runner started on the round
            await started_on(began)
            await asyncio.sleep(rng.uniform(0.0, 0.02))
        else:  # any moment, catching up included
            await asyncio.sleep(rng.uniform(0.0, 0.35))
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
        reached = await checkpoints.load(RUNNER, "IncrementOnTick")
        interrupted += reached < await store.last_position()

    await add_ticks(TICKS_PER_ROUND)
    final = spawn(private_nats_server.url, name, "finish")
    try:
        out, err = final.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        final.kill()
        out, err = final.communicate()
    assert final.returncode == 0, err[-3000:]
    views = json.loads(out.strip().splitlines()[-1])

    # Kills landed while work was outstanding, not only after it was done.
    assert interrupted >= KILLS // 2

    # Every tick's reaction took effect exactly once: one increment per tick, carrying the
    # tick's deterministic command id, and counters equal to their ticks.
    tick_events = await store.get_events("clock")
    expected = Counter(str(event.data["counter"]) for event in tick_events)
    assert sum(expected.values()) == len(ticks) == (KILLS + 1) * TICKS_PER_ROUND
    repository = Repository(store, CounterAggregate, registry, snapshot_store=store)
    command_ids: list[str] = []
    for counter in COUNTERS:
        increments = await store.get_events(counter)
        assert len(increments) == expected[counter], counter
        command_ids += [event.metadata[COMMAND_ID] for event in increments]
        assert (await repository.load(counter)).state.count == expected[counter]
    assert sorted(command_ids) == sorted(f"{tick}/IncrementOnTick/0" for tick in ticks)

    # The read model the final run built equals a rebuild from the whole feed.
    rebuilt = CountsView()
    after = 0
    while pairs := await store.read_all(after=after):
        for _, event in pairs:
            rebuilt.handle(event, registry)
        after = pairs[-1][0]
    assert views["counts"] == rebuilt.counts == dict(expected)
    assert views["ticks"] == rebuilt.ticks == len(ticks)
    await nc.drain()
