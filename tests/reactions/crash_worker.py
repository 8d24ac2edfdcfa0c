"""A reaction runner in its own OS process, for the SIGKILL crash test.

    python -m tests.reactions.crash_worker URL STORE forever   # run until killed
    python -m tests.reactions.crash_worker URL STORE finish    # run until quiet, print views

Prints "ready" once connected, so the test kills it while it works, not while it imports.
"""

from __future__ import annotations

import asyncio
import json
import sys

import nats

from aether import JetStreamCheckpointStore, ReactionRunner
from aether.store import JetStreamEventStore
from aether.testing.counters import CountsView, IncrementOnTick, make_counter_router, registry

RUNNER = "crash-test"


async def make_runner(url: str, name: str) -> tuple[ReactionRunner, CountsView]:
    nc = await nats.connect(url)
    store = await JetStreamEventStore.create(nc, name)
    checkpoints = await JetStreamCheckpointStore.for_store(nc, store)
    # Snapshots every few versions: remembered command ids must survive them.
    router = make_counter_router(store, snapshot_store=store, snapshot_every=3)
    view = CountsView()
    runner = ReactionRunner(RUNNER, store, registry, router, policies=[IncrementOnTick()],
                            read_models=[view], checkpoints=checkpoints, checkpoint_every=4)
    return runner, view


async def report_progress(runner: ReactionRunner) -> None:
    """On stderr, for the test's failure message should the final run hang."""
    while True:
        await asyncio.sleep(10)
        print(f"position {runner.position} of {await runner.store.last_position()}, "
              f"running {runner.running}, error {runner.error!r}, {runner.counters}",
              file=sys.stderr, flush=True)


async def main(url: str, name: str, mode: str) -> None:
    runner, view = await make_runner(url, name)
    print("ready", flush=True)
    await runner.start()
    if mode == "forever":
        await asyncio.Event().wait()
    reporter = asyncio.create_task(report_progress(runner))
    # Until quiet: the policy's commands add events, which the runner then reads too.
    while True:
        await runner.wait_caught_up()
        if runner.position == await runner.store.last_position():
            break
    await runner.stop()
    reporter.cancel()
    print(json.dumps({"counts": view.counts, "ticks": view.ticks,
                      "processed": runner.counters.processed}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
