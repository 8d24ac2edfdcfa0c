"""Shard placement: even load, and only the shards that must move, move."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from aether.cluster import place

sizes = st.integers(min_value=1, max_value=400)
node_sets = st.lists(st.sampled_from([f"n{i}" for i in range(12)]), min_size=1, max_size=10,
                     unique=True)


def _loads(owners: list[str | None], nodes: list[str]) -> dict[str, int]:
    return {node: owners.count(node) for node in nodes}


def _assert_balanced(owners: list[str | None], nodes: list[str]) -> None:
    shards = len(owners)
    assert None not in owners and set(owners) <= set(nodes)
    loads = _loads(owners, nodes)
    # Every node holds floor(S/N) or ceil(S/N): max/mean <= ceil(S/N) * N / S.
    assert set(loads.values()) <= {shards // len(nodes), math.ceil(shards / len(nodes))}


@settings(max_examples=80, deadline=None)
@given(shards=sizes, nodes=node_sets)
def test_first_placement_is_even(shards: int, nodes: list[str]) -> None:
    _assert_balanced(place([None] * shards, nodes), nodes)


@settings(max_examples=80, deadline=None)
@given(shards=sizes, nodes=node_sets, data=st.data())
def test_a_joining_node_takes_only_its_share(shards: int, nodes: list[str],
                                            data: st.DataObject) -> None:
    before = place([None] * shards, nodes)
    newcomer = data.draw(st.sampled_from([f"m{i}" for i in range(3)]))
    after = place(before, [*nodes, newcomer])
    _assert_balanced(after, [*nodes, newcomer])
    moved = [s for s in range(shards) if before[s] != after[s]]
    assert all(after[s] == newcomer for s in moved)
    assert len(moved) <= math.ceil(shards / (len(nodes) + 1))


@settings(max_examples=80, deadline=None)
@given(shards=sizes, nodes=node_sets.filter(lambda n: len(n) > 1), data=st.data())
def test_a_leaving_node_moves_only_its_own_shards(shards: int, nodes: list[str],
                                                  data: st.DataObject) -> None:
    before = place([None] * shards, nodes)
    leaver = data.draw(st.sampled_from(nodes))
    survivors = [n for n in nodes if n != leaver]
    after = place(before, survivors)
    _assert_balanced(after, survivors)
    assert [s for s in range(shards) if before[s] != after[s]] == [
        s for s in range(shards) if before[s] == leaver]


@settings(max_examples=80, deadline=None)
@given(previous=st.lists(st.sampled_from([None, "n0", "n1", "gone", "x"]), min_size=1,
                         max_size=200), nodes=node_sets)
def test_any_previous_table_is_repaired_and_the_result_is_stable(
        previous: list[str | None], nodes: list[str]) -> None:
    after = place(previous, nodes)
    _assert_balanced(after, nodes)
    assert place(after, nodes) == after
    assert place(previous, list(reversed(nodes))) == after


def test_no_nodes_means_no_owners() -> None:
    assert place(["a", None], []) == [None, None]
