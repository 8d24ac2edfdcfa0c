"""Three node processes, this test process as the client sending a stream of commands to
many counters, one node killed with SIGKILL mid-stream and a fourth started later.

Every command either succeeded exactly once or failed with a clear error the client saw,
which is resolved by resending its command id; each counter's events hold every command
exactly once, with no version written twice; the owner's state equals the replay of the
events; no two nodes served one counter under the same shard table version.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections import Counter as Tally
from uuid import uuid4

import nats

from aether import AetherError, ClusterRouter
from aether.cluster import read_status
from aether.cluster.host import SERVED_AT, SERVED_BY, SERVED_IN
from aether.event import COMMAND_ID
from aether.store import JetStreamEventStore
from aether.testing import NatsServer
from aether.testing.counters import Increment, commands
from tests.actors.cluster import spawn_node

SHARDS = 32
COUNTERS = 40
COMMANDS = 1200


def _start(url: str, cluster: str, node_id: str, stream: str) -> subprocess.Popen[bytes]:
    return spawn_node(url, cluster, node_id, stream, SHARDS)


async def test_a_node_killed_mid_stream_loses_and_doubles_nothing(
        nats_server: NatsServer) -> None:
    cluster, stream = f"kill {uuid4().hex[:6]}", f"actors_{uuid4().hex[:6]}"
    url = nats_server.url
    nc = await nats.connect(url)
    store = await JetStreamEventStore.create(nc, stream)
    processes = [_start(url, cluster, node, stream) for node in ("n1", "n2", "n3")]
    try:
        router = ClusterRouter(nc, cluster, commands, shard_count=SHARDS, timeout=15,
                               attempt_timeout=1.0)
        plan = [(f"k-{i % COUNTERS}", f"cmd-{i}") for i in range(COMMANDS)]
        failed: list[tuple[str, str, AetherError]] = []
        done = 0
        joined, third, half = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def worker(jobs: list[tuple[int, str, str]]) -> None:
            nonlocal done
            for index, counter, command_id in jobs:
                if index >= 2 * COMMANDS // 3:
                    await joined.wait()  # the last third runs once the fourth node serves
                try:
                    events = await router.send(counter, Increment(), {COMMAND_ID: command_id})
                    assert [e.metadata[COMMAND_ID] for e in events] == [command_id]
                except AetherError as exc:  # a clear error the client saw
                    failed.append((counter, command_id, exc))
                done += 1
                if done == COMMANDS // 3:
                    third.set()
                if done == COMMANDS // 2:
                    half.set()

        async def chaos() -> None:
            await third.wait()
            processes[0].kill()  # SIGKILL: no goodbye; its shards lapse with its lease
            await asyncio.to_thread(processes[0].wait)
            await half.wait()
            processes.append(await asyncio.to_thread(_start, url, cluster, "n4", stream))
            while True:
                table = (await read_status(nc, cluster)).table
                if table is not None and "n4" in table.nodes and "n1" not in table.nodes:
                    break
                await asyncio.sleep(0.05)
            joined.set()

        lanes = 20
        indexed = [(i, counter, cid) for i, (counter, cid) in enumerate(plan)]
        await asyncio.gather(chaos(), *(worker(indexed[i::lanes]) for i in range(lanes)))
        # Resolve every failure by its command id: a resend never runs a command twice.
        for counter, command_id, _ in failed:
            await router.send(counter, Increment(), {COMMAND_ID: command_id})

        served: dict[tuple[str, str, str], set[str]] = {}
        for c in range(COUNTERS):
            counter = f"k-{c}"
            events = await store.get_events(counter)
            ids = Tally(e.metadata[COMMAND_ID] for e in events)
            assert ids == Tally({cid: 1 for name, cid in plan if name == counter})
            assert [e.version for e in events] == list(range(1, len(events) + 1))
            for event in events:
                served.setdefault((counter, event.metadata[SERVED_IN],
                                   event.metadata[SERVED_AT]), set()).add(
                    event.metadata[SERVED_BY])
            # The owner's copy (cached or rebuilt) equals the replay: its next event follows.
            [last] = await router.send(counter, Increment())
            assert last.version == len(events) + 1
        assert all(len(nodes) == 1 for nodes in served.values()), served
        assert {"n1", "n4"} <= set().union(*served.values())
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            process.wait(timeout=30)
        await nc.drain()
