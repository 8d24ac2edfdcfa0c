"""Instruction-count harness for bench/concurrency.py at 100 senders (run under valgrind, see
bench/ir.sh): python -m bench.ir_concurrency MODE, MODE one of warm (a server, both sides set
up and run once), ours (warm + 2 runs of ours), raw (warm + 2 runs of the raw client).
Per command: (Ir(MODE) - Ir(warm)) / 4000.
"""

import asyncio
import sys
import tempfile
from pathlib import Path

import nats

from aether.store import JetStreamEventStore
from aether.testing import NatsServer
from bench.concurrency import _ours, _raw, _Rounds, _same_json
from examples.orders.project.orders.app import make_router

SENDERS, ORDERS = 100, 10  # 2,000 commands a run


async def main(mode: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(store_dir=Path(tmp), name="irconc").start()
        try:
            nc = await nats.connect(server.url)
            ours_store = await JetStreamEventStore.create(nc, "bench_router")
            raw_store = await JetStreamEventStore.create(nc, "bench_raw")
            rounds = _Rounds()
            ours = _ours(make_router(ours_store), SENDERS, ORDERS, rounds)
            raw = _raw(nc, raw_store, await _same_json(nc), SENDERS, ORDERS, rounds)
            await ours()
            await raw()
            for _ in range(0 if mode == "warm" else 2):
                await (ours() if mode == "ours" else raw())
            await nc.drain()
        finally:
            server.stop()


asyncio.run(main(sys.argv[1]))
