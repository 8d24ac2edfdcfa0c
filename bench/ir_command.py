"""Instruction-count harness for bench/app.py's rows (run under valgrind, see bench/ir.sh):
python -m bench.ir_command MODE. Instructions are deterministic where this machine's timings
move by 2x; cutting them is what moves the bench.

MODE: none (imports and a router only), new (+ 2,000 new orders), pay (+ 2,000 payments of
them), build0 / build (20,000 ids prepared / + Event(...) and save_event of each), floor
(none + the floor row's 2,000 new orders: the pydantic work alone, no framework), commands
(none + only the 2,000 PlaceOrder commands built from plain data, the floor's first step),
and the eventsourcing baseline's es_new0 / es_new, es_placed / es_pay, es_build0 / es_build.
Per operation: (Ir(mode) - Ir(the mode before it)) / count, e.g. a payment is
(Ir(pay) - Ir(new)) / 2000. With NO_GC=1 in the environment the cyclic garbage collector is
off for the whole run: the difference is what collecting costs each side.
"""

import asyncio
import gc
import os
import sys
from uuid import UUID

from eventsourcing.application import Application

from aether.store import InMemoryEventStore
from bench.app import (
    ORDERS,
    floor_new_orders,
    ours_build_append,
    ours_build_prepared,
    ours_new_orders,
    ours_pay,
    place_order,
    theirs_build_append,
    theirs_build_prepared,
    theirs_new_orders,
    theirs_pay,
    theirs_placed,
)
from examples.orders.project.orders.app import make_router


async def main(mode: str) -> None:
    gc.collect()  # as bench/table.py's runs start: not the imports' garbage
    if mode == "es_new0":
        Application[UUID]()
    elif mode == "es_new":
        await theirs_new_orders(Application[UUID]())
    elif mode == "es_placed":
        theirs_placed()
    elif mode == "es_pay":
        await theirs_pay(theirs_placed())
    elif mode == "es_build0":
        theirs_build_prepared()
    elif mode == "es_build":
        await theirs_build_append(theirs_build_prepared())
    elif mode in ("build0", "build"):
        prepared = ours_build_prepared()
        if mode == "build":
            await ours_build_append(prepared)
    elif mode in ("floor", "commands"):
        make_router(InMemoryEventStore())  # as in none, which this mode is measured against
        if mode == "floor":
            await floor_new_orders(None)
        else:
            for index in range(ORDERS):
                place_order(f"{index}")
    elif mode in ("none", "new", "pay"):
        router = make_router(InMemoryEventStore())
        if mode != "none":
            await ours_new_orders(router)
        if mode == "pay":
            await ours_pay(router)
    else:
        raise SystemExit(f"unknown mode {mode!r}: see the docstring")


if os.environ.get("NO_GC"):
    gc.disable()
asyncio.run(main(sys.argv[1]))
