"""What operators see (`python -m aether.cluster status`) and how names reach NATS."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import nats
from hypothesis import given, settings
from hypothesis import strategies as st

from aether.cluster import ClusterManager, read_status
from aether.cluster.kv import bucket_name, nudge_subject
from aether.testing import NatsServer, free_port
from tests.cluster.fleet import eventually

ROOT = Path(__file__).resolve().parents[2]


def _status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aether.cluster", "status", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


async def test_status_shows_members_leader_epoch_and_shards(nats_server: NatsServer) -> None:
    cluster = f"shop.eu {uuid4().hex[:4]}"
    connections = [await nats.connect(nats_server.url) for _ in range(2)]
    managers = [ClusterManager(nc, node, cluster=cluster, shard_count=32, lease_ttl=1.0)
                for nc, node in zip(connections, ["n1", "n2"], strict=True)]
    for manager in managers:
        await manager.start()

    async def settled() -> bool:
        status = await read_status(connections[0], cluster)
        return status.table is not None and set(status.table.nodes) == {"n1", "n2"}
    await eventually(settled, 10, "both nodes in the table")
    leader = next(m for m in managers if m.is_leader())

    text = await asyncio.to_thread(_status, "--server", nats_server.url, "--cluster", cluster)
    assert text.returncode == 0, text.stderr
    assert f"leader    {leader.node_id!r} epoch {leader.epoch}" in text.stdout
    assert "shards    32 (hash blake2b-64" in text.stdout
    assert "members   2" in text.stdout
    assert re.search(r"'n1'\s+16 shards", text.stdout) and re.search(r"'n2'\s+16 shards",
                                                                      text.stdout)
    as_json = await asyncio.to_thread(_status, "--server", nats_server.url, "--cluster",
                                      cluster, "--json")
    data = json.loads(as_json.stdout)
    assert data["leader"] == leader.node_id and data["epoch"] == leader.epoch
    assert data["shards_per_node"] == {"n1": 16, "n2": 16}
    assert [m["node_id"] for m in data["members"]] == ["n1", "n2"]
    for manager in managers:
        await manager.stop()
    for nc in connections:
        await nc.drain()


async def test_status_of_an_unknown_cluster_or_server_says_what_to_check(
        nats_server: NatsServer) -> None:
    unknown = await asyncio.to_thread(_status, "--server", nats_server.url, "--cluster", "nope")
    assert unknown.returncode == 1
    assert "no cluster 'nope'" in unknown.stderr and "Traceback" not in unknown.stderr
    down = await asyncio.to_thread(_status, "--server", f"nats://127.0.0.1:{free_port()}",
                                   "--cluster", "nope")
    assert down.returncode == 1
    assert "cannot reach NATS" in down.stderr and "Traceback" not in down.stderr


async def test_status_refused_by_the_server_says_so_not_that_it_is_down(
        tmp_path: Path) -> None:
    server = await asyncio.to_thread(NatsServer(
        tmp_path, extra_config='authorization { user: "op", password: "s3cret" }\n').start)
    try:
        for url in (server.url, server.url.replace("nats://", "nats://op:wrong@")):
            refused = await asyncio.to_thread(_status, "--server", url, "--cluster", "shop")
            assert refused.returncode == 1 and "Traceback" not in refused.stderr
            assert "refused the connection" in refused.stderr
            assert "nats://USER:PASSWORD@HOST:PORT" in refused.stderr
            assert "is running" not in refused.stderr
            assert "wrong" not in refused.stderr  # a password is never printed
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_lease_nobody_renews_is_shown_as_no_live_leader(
        nats_server: NatsServer) -> None:
    """The leader's record stays in the bucket when nobody renews it (the leader frozen,
    or the bucket's servers without a quorum): status must not name it as leading."""
    cluster = f"stale {uuid4().hex[:6]}"
    nc = await nats.connect(nats_server.url)
    manager = ClusterManager(nc, "a", cluster=cluster, shard_count=8, lease_ttl=1.0)
    try:
        await manager.start()
        await eventually(manager.is_leader, 10, "a leads")
        live = await read_status(nc, cluster)
        assert live.leader_live() and "leader    'a' epoch" in live.render()
        for task in (manager.election._task, manager.discovery._task, manager.shards._task):
            assert task is not None
            task.cancel()  # frozen: nothing renews the lease, nothing deletes it
        await asyncio.sleep(1.5)
        stale = await read_status(nc, cluster)
        assert stale.leader is not None and not stale.leader_live()
        assert "leader    none live: the lease of 'a'" in stale.render()
        shown = await asyncio.to_thread(_status, "--server", nats_server.url, "--cluster",
                                        cluster, "--json")
        assert json.loads(shown.stdout)["leader_live"] is False
    finally:
        await nc.close()


SUBJECT_TOKEN = re.compile(r"[A-Za-z0-9_~-]+")


@settings(max_examples=200, deadline=None)
@given(name=st.text(min_size=1, max_size=60), other=st.text(min_size=1, max_size=60))
def test_hostile_cluster_names_stay_inside_their_own_subject_and_bucket(
        name: str, other: str) -> None:
    tokens = nudge_subject(name).split(".")
    assert tokens[:2] == ["aether", "cluster"] and tokens[3] == "changed"
    assert len(tokens) == 4 and SUBJECT_TOKEN.fullmatch(tokens[2])
    assert re.fullmatch(r"[A-Za-z0-9_-]+", bucket_name(name))
    if name != other:
        assert nudge_subject(name) != nudge_subject(other)  # lossless: never merged
