"""A program that fails while its cluster nodes run still exits: asyncio.run cancels every
task once, and on Python 3.11 nats-py's requests (asyncio.wait_for) can turn that cancel
into a timeout, which the cluster loops caught and retried forever; the process hung,
logging "NATS did not answer in time" twice a second. Separate processes, as a user's
script runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest

from aether.testing import NatsServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import asyncio, sys
import nats
from aether.cluster import ClusterManager

async def main(url: str, cluster: str, first: bool) -> None:
    connections = [await nats.connect(url) for _ in range(2)]
    managers = [ClusterManager(nc, node_id, cluster=cluster, shard_count=64, lease_ttl=1.0)
                for nc, node_id in zip(connections, ["node-a", "node-b"])]
    changes = []
    managers[0].on_shards(changes.append)
    for manager in managers:
        await manager.start()
    if first:
        await asyncio.sleep(2)
        raise RuntimeError("leaders: the first run fails without stopping its nodes")

    async def settled() -> None:
        while not all(m.table and set(m.table.nodes) == {"node-a", "node-b"}
                      for m in managers):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(settled(), 10)
    # The table read back is the last run's, and nobody leads yet: this fails.
    leader = next(m for m in managers if m.is_leader())
    raise RuntimeError(f"leaders: {leader.node_id} leads")

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] == "first"))
"""


def test_a_script_that_fails_beside_running_nodes_exits(nats_server: NatsServer,
                                                        tmp_path: Path) -> None:
    script = tmp_path / "fails.py"
    script.write_text(SCRIPT)
    cluster = f"shutdown {uuid4().hex[:6]}"
    for attempt in range(6):  # the first leaves its table behind, as a crashed run does
        try:
            run = subprocess.run(
                [sys.executable, str(script), nats_server.url, cluster,
                 "first" if attempt == 0 else "again"],
                cwd=ROOT, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired as hung:
            log = (hung.stderr or b"")[-500:]
            raise AssertionError(f"run {attempt} did not exit within 30s: {log!r}") from None
        assert run.returncode == 1 and "RuntimeError" in run.stderr, run.stderr[-500:]
