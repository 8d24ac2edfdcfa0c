"""Cluster nodes as separate OS processes (tests/cluster/node.py) and what their logs prove."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.aio.client import Client

from aether.cluster import (
    ClusterStatus,
    ClusterUnavailableError,
    UnknownClusterError,
    read_status,
)

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Node:
    node_id: str
    log: Path
    process: subprocess.Popen[bytes]

    def lines(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):  # a line cut short by SIGKILL
                out.append(json.loads(line))
        return out

    def last_state(self) -> dict[str, Any] | None:
        states = [line for line in self.lines() if line["kind"] == "state"]
        return states[-1] if states else None

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)

    def pause(self) -> None:
        """SIGSTOP, returning once the kernel shows the process stopped: whatever it writes
        later (its lines carry time.time()) it writes after it is resumed."""
        os.kill(self.process.pid, signal.SIGSTOP)
        stat = Path(f"/proc/{self.process.pid}/stat")
        deadline = time.monotonic() + 10
        # The state follows the parenthesised command name: "T" once stopped.
        while stat.read_text().rpartition(")")[2].split()[0] != "T":
            assert time.monotonic() < deadline, "the paused process did not stop"
            time.sleep(0.001)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)


@dataclass
class Fleet:
    urls: str
    cluster: str
    directory: Path
    lease_ttl: float = 2.0
    shard_count: int = 128
    replicas: int = 1
    nodes: dict[str, Node] = field(default_factory=dict)
    gone: list[Node] = field(default_factory=list)

    def spawn(self, node_id: str) -> Node:
        log = self.directory / f"{node_id}-{len(self.gone)}.jsonl"
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.cluster.node", self.urls, self.cluster, node_id,
             str(log), str(self.lease_ttl), str(self.shard_count), str(self.replicas)],
            cwd=ROOT, stderr=(self.directory / f"{node_id}.err").open("ab"),
        )
        node = self.nodes[node_id] = Node(node_id, log, process)
        return node

    def retire(self, node_id: str) -> Node:
        node = self.nodes.pop(node_id)
        self.gone.append(node)
        return node

    def close(self) -> None:
        for node in [*self.nodes.values(), *self.gone]:
            if node.alive():
                node.resume()
                node.kill()

    def all_lines(self) -> list[dict[str, Any]]:
        return [line for node in [*self.nodes.values(), *self.gone] for line in node.lines()]

    def report(self) -> str:
        """What each node last said and wrote to stderr: why a fleet did not converge."""
        out = []
        for node in [*self.nodes.values(), *self.gone]:
            lines = node.lines()
            state = node.last_state()
            shown = state and {key: value for key, value in state.items() if key != "shards"}
            err = self.directory / f"{node.node_id}.err"
            tail = err.read_text(errors="replace")[-1500:] if err.exists() else ""
            out.append(
                f"{node.node_id} ({'alive' if node.alive() else 'gone'}, "
                f"{'retired' if node in self.gone else 'live'}): {len(lines)} log lines, "
                f"last state {shown}, {len(state['shards']) if state else 0} shards"
                + (f"\n  stderr: {tail}" if tail.strip() else ""))
        return "\n".join(out)

    def leader(self) -> Node | None:
        leading = [n for n in self.nodes.values()
                   if (state := n.last_state()) is not None and state["leader"]]
        return leading[0] if len(leading) == 1 else None


async def eventually(check: Callable[[], Any], timeout: float, what: str,
                     interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail saying ``what`` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(interval)


async def converged(nc: Client, fleet: Fleet) -> ClusterStatus | None:
    """The shard table covers exactly the live nodes, every shard has one owner, and
    every live node reports that very table and exactly its own shards."""
    try:
        status = await read_status(nc, fleet.cluster)
    except UnknownClusterError:
        return None  # no node has started yet
    except ClusterUnavailableError:
        return None  # the server we asked is down: ask again
    table = status.table
    live = set(fleet.nodes)
    if table is None or set(table.nodes) != live or -1 in table.owners:
        return None
    if status.leader is None or status.leader.node_id not in live:
        return None
    for node_id, node in fleet.nodes.items():
        state = node.last_state()
        if state is None or state["table_version"] != table.version:
            return None
        if set(state["shards"]) != table.shards_of(node_id):
            return None
    return status


def leadership_intervals(lines: list[dict[str, Any]]) -> list[tuple[int, str, float, float]]:
    """(epoch, node, from, to) for every leadership in the logs. ``to`` is the latest lease
    end the leader believed in (or when it stepped down, if earlier): the most it could
    have claimed, even if it was killed or paused before."""
    spans: dict[tuple[int, str], list[float]] = {}
    for line in sorted(lines, key=lambda item: item["t"]):
        key = (line.get("epoch", 0), line["node"])
        if line["kind"] == "elected":
            spans[key] = [line["t"], line["valid_until"]]
        elif line["kind"] == "state" and line["leader"] and key in spans:
            spans[key][1] = max(spans[key][1], line["valid_until"])
        elif line["kind"] == "deposed" and key in spans:
            spans[key][1] = min(spans[key][1], line["t"])
    return sorted((epoch, node, start, end) for (epoch, node), (start, end) in spans.items())


def assert_one_leader_at_a_time(lines: list[dict[str, Any]]) -> list[tuple[int, str, float, float]]:
    spans = leadership_intervals(lines)
    epochs = [epoch for epoch, *_ in spans]
    assert len(epochs) == len(set(epochs)), f"an epoch was led twice: {spans}"
    for i, (e1, n1, _, end1) in enumerate(spans):
        for e2, n2, start2, _ in spans[i + 1:]:
            assert start2 >= end1, (
                f"leader {n2!r} (epoch {e2}) valid from {start2:.3f} while {n1!r} "
                f"(epoch {e1}) was valid until {end1:.3f}: {spans}")
    return spans
