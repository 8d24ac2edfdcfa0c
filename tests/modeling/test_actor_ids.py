"""Actor ids a scenario makes (``<prefix>-<id value>``, or written as ``actor:``/``to:``)
fit the runtime's limit, so the generated scenario tests can store their events."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from aether.limits import MAX_ACTOR_ID_BYTES
from modeling import ModelError, load_model
from modeling.identity import MAX_ACTOR_ID_BYTES as MODELING_LIMIT

MODEL = """\
model: shop
contexts:
  - name: Sales
    actors: [User]
    aggregates:
      - name: Order
        id: order_id
        commands:
          - {name: PlaceOrder, actor: User, fields: {order_id: str}, emits: [OrderPlaced]}
        events:
          - {name: OrderPlaced, fields: {order_id: str}}
        scenarios:
          - {name: placing, when: {PlaceOrder: {order_id: %(id)s}}, then: []}
    read_models:
      - name: Orders
        key: order_id
        from: [OrderPlaced]
        scenarios:
          - name: a row
            given: [{OrderPlaced: {order_id: %(id)s}}]
            then: [{order_id: %(id)s}]
    policies:
      - name: Again
        on: [OrderPlaced]
        issues: [PlaceOrder]
        ignore: [policy-cycle]
        scenarios:
          - name: again
            when: {OrderPlaced: {order_id: %(id)s}, actor: %(actor)s}
            then: [{PlaceOrder: {order_id: %(id)s}}]
"""


def test_modeling_knows_the_runtime_limit() -> None:
    assert MODELING_LIMIT == MAX_ACTOR_ID_BYTES


def errors(folder: Path, order_id: str, actor: str = "order-o1") -> list[str]:
    file = folder / "m.yaml"
    file.write_text(MODEL % {"id": f'"{order_id}"', "actor": f'"{actor}"'}, encoding="utf-8")
    try:
        load_model(file)
    except ModelError as error:
        return [str(d).removeprefix(f"{file}:") for d in error.diagnostics]
    return []


_CHARS = st.sampled_from("xé€😀")


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.tuples(_CHARS, st.integers(1, 520)).map(lambda pair: pair[0] * pair[1]),
                 st.text(_CHARS, min_size=1, max_size=300)))
def test_every_scenario_refuses_an_id_whose_actor_id_is_too_long(order_id: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        found = errors(Path(folder), order_id)
    size = len(f"order-{order_id}".encode())
    if size <= MAX_ACTOR_ID_BYTES:
        assert found == []
        return
    message = (f"field 'order_id' makes the actor id {{}} of {size} bytes (UTF-8); actor ids "
               f"are at most 512 bytes: keep order_id within 506 bytes")
    # The when of the aggregate scenario, the given of the read model's, the when and then
    # of the policy's: each at the id's own place.
    assert [line.split(":")[0] for line in found] == ["13", "20", "29", "30"]
    for line in found:
        text = line.split(": error: ")[1]
        assert text.startswith("field 'order_id' makes the actor id 'order-")
        assert text.endswith(message.split("{}")[1])


def test_an_actor_written_out_is_counted_in_bytes(tmp_path: Path) -> None:
    assert errors(tmp_path, "o1", actor="😀" * 200) == [
        "29:51: error: `actor` is an actor id: text of 1 to 255 printable characters (at most "
        "512 bytes of UTF-8), such as `actor: order-o1`"]
    assert errors(tmp_path, "o1", actor="😀" * 128) == []
