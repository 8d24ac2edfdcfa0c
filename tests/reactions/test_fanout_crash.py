"""A policy that sends many commands per event to one aggregate, its runner SIGKILLed
before a checkpoint: after the restart every command still takes effect once. The runner
checkpointed every 20 events, so it resent 20 x 12 commands, more than the aggregate
remembered (100 ids): each forgotten one ran again and, stored as the newest, pushed out
the next one resent, so every command since the checkpoint ran twice. It now counts the
commands it sends towards checkpoint_every."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections import Counter
from pathlib import Path
from uuid import uuid4

import nats
import pytest

from aether import COMMAND_ID
from aether.store import JetStreamEventStore
from aether.testing import NatsServer
from aether.testing.counters import Ticked, registry
from tests.reactions.fanout_worker import FAN_OUT, HOT
from tests.reactions.test_crash import spawn as crash_spawn

ROOT = Path(__file__).resolve().parents[2]
TICKS = 60


def spawn(url: str, name: str, mode: str) -> subprocess.Popen[str]:
    return crash_spawn(url, name, mode, worker_module="tests.reactions.fanout_worker")


@pytest.mark.slow
async def test_a_fanning_out_policy_killed_before_its_checkpoint_acts_once(
        private_nats_server: NatsServer) -> None:
    name = f"fan_{uuid4().hex[:8]}"
    nc = await nats.connect(private_nats_server.url)
    store = await JetStreamEventStore.create(nc, name)
    await store.save_events([registry.to_event(Ticked(counter="x"), "clock", version)
                             for version in range(1, TICKS + 1)])
    worker = spawn(private_nats_server.url, name, "forever")
    try:
        # Killed once about 19 events' commands are in: before the 20th event's checkpoint.
        while await store.get_latest_version(HOT) < 19 * FAN_OUT:
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            await asyncio.sleep(0.005)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        finish = spawn(private_nats_server.url, name, "finish")
        _, errors = await asyncio.to_thread(finish.communicate, timeout=300)
        assert finish.returncode == 0, errors[-2000:]
    finally:
        if worker.poll() is None:
            worker.kill()
    effects = Counter(event.metadata[COMMAND_ID] for event in await store.get_events(HOT))
    twice = [command_id for command_id, count in effects.items() if count > 1]
    assert not twice, f"{len(twice)} commands ran twice"
    assert len(effects) == TICKS * FAN_OUT
    await nc.drain()
