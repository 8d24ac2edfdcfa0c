"""Instruction-count harness for bench/bus.py's 1 -> 1 row (run under valgrind, see
bench/ir.sh): python -m bench.ir_bus MODE, MODE one of warm (a server, the two sides set up
and run once each), ours (warm + 3 runs of our bus), raw (warm + 3 runs of the raw client),
and floor0 / floor (the same with the raw client calling decode_record on each message).
Per event, ours beyond raw: (Ir(ours) - Ir(raw)) / 30000; 0.7x of raw allows
(Ir(raw) - Ir(warm)) / 30000 * 0.43. Less deterministic than the other harnesses (how many
messages one socket read brings varies), so compare figures a few percent apart twice.
"""

import asyncio
import sys
import tempfile
from pathlib import Path

from aether.testing import NatsServer
from bench.bus import Baseline, _event, _setup

COUNT = 10_000


async def main(mode: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(store_dir=Path(tmp), name="irbus", jetstream=False).start()
        try:
            baseline = Baseline.DECODE if mode.startswith("floor") else Baseline.BYTES
            setup = await _setup(server.url, 1, 1, [_event(v) for v in range(1, COUNT + 1)],
                                 baseline)
            await setup.ours()
            await setup.raw()
            for _ in range(0 if mode in ("warm", "floor0") else 3):
                await (setup.ours() if mode == "ours" else setup.raw())
            await setup.close()
        finally:
            server.stop()


asyncio.run(main(sys.argv[1]))
