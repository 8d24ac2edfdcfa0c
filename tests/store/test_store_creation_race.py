"""Stores whose stream names overlap, opened at the same instant: store ``f`` wants
streams ``f`` and ``f_snapshots``, store ``f_snapshots`` wants ``f_snapshots`` and
``f_snapshots_snapshots``. One of them wins; the other is refused and leaves no empty
stream behind, whichever order their requests interleave in, over two connections or
from two OS processes."""

from __future__ import annotations

import asyncio
import multiprocessing
from uuid import uuid4

import nats
from nats.aio.client import Client

from aether import StoreConfigError
from aether.store import JetStreamEventStore
from aether.testing import NatsServer


async def _streams(nc: Client, prefix: str) -> set[str]:
    return {name for info in await nc.jetstream().streams_info()
            if (name := info.config.name or "").startswith(prefix)}


def _winner_streams(outcomes: list[object], names: list[str]) -> set[str]:
    won = [name for name, outcome in zip(names, outcomes, strict=True)
           if isinstance(outcome, JetStreamEventStore)]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(won) == 1, outcomes
    assert all(isinstance(o, StoreConfigError) and "already belongs to" in str(o)
               for o in refused), refused
    return {won[0], f"{won[0]}_snapshots"}


async def test_racing_creators_on_two_connections_leave_only_the_winners_streams(
        two_connections: tuple[Client, Client]) -> None:
    a, b = two_connections
    for _ in range(12):
        base = f"race{uuid4().hex[:8]}"
        names = [base, f"{base}_snapshots"]
        outcomes = await asyncio.gather(
            JetStreamEventStore.create(a, names[0]), JetStreamEventStore.create(b, names[1]),
            return_exceptions=True)
        assert await _streams(a, base) == _winner_streams(list(outcomes), names)


def _open(url: str, name: str, start: multiprocessing.synchronize.Event,
          results: multiprocessing.Queue[str]) -> None:
    async def main() -> str:
        nc = await nats.connect(url)
        try:
            start.wait()
            await JetStreamEventStore.create(nc, name)
            return "won"
        except StoreConfigError:
            return "refused"
        finally:
            await nc.close()

    results.put(f"{name} {asyncio.run(main())}")


async def test_racing_creators_in_two_processes_leave_only_the_winners_streams(
        nats_server: NatsServer, two_connections: tuple[Client, Client]) -> None:
    context = multiprocessing.get_context("spawn")
    for _ in range(3):
        base = f"race{uuid4().hex[:8]}"
        names = [base, f"{base}_snapshots"]
        start, results = context.Event(), context.Queue()
        workers = [context.Process(target=_open, args=(nats_server.url, n, start, results))
                   for n in names]
        for worker in workers:
            worker.start()
        await asyncio.sleep(1.0)  # both connected and waiting
        start.set()
        said = dict(line.split(" ") for line in
                    [await asyncio.to_thread(results.get, True, 30) for _ in workers])
        for worker in workers:
            await asyncio.to_thread(worker.join, 30)
        assert sorted(said.values()) == ["refused", "won"], said
        winner = next(name for name, outcome in said.items() if outcome == "won")
        assert await _streams(two_connections[0], base) == {winner, f"{winner}_snapshots"}
