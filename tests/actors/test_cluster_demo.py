"""`make demo CLUSTER=1`: the orders example on three node processes, one killed mid-way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "orders" / "project"


def test_the_cluster_demo_keeps_serving_after_a_node_is_killed() -> None:
    result = subprocess.run([sys.executable, "cluster_demo.py"], cwd=PROJECT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "1. Three nodes share 64 shards: {'n1': " in out and "'n3': " in out
    after = out.split("3. Node n2 is killed")[1]
    served = after.split("every order cancelled, served by ")[1].split("\n")[0]
    assert served.startswith("{'n1': ") and "'n2'" not in served
    # The killed node may still be listed, with no shards, until its heartbeat expires on
    # the server: the leader moves shards as soon as it sees the heartbeats stop.
    shards = after.split("shards now: ")[1].split("\n")[0]
    assert "'n2'" not in shards or "'n2': 0," in shards, shards
    assert "DomainError from the owner: order order-7 is cancelled" in out
