"""The hash ring: a pinned hash, the same answers in every process, ~1/N keys moved."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from aether.cluster import ConsistentHashRing, shard_for, stable_hash

ROOT = Path(__file__).resolve().parents[2]
KEYS = [f"order-{i}" for i in range(20_000)]
NODES = [f"node-{i}" for i in range(5)]


def test_stable_hash_is_the_documented_blake2b_format() -> None:
    # Shard tables are persisted: these values must never change.
    assert stable_hash("order-123") == 15920591119733820782
    assert stable_hash("") == 16476032584258269876
    assert stable_hash("ü.*>") == 999611239741820198
    digest = hashlib.blake2b(b"any id", digest_size=8).digest()
    assert stable_hash("any id") == int.from_bytes(digest, "big")
    assert shard_for("order-123", 1024) == 15920591119733820782 % 1024


def test_separate_processes_place_keys_identically() -> None:
    script = (
        "import json, sys; from aether.cluster import ConsistentHashRing; "
        f"ring = ConsistentHashRing({NODES!r}); "
        "print(json.dumps([ring.get_node(f'order-{i}') for i in range(2000)]))"
    )
    processes = [  # a different str hash() salt in each process
        subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                         text=True, env={**os.environ, "PYTHONHASHSEED": seed})
        for seed in ("1", "2")
    ]
    answers = [json.loads(p.communicate(timeout=60)[0]) for p in processes]
    ring = ConsistentHashRing(NODES)
    assert answers[0] == answers[1] == [ring.get_node(f"order-{i}") for i in range(2000)]


def test_a_joining_node_takes_about_one_in_n_plus_one_keys_all_for_itself() -> None:
    ring = ConsistentHashRing(NODES)
    before = {key: ring.get_node(key) for key in KEYS}
    ring.add_node("node-5")
    moved = [key for key in KEYS if ring.get_node(key) != before[key]]
    assert {ring.get_node(key) for key in moved} == {"node-5"}
    assert len(moved) / len(KEYS) == pytest.approx(1 / 6, rel=0.25)


def test_a_leaving_node_moves_only_its_own_keys() -> None:
    ring = ConsistentHashRing(NODES)
    before = {key: ring.get_node(key) for key in KEYS}
    ring.remove_node("node-2")
    moved = [key for key in KEYS if ring.get_node(key) != before[key]]
    assert {before[key] for key in moved} == {"node-2"}
    assert len(moved) / len(KEYS) == pytest.approx(1 / 5, rel=0.25)


@pytest.mark.parametrize("size", [3, 5, 10])
def test_default_virtual_nodes_keep_keys_balanced(size: int) -> None:
    ring = ConsistentHashRing(f"node-{i}" for i in range(size))
    counts = Counter(ring.get_node(key) for key in KEYS)
    mean = len(KEYS) / size
    assert len(counts) == size
    assert max(counts.values()) / mean < 1.3
    assert min(counts.values()) / mean > 0.75


def test_replicas_are_distinct_nodes_starting_with_the_owner() -> None:
    ring = ConsistentHashRing(NODES)
    for key in KEYS[:200]:
        replicas = ring.get_nodes(key, 3)
        assert replicas[0] == ring.get_node(key)
        assert len(set(replicas)) == 3
    assert sorted(ring.get_nodes("x", 10)) == sorted(NODES)
    assert ConsistentHashRing().get_node("x") is None
    assert ConsistentHashRing().get_nodes("x", 2) == []


def test_vnodes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="vnodes"):
        ConsistentHashRing(vnodes=0)


node_names = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6, unique=True)


@settings(max_examples=60, deadline=None)
@given(nodes=node_names, extra=st.text(min_size=1, max_size=12),
       keys=st.lists(st.text(max_size=20), min_size=1, max_size=50))
def test_adding_a_node_only_moves_keys_to_it(nodes: list[str], extra: str,
                                            keys: list[str]) -> None:
    assume(extra not in nodes)
    ring = ConsistentHashRing(nodes, vnodes=16)
    before = {key: ring.get_node(key) for key in keys}
    ring.add_node(extra)
    for key in keys:
        assert ring.get_node(key) in (before[key], extra)
    ring.remove_node(extra)
    assert {key: ring.get_node(key) for key in keys} == before


@settings(max_examples=60, deadline=None)
@given(nodes=node_names, key=st.text(max_size=30))
def test_order_of_adding_nodes_does_not_matter(nodes: list[str], key: str) -> None:
    forward = ConsistentHashRing(nodes, vnodes=16)
    backward = ConsistentHashRing(reversed(nodes), vnodes=16)
    assert forward.get_nodes(key, 3) == backward.get_nodes(key, 3)
