"""An exclusive reaction runner in its own OS process, for the lease tests (SIGKILL, SIGSTOP).

    python -m tests.reactions.lease_worker URL STORE APPLIED TAG LEASE_TTL

Runs ``RUNNER`` over STORE with a durable read model that appends one line per event it
applies to the file APPLIED ("<event id> <TAG>"), and the IncrementOnTick policy. Prints
"ready" once started (active or standby), and on SIGTERM stops the runner gracefully and
prints its counters as JSON.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import ClassVar

import nats

from aether import Event, JetStreamCheckpointStore, ReactionRunner, ReadModel
from aether.registry import EventPayload
from aether.store import JetStreamEventStore
from aether.testing.counters import IncrementOnTick, make_counter_router, registry

RUNNER = "lease-test"


class AppliedLog(ReadModel):
    """A durable read model whose state is a file every process can read: one line per
    event it applied, with who applied it (one write call: appends do not interleave)."""

    reads: ClassVar[tuple[str, ...]] = ("Ticked",)
    durable: ClassVar[bool] = True

    def __init__(self, path: Path, tag: str) -> None:
        self.path = path
        self.tag = tag

    def project(self, event: EventPayload, envelope: Event) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, f"{envelope.id} {self.tag}\n".encode())
        finally:
            os.close(fd)


def applied(path: Path) -> list[tuple[str, str]]:
    """(event id, tag) of every application so far, in order."""
    if not path.exists():
        return []
    return [tuple(line.split(" ", 1)) for line in path.read_text().splitlines()]  # type: ignore[misc]


class SlowLog(AppliedLog):
    """AppliedLog that blocks the event loop for ``seconds`` on every event, as a handler
    making a synchronous call does."""

    def __init__(self, path: Path, tag: str, seconds: float) -> None:
        super().__init__(path, tag)
        self.seconds = seconds

    def project(self, event: EventPayload, envelope: Event) -> None:
        super().project(event, envelope)
        time.sleep(self.seconds)


async def main(url: str, name: str, log: str, tag: str, lease_ttl: str,
               sleep: str = "0") -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"{tag} %(asctime)s %(name)s %(message)s")
    nc = await nats.connect(url, max_reconnect_attempts=-1)
    store = await JetStreamEventStore.create(nc, name)
    checkpoints = await JetStreamCheckpointStore.for_store(nc, store)
    runner = ReactionRunner(RUNNER, store, registry, make_counter_router(store),
                            policies=[IncrementOnTick()],
                            read_models=[SlowLog(Path(log), tag, float(sleep)) if float(sleep)
                                         else AppliedLog(Path(log), tag)],
                            checkpoints=checkpoints, checkpoint_every=5,
                            lease_ttl=float(lease_ttl))
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await runner.start()
    print("ready", flush=True)
    await stopping.wait()
    await runner.stop()
    print(json.dumps(dataclasses.asdict(runner.counters)), flush=True)
    await nc.drain()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
