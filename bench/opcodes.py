"""Where a new order's interpreted work goes: ``python -m bench.opcodes`` sends one
PlaceOrder through the orders example's router (after a warm-up, so caches and plans are
built) and prints the bytecodes each Python function executed, most first. The command is
built before tracing starts, so this is the framework's path and the example's handlers,
not the command's validation. Counts are exact and repeatable; they say where the
interpreter spends its steps, not what the C calls inside them cost (bench/ir.sh does).
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from types import FrameType
from typing import Any

from aether.store import InMemoryEventStore
from bench.app import place_order
from examples.orders.project.orders.app import make_router


def _where(frame: FrameType) -> str:
    code = frame.f_code
    return f"{'/'.join(code.co_filename.split('/')[-2:])}:{code.co_name}"


async def count_one_send(warm_up: int = 50) -> Counter[str]:
    router = make_router(InMemoryEventStore())
    for index in range(warm_up):
        await router.send(f"order-{index}", place_order(f"{index}"))
    counts: Counter[str] = Counter()

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            counts[_where(frame)] += 1
        return trace

    command = place_order("traced")
    sys.settrace(trace)
    try:
        await router.send("order-traced", command)
    finally:
        sys.settrace(None)
    return counts


def main() -> None:
    counts = asyncio.run(count_one_send())
    print(f"{sum(counts.values())} bytecodes in {len(counts)} functions")
    for where, count in counts.most_common():
        print(f"{count:6d}  {where}")


if __name__ == "__main__":
    main()
