"""Code run in separate OS processes by the JetStream resilience tests (spawned, so importable)."""

from __future__ import annotations

import asyncio
import time

import nats

from aether import VersionConflictError
from aether.store import JetStreamEventStore
from aether.testing import make_event


def race(url: str, name: str, worker: int, actors: list[str], versions: int,
         start_at: float) -> tuple[list[tuple[str, int]], int]:
    """Try to write every version of every actor; return the (actor, version)s won
    and how many attempts lost to another process."""
    return asyncio.run(_race(url, name, worker, actors, versions, start_at))


async def _race(url: str, name: str, worker: int, actors: list[str], versions: int,
                start_at: float) -> tuple[list[tuple[str, int]], int]:
    nc = await nats.connect(url)
    store = await JetStreamEventStore.create(nc, name)
    won: list[tuple[str, int]] = []
    lost = 0
    await asyncio.sleep(max(0.0, start_at - time.time()))  # all processes start together
    for version in range(1, versions + 1):
        for actor in actors:
            try:
                await store.save_event(make_event(actor, version, worker=worker))
            except VersionConflictError as conflict:
                assert conflict.current_version >= version
                lost += 1
            else:
                won.append((actor, version))
    await nc.drain()
    return won, lost
