"""The benchmarks' measured paths run and do what their tables say (bench/). Nothing here
times anything: a benchmark whose loop raises, or measures something else, prints no table
or a wrong one, and only a test notices (bench/concurrency.py sent its orders to actors
they do not name, refused since commands check their address, for a session unseen)."""

from __future__ import annotations

from bench.concurrency import _ours, _raw, _Rounds, jetstream_sides
from examples.orders.project.orders.commands import PlaceOrder


async def test_the_concurrency_bench_stores_the_same_events_on_both_sides() -> None:
    async with jetstream_sides("benchpaths") as (nc, router, raw_store, payloads):
        rounds = _Rounds()
        await _ours(router, 3, 2, rounds)()
        await _raw(nc, raw_store, payloads, 3, 2, rounds)()
        ours_store = router.route_for(PlaceOrder).repository.store
        for sender in range(3):
            for order in range(2):
                ours = await ours_store.get_events(f"order-r1-s{sender}-o{order}")
                theirs = await raw_store.get_events(f"order-r2-s{sender}-o{order}")
                assert [(event.version, event.event_type) for event in ours] == [
                    (1, "OrderPlaced"), (2, "OrderPaid")]
                assert [(event.version, event.event_type) for event in theirs] == [
                    (event.version, event.event_type) for event in ours]
