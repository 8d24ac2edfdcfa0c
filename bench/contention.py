"""Writers racing on one busy aggregate: `python -m bench contention`.

Two routers (two repositories, as two processes have) send deposits to one account whose
history is long, at once, on an in-memory store whose saves yield once before they land (as
a networked store's do), so they lose races to each other. Ours keeps the cache entry
across a lost race and the retry catches up with the events written since; the baseline
is the same repositories with ``cache_size=0``, which read the whole history for every
attempt (what every lost race cost before). Also printed: the events each side read.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Sequence
from decimal import Decimal

from aether import Event, VersionConflictError
from aether.store import InMemoryEventStore
from bench.table import Row, print_table
from tests.runtime.bank import Deposit, Open, bank_router

HISTORY = 3_000
COMMANDS = 300  # per writer


class YieldingStore(InMemoryEventStore):
    """Yields before each save lands and counts the events it reads."""

    def __init__(self) -> None:
        super().__init__()
        self.read = 0

    async def save_events(self, events: Sequence[Event]) -> None:
        await asyncio.sleep(0)
        await super().save_events(events)

    async def get_events(self, actor_id: str, from_version: int = 0) -> list[Event]:
        found = await super().get_events(actor_id, from_version)
        self.read += len(found)
        return found


async def _history() -> YieldingStore:
    store = YieldingStore()
    writer, _ = bank_router(store, cache_size=0)
    await writer.send("acc", Open(owner="bench"))
    for _ in range(HISTORY):
        await writer.send("acc", Deposit(amount=Decimal(1)))
    store.read = 0
    return store


async def _race(store: YieldingStore, cache_size: int) -> int:
    """Both writers' commands, at once; returns how many ended in a conflict that outlived
    the retries (counted, not hidden: both sides lose some)."""
    lost = 0

    async def writer() -> None:
        nonlocal lost
        router, _ = bank_router(store, cache_size=cache_size)
        for _ in range(COMMANDS):
            try:
                await router.send("acc", Deposit(amount=Decimal(1)))
            except VersionConflictError:
                lost += 1

    await asyncio.gather(writer(), writer())
    return lost


async def _measure(repeats: int = 3) -> tuple[list[Row], dict[str, tuple[int, int]]]:
    """Commands per second of each side, alternating, each on a fresh history built before
    its clock starts; each keeps its fastest run."""
    best = {"ours": float("inf"), "baseline": float("inf")}
    seen: dict[str, tuple[int, int]] = {}
    for _ in range(repeats):
        for name, cache_size in (("ours", 1024), ("baseline", 0)):
            store = await _history()
            gc.collect()
            start = time.perf_counter()
            lost = await _race(store, cache_size)
            best[name] = min(best[name], time.perf_counter() - start)
            seen[name] = (store.read, lost)
    commands = 2 * COMMANDS
    return [Row(f"racing commands, {HISTORY:,}-event history", commands / best["ours"],
                commands / best["baseline"])], seen


def main(options: list[str]) -> None:
    rows, seen = asyncio.run(_measure())
    print_table("Two writers racing on one aggregate (in-memory store, saves yield once)",
                "the same repositories with cache_size=0 (every attempt reads the history)",
                rows)
    for name, (read, lost) in seen.items():
        print(f"{name}: {read:,} events read, {lost} commands lost every retry")
