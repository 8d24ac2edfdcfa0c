"""A reaction runner whose policy sends many commands per event to one aggregate, in its
own OS process, for the fan-out crash test.

    python -m tests.reactions.fanout_worker URL STORE forever   # run until killed
    python -m tests.reactions.fanout_worker URL STORE finish    # run until caught up

Prints "ready" once connected.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import ClassVar

import nats

from aether import JetStreamCheckpointStore, ReactionRunner, Repository
from aether.command import Command, Dispatch
from aether.event import Event
from aether.reactions import Policy
from aether.registry import EventPayload
from aether.router import CommandRouter
from aether.store import JetStreamEventStore
from aether.testing.counters import Counter, Increment, registry

RUNNER = "fan-out"
FAN_OUT = 12
HOT = "hot"


class SmallWindowCounter(Counter):
    """Remembers its last 100 command ids (1000 by default): what a crash may make the
    runner resend must stay inside that window."""

    remembered_commands: ClassVar[int] = 100


class FanOut(Policy):
    reacts_to: ClassVar[tuple[str, ...]] = ("Ticked",)

    def react(self, event: EventPayload, envelope: Event) -> Sequence[Dispatch[Command]]:
        return [Dispatch(HOT, Increment()) for _ in range(FAN_OUT)]


async def main(url: str, name: str, mode: str) -> None:
    nc = await nats.connect(url)
    store = await JetStreamEventStore.create(nc, name)
    checkpoints = await JetStreamCheckpointStore.for_store(nc, store)
    router = CommandRouter()
    router.route(Increment, Repository(store, SmallWindowCounter, registry),
                 SmallWindowCounter.handle)
    runner = ReactionRunner(RUNNER, store, registry, router, policies=[FanOut()],
                            checkpoints=checkpoints, checkpoint_every=20)
    print("ready", flush=True)
    await runner.start()
    if mode == "forever":
        await asyncio.Event().wait()
    # Until quiet: the policy's commands add events, which the runner then reads too.
    while True:
        await runner.wait_caught_up()
        if runner.position == await store.last_position():
            break
    await runner.stop()
    await nc.drain()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
