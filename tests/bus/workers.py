"""Bus nodes run as separate OS processes by tests/bus/test_bus_processes.py.

    python -m tests.bus.workers subscribe URL PREFIX NAMESPACE PATTERN
        prints READY once subscribed, then one line per event: ``exact <id>`` or
        ``pattern <namespace> <id>`` (as JSON), and exits after the marker on both
    python -m tests.bus.workers publish URL PREFIX NAMESPACE COUNT OTHER
        publishes COUNT events to NAMESPACE and to OTHER, then a marker to NAMESPACE
"""

from __future__ import annotations

import asyncio
import json
import sys

import nats

from aether import NATSEventBus
from aether.testing import make_event

MARKER = "Marker"


async def subscribe(url: str, prefix: str, namespace: str, pattern: str) -> None:
    nc = await nats.connect(url)
    bus = NATSEventBus(nc, node_id="subscriber", subject_prefix=prefix)
    exact = await bus.subscribe(namespace, max_pending=100_000)
    matching = await bus.subscribe_pattern(pattern, max_pending=100_000)
    print("READY", flush=True)
    for kind, subscription in (("exact", exact), ("pattern", matching)):
        while True:
            origin, event = await subscription.get_with_namespace(timeout=60)
            if event.event_type == MARKER:
                break
            print(json.dumps([kind, origin, event.id, event.version]), flush=True)
    print(json.dumps(["dropped", exact.dropped + matching.dropped, bus.undecodable]), flush=True)
    await bus.close()
    await nc.close()


async def publish(url: str, prefix: str, namespace: str, count: int, other: str) -> None:
    nc = await nats.connect(url)
    bus = NATSEventBus(nc, node_id="publisher", subject_prefix=prefix)
    for version in range(1, count + 1):
        await bus.publish(namespace, make_event("p", version))
        await bus.publish(other, make_event("o", version))
    await bus.publish(namespace, make_event("end", 1, MARKER))
    await bus.close()
    await nc.drain()


def main(argv: list[str]) -> None:
    mode, url, prefix, namespace, last = argv[:5]
    if mode == "subscribe":
        asyncio.run(subscribe(url, prefix, namespace, last))
    else:
        asyncio.run(publish(url, prefix, namespace, int(last), argv[5]))


if __name__ == "__main__":
    main(sys.argv[1:])
