"""Instruction-count harness for bench/concurrency.py at 100 senders (run under valgrind, see
bench/ir.sh): python -m bench.ir_concurrency MODE, MODE one of warm (a server, both sides set
up and run once), ours (warm + 2 runs of ours), raw (warm + 2 runs of the raw client).
Per command: (Ir(MODE) - Ir(warm)) / 4000.
"""

import asyncio
import sys

from bench.concurrency import _ours, _raw, _Rounds, jetstream_sides

SENDERS, ORDERS = 100, 10  # 2,000 commands a run


async def main(mode: str) -> None:
    async with jetstream_sides("irconc") as (nc, router, raw_store, payloads):
        rounds = _Rounds()
        ours = _ours(router, SENDERS, ORDERS, rounds)
        raw = _raw(nc, raw_store, payloads, SENDERS, ORDERS, rounds)
        await ours()
        await raw()
        for _ in range(0 if mode == "warm" else 2):
            await (ours() if mode == "ours" else raw())


asyncio.run(main(sys.argv[1]))
