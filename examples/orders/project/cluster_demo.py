"""The orders example on three nodes: each order lives on the node owning its shard.

    python -m examples.run --example orders --cluster     # make demo CLUSTER=1

Starts a nats-server, then three node processes (each a ClusterManager and the generated
``make_host``), and sends commands for many orders from this process (a client holding no
aggregates, so every command crosses NATS to its owner). Halfway, one node is killed with
SIGKILL: its shards move to the survivors, which rebuild those orders from the store, and
the commands keep succeeding. (By hand: PYTHONPATH=examples python
examples/orders/project/cluster_demo.py)
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from collections import Counter
from decimal import Decimal

import nats
from orders.app import make_host, make_sender
from orders.commands import CancelOrder, PlaceOrder, command_registry
from orders.types import OrderLine

from aether import ClusterRouter, DomainError, Event
from aether.cluster import ClusterManager, read_status
from aether.cluster.host import SERVED_BY
from aether.store import JetStreamConfig, JetStreamEventStore
from aether.testing import running_nats_server

CLUSTER, SHARDS, NAMESPACE = "orders-demo", 64, "demo-shop"
ORDERS = 30


async def node(url: str, node_id: str) -> None:
    """One node: serve this node's shards until SIGTERM (or SIGKILL)."""
    nc = await nats.connect(url, max_reconnect_attempts=-1)
    store = await JetStreamEventStore.create(nc, "orders", JetStreamConfig(namespace=NAMESPACE))
    manager = ClusterManager(nc, node_id, cluster=CLUSTER, shard_count=SHARDS, lease_ttl=1.0)
    host = make_host(store, manager, snapshot_store=store, snapshot_every=5)
    make_sender(host)  # what this node's own policies and apps would send through
    await host.start()
    await manager.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


def start_node(url: str, node_id: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, __file__, "--node", node_id, "--url", url],
                               stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
    return process


def served(events: list[Event]) -> str:
    return events[0].metadata.get(SERVED_BY, "?") if events else "-"


async def client(url: str, processes: dict[str, subprocess.Popen[bytes]]) -> None:
    nc = await nats.connect(url)
    line = [OrderLine(sku="TEA-1", quantity=1, price=Decimal("4.50"))]
    while len((await read_status(nc, CLUSTER)).shards_per_node()) < len(processes):  # noqa: ASYNC110 (polls KV)
        await asyncio.sleep(0.1)
    sender = await ClusterRouter.connect(nc, CLUSTER, command_registry, timeout=20)
    shares = (await read_status(nc, CLUSTER)).shards_per_node()
    print(f"1. Three nodes share {SHARDS} shards: {shares}")
    tally: Counter[str] = Counter()
    print(f"2. {ORDERS} orders placed from a client; each runs on its owner:")
    for i in range(ORDERS):
        events = await sender.send_command(PlaceOrder(order_id=f"{i}", customer_id=f"c{i}",
                                                      lines=line))
        tally[served(events)] += 1
    print(f"     served by {dict(sorted(tally.items()))}")
    print("3. Node n2 is killed (SIGKILL) while commands keep coming")
    processes["n2"].kill()
    processes["n2"].wait()
    tally.clear()
    for i in range(ORDERS):
        events = await sender.send_command(CancelOrder(order_id=f"{i}", reason="demo"))
        tally[served(events)] += 1
    print(f"     every order cancelled, served by {dict(sorted(tally.items()))}")
    print(f"     shards now: {(await read_status(nc, CLUSTER)).shards_per_node()}")
    print("4. A rule still holds wherever the order went: a cancelled order stays cancelled")
    try:
        await sender.send_command(CancelOrder(order_id="7", reason="again"))
    except DomainError as refused:
        print(f"     DomainError from the owner: {refused}")
    await nc.drain()


async def demo() -> None:
    with running_nats_server(name="orders-cluster-demo") as server:
        processes = {n: start_node(server.url, n) for n in ("n1", "n2", "n3")}
        try:
            await client(server.url, processes)
        finally:
            for process in processes.values():
                process.kill()
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="The orders example on a 3-node cluster.")
    parser.add_argument("--node", help="run as this cluster node (used by the demo itself)")
    parser.add_argument("--url", help="NATS server URL for --node")
    args = parser.parse_args()
    if args.node:
        asyncio.run(node(args.url, args.node))
    else:
        asyncio.run(demo())


if __name__ == "__main__":
    main()
