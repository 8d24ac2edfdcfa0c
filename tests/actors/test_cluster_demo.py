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
    assert "every order cancelled, served by {'n1': " in after
    assert "'n2'" not in after.split("4.")[0]
    assert "DomainError from the owner: order order-7 is cancelled" in out
