"""Timing helpers and the table every benchmark prints."""

from __future__ import annotations

import gc
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    operation: str
    ours: float
    baseline: float
    unit: str = "ops/s"

    @property
    def ratio(self) -> float:
        """How many times better ours is (rates: higher is better; durations and object
        counts: lower is better)."""
        if self.unit in ("s", "ms", "us", "obj"):  # durations and counts of objects
            return self.baseline / self.ours if self.ours else float("inf")
        return self.ours / self.baseline if self.baseline else float("inf")


def best_rate(operations: int, run: Callable[[], object], repeats: int = 5) -> float:
    """Operations per second of the fastest of ``repeats`` runs (least disturbed by noise)."""
    best = min(_timed(run) for _ in range(repeats))
    return operations / best


async def best_rate_async(
    operations: int, run: Callable[[], Awaitable[object]], repeats: int = 5
) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        await run()
        timings.append(time.perf_counter() - start)
    return operations / min(timings)


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def print_table(title: str, baseline_name: str, rows: list[Row]) -> None:
    print(f"\n{title}\nbaseline: {baseline_name}\n")
    header = f"| {'operation':<44} | {'ours':>12} | {'baseline':>12} | {'unit':>5} | {'ratio':>6} |"
    print(header)
    print("|" + "|".join("-" * (len(part)) for part in header.split("|")[1:-1]) + "|")
    number = "{:>12,.3f}" if all(row.unit == "s" for row in rows) else "{:>12,.1f}"
    for row in rows:
        print(
            f"| {row.operation:<44} | {number.format(row.ours)} | {number.format(row.baseline)} "
            f"| {row.unit:>5} | {row.ratio:>5.2f}x |"
        )


async def compare_async(
    operations: int,
    ours: Callable[[], Awaitable[object]],
    baseline: Callable[[], Awaitable[object]],
    repeats: int = 5,
) -> tuple[float, float]:
    """Rates of ours and the baseline, alternating runs so drift on a shared machine
    hits both alike; each side keeps its fastest run."""
    ours_best = baseline_best = float("inf")
    for _ in range(repeats):
        for run, is_ours in ((ours, True), (baseline, False)):
            gc.collect()  # each run starts from a collected heap, not the other's garbage
            start = time.perf_counter()
            await run()
            elapsed = time.perf_counter() - start
            if is_ours:
                ours_best = min(ours_best, elapsed)
            else:
                baseline_best = min(baseline_best, elapsed)
    return operations / ours_best, operations / baseline_best
