"""One cluster node in its own OS process, for the failure tests (SIGKILL, SIGSTOP, SIGTERM).

``python -m tests.cluster.node URLS CLUSTER NODE_ID LOG [LEASE_TTL] [SHARDS] [REPLICAS]``
writes JSON lines to LOG: what the node believes (leader or not, epoch, lease end, table
version and its shards) whenever that changes. SIGTERM stops the node gracefully.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from typing import Any

import nats

from aether.cluster import ClusterManager, LeadershipChange


async def run(urls: str, cluster: str, node_id: str, log_path: str, lease_ttl: float,
              shard_count: int, replicas: int) -> None:
    nc = await nats.connect(servers=urls.split(","), max_reconnect_attempts=-1,
                            reconnect_time_wait=0.2)
    manager = ClusterManager(nc, node_id, cluster=cluster, shard_count=shard_count,
                             lease_ttl=lease_ttl, replicas=replicas)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with open(log_path, "a", buffering=1) as log:  # noqa: ASYNC230 (line-buffered, tiny)

        def write(kind: str, **fields: Any) -> None:
            log.write(json.dumps({"kind": kind, "node": node_id, "t": time.time(), **fields})
                      + "\n")

        def on_leadership(change: LeadershipChange) -> None:
            write("elected" if change.is_leader else "deposed", epoch=change.epoch,
                  valid_until=manager.election.valid_until())

        manager.on_leadership(on_leadership)
        await manager.start()
        write("started", incarnation=manager.me.incarnation)
        last: tuple[Any, ...] = ()
        while not stop.is_set():
            leading = manager.is_leader()
            state = (leading, manager.epoch, manager.election.valid_until() if leading else 0,
                     manager.table_version, sorted(manager.my_shards()))
            if state != last:
                write("state", leader=leading, epoch=state[1], valid_until=state[2],
                      table_version=state[3], shards=state[4],
                      members=[m.node_id for m in manager.members()])
                last = state
            await asyncio.sleep(0.02)
        await manager.stop()
        write("stopped")
    await nc.drain()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(run(args[0], args[1], args[2], args[3],
                    float(args[4]) if len(args) > 4 else 2.0,
                    int(args[5]) if len(args) > 5 else 128,
                    int(args[6]) if len(args) > 6 else 1))
