"""Actors: commands through the cluster router, owner local and remote, and failover.

Baselines, measured in the same run on the same JetStream store:
- commands/s and latency   ``CommandRouter.send`` (load, decide, save in process, no
                           cluster): targets local >= 0.9x, remote >= 0.6x. The host keeps
                           aggregates cached, so "local" can beat it.
- failover                 2 x lease TTL (the cluster's failover target): from SIGKILL of a
                           node to the first command served by the new owner of its actor.

Each sender works on counters of its own (as independent clients would), so the baseline
measures no optimistic-concurrency retries.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from uuid import uuid4

import nats

from aether import ClusterRouter, CommandSender
from aether.cluster import ActorHost, ClusterManager, read_status, shard_for
from aether.cluster.host import SERVED_BY
from aether.store import JetStreamEventStore
from aether.testing import running_nats_server
from aether.testing.counters import Increment, commands, make_counter_router
from bench.table import Row, print_table

SHARDS = 64


async def _measure(sender: CommandSender, concurrency: int, per_sender: int,
                   tag: str) -> tuple[float, float, float]:
    """(commands/s, p50 ms, p99 ms) of ``concurrency`` senders sending ``per_sender`` each."""
    latencies: list[float] = []

    async def one(lane: int) -> None:
        counter = f"{tag}-{lane}"
        for _ in range(per_sender):
            start = time.perf_counter()
            await sender.send(counter, Increment())
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(one(lane) for lane in range(concurrency)))
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies)
    return (len(ordered) / elapsed, statistics.median(ordered) * 1000,
            ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000)


async def _throughput(url: str, total: int) -> list[Row]:
    nc, client = await nats.connect(url), await nats.connect(url)
    store = await JetStreamEventStore.create(nc, f"bench_actors_{uuid4().hex[:6]}")
    cluster = f"bench {uuid4().hex[:6]}"
    manager = ClusterManager(nc, "owner", cluster=cluster, shard_count=SHARDS, lease_ttl=2.0)
    host = ActorHost(manager, make_counter_router(store), commands)
    await host.start()
    await manager.start()
    while len(manager.my_shards()) < SHARDS:  # noqa: ASYNC110 (the manager has no event for it)
        await asyncio.sleep(0.05)
    senders: dict[str, Callable[[], CommandSender]] = {
        "local": lambda: ClusterRouter.for_host(host),
        "remote": lambda: ClusterRouter(client, cluster, commands, shard_count=SHARDS),
    }
    baseline = make_counter_router(store)
    rows: list[Row] = []
    for concurrency in (1, 100):
        per = max(1, total // concurrency)
        await _measure(baseline, concurrency, 5, f"warm-{concurrency}")
        base = await _measure(baseline, concurrency, per, f"base-{concurrency}")
        for name, make in senders.items():
            await _measure(make(), concurrency, 5, f"warm-{name}-{concurrency}")
            ours = await _measure(make(), concurrency, per, f"{name}-{concurrency}")
            label = f"{name} owner, {concurrency} sender{'s' if concurrency > 1 else ''}"
            rows += [Row(f"{label}: commands", ours[0], base[0], "ops/s"),
                     Row(f"{label}: p50 latency", ours[1], base[1], "ms"),
                     Row(f"{label}: p99 latency", ours[2], base[2], "ms")]
    await host.stop()
    await manager.stop()
    await client.drain()
    await nc.drain()
    return rows


# -- failover: node processes --------------------------------------------------------

async def _node(url: str, cluster: str, node_id: str, stream: str, ttl: float) -> None:
    nc = await nats.connect(url, max_reconnect_attempts=-1)
    store = await JetStreamEventStore.create(nc, stream)
    manager = ClusterManager(nc, node_id, cluster=cluster, shard_count=SHARDS, lease_ttl=ttl)
    host = ActorHost(manager, make_counter_router(store), commands)
    await host.start()
    await manager.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


def _spawn(url: str, cluster: str, node_id: str, stream: str,
           ttl: float) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "bench.actors", "--node", url, cluster,
                                node_id, stream, str(ttl)], stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
    return process


async def _failover(url: str, ttl: float) -> float:
    cluster, stream = f"failover {uuid4().hex[:6]}", f"bench_fail_{uuid4().hex[:6]}"
    nodes = {n: _spawn(url, cluster, n, stream, ttl) for n in ("n1", "n2", "n3")}
    nc = await nats.connect(url)
    try:
        router = ClusterRouter(nc, cluster, commands, shard_count=SHARDS, timeout=60,
                               attempt_timeout=0.2)
        while True:
            table = (await read_status(nc, cluster)).table
            if table is not None and len(table.nodes) == 3:
                break
            await asyncio.sleep(0.05)
        victim = next(f"f-{i}" for i in range(10_000)
                      if table.owner(shard_for(f"f-{i}", SHARDS)) == "n2")
        await router.send(victim, Increment())
        nodes["n2"].send_signal(signal.SIGKILL)
        died = time.perf_counter()
        while True:
            events = await router.send(victim, Increment())
            if events[0].metadata.get(SERVED_BY) != "n2":
                return time.perf_counter() - died
    finally:
        for process in nodes.values():
            process.kill()
            process.wait()
        await nc.drain()


async def _run(total: int, ttl: float, runs: int) -> None:
    with running_nats_server(sync_always=False, name="bench-actors") as server:
        rows = await _throughput(server.url, total)
        print_table(f"Actors: commands through the cluster router ({total} per case, "
                    f"JetStream store)", "CommandRouter.send on the same store", rows)
        times = [await _failover(server.url, ttl) for _ in range(runs)]
        print_table(f"Actors: SIGKILL of an owner -> first command served by the new owner "
                    f"(median of {runs})", "2 x lease TTL target (ratio >= 1 meets it)",
                    [Row(f"failover, lease TTL {ttl:g}s", statistics.median(times), 2 * ttl,
                         "s")])


def main(argv: list[str] | None = None) -> None:
    if argv and argv[0] == "--node":
        url, cluster, node_id, stream, ttl = argv[1:6]
        asyncio.run(_node(url, cluster, node_id, stream, float(ttl)))
        return
    parser = argparse.ArgumentParser(prog="python -m bench actors")
    parser.add_argument("--commands", type=int, default=2000, help="commands per case")
    parser.add_argument("--lease-ttl", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3, help="failovers to measure")
    args = parser.parse_args(argv)
    asyncio.run(_run(args.commands, args.lease_ttl, args.runs))


if __name__ == "__main__":
    main(sys.argv[1:])
