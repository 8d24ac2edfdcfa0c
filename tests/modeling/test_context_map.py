"""The context map: how contexts relate, refused where it is wrong, checked against the flow."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeling import ModelError, load_model
from modeling.diagram import to_dot, to_mermaid

BROKEN = Path(__file__).parent / "broken"
ORDERS = Path(__file__).resolve().parents[2] / "examples" / "orders" / "model.yaml"


def problems(file: Path) -> list[str]:
    with pytest.raises(ModelError) as caught:
        load_model(file, strict=True)
    return [str(d).removeprefix(f"{file}:") for d in caught.value.diagnostics]


def test_a_wrong_map_is_refused_where_it_is_wrong_saying_what_to_write() -> None:
    assert problems(BROKEN / "context_map.yaml") == [
        # The flow against the map: a policy reacting against the stated direction, and a
        # read model fed across a boundary the map does not mention.
        "19:38: error: policy ShipPlacedOrders in Shipping reacts to event OrderPlaced of "
        "Sales, so Shipping depends on Sales, but relationship 3 makes Shipping upstream of "
        "Sales: swap upstream and downstream there, or move this into Sales (a downstream "
        "context reacts to its upstream's events)",
        "22:33: error: read model Shipments in Billing reads event Shipped of Shipping, but "
        "the context map relates no Shipping and Billing: add `{upstream: Shipping, "
        "downstream: Billing}` to `context_map` (or a shared_kernel or partnership of the two)",
        "25:16: error: relationship 1 names context 'Shiping', which is not declared; did you "
        "mean 'Shipping'?",
        "25:37: error: relationship 1 names context 'Order', but Order is an aggregate of "
        "context Sales, not a context: name a context",
        "26:5: error: relationship 2 relates context Sales to itself; a relationship joins two "
        "different contexts: name the other one",
        "27:63: error: relationship 3: downstream Sales cannot both conform to Shipping's "
        "model (conformist) and translate it (anticorruption_layer); keep one",
        "28:5: error: relationship 4 relates Sales and Shipping again (relationship 3 already "
        "does); two contexts have one relationship: merge the two entries into one",
        "29:63: error: relationship 5: 'OHS' is not an upstream role; write open_host_service "
        "(Context Mapper's OHS)",
        "29:68: error: relationship 5: 'conformist' is a role of the downstream side; move it "
        "to `downstream_roles`",
        "29:100: error: relationship 5: role 'published_language' is listed twice in "
        "`upstream_roles`; remove one",
        # Returns -> Billing after Billing -> Returns: the same pair, the other way round.
        "30:5: error: relationship 6 relates Returns and Billing again (relationship 5 already "
        "does); two contexts have one relationship: merge the two entries into one",
        "31:5: error: relationship 7 has `upstream: 'Returns'` but no `downstream`; name the "
        "context on the other side with `downstream: ...`",
        "32:21: error: relationship 8: `shared_kernel` names exactly two contexts, got 3; "
        "write one entry per pair, `shared_kernel: [A, B]`",
        "32:64: error: relationship 8: a shared kernel is symmetric and has no "
        "`upstream_roles`; remove it, or write `upstream:` and `downstream:` for an "
        "upstream/downstream relationship",
        "33:5: error: relationship 9 is upstream/downstream and partnership at once; two "
        "contexts have one relationship: keep one kind",
        "34:5: error: relationship 10 names no contexts: write `upstream: A` and "
        "`downstream: B`, or `shared_kernel: [A, B]`, or `partnership: [A, B]`",
        "35:50: error: relationship 11: 'shared_kernel' is not a kind of upstream/downstream "
        "relationship; the kinds are upstream_downstream, customer_supplier; write "
        "`shared_kernel: [A, B]` instead of upstream and downstream",
        "36:90: error: relationship 12: a customer is not a conformist (the supplier plans "
        "for the customer's needs, so it has nothing to conform to); remove conformist, or "
        "make the kind upstream_downstream",
    ]


def test_a_python_map_is_refused_at_the_builder_call() -> None:
    assert problems(BROKEN / "context_map.py") == [
        "13:1: error: relationship 1 names context 'Shiping', which is not declared; did you "
        "mean 'Shipping'?",
        "14:1: error: relationship 2: downstream Shipping cannot both conform to Sales's model "
        "(conformist) and translate it (anticorruption_layer); keep one",
        "16:1: error: relationship 3 relates Shipping and Sales again (relationship 2 already "
        "does); two contexts have one relationship: merge the two entries into one",
    ]


def test_a_mistyped_key_is_a_structural_error_with_the_key_meant(tmp_path: Path) -> None:
    file = tmp_path / "m.yaml"
    file.write_text("model: m\ncontexts: [{name: A}, {name: B}]\n"
                    "context_map:\n  - {upstream: A, downstrem: B}\n")
    assert problems(file) == [
        # The rest of the file is still checked, without the key it could not read.
        "4:5: error: relationship 1 has `upstream: 'A'` but no `downstream`; name the context "
        "on the other side with `downstream: ...`",
        "4:19: error: unknown key 'downstrem' in relationship 1; did you mean 'downstream'?"]


TWO = """\
model: m
contexts:
  - name: Sales
    aggregates:
      - name: Order
        commands: [{name: PlaceOrder, actor: Clerk, emits: [OrderPlaced]},
                   {name: Refund, emits: [Refunded]}]
        events: [{name: OrderPlaced}, {name: Refunded}]
    actors: [Clerk]
  - name: Support
    policies:
      - {name: RefundPlaced, on: [OrderPlaced], issues: [Refund]}
"""


def diagnostics(tmp_path: Path, text: str) -> list[str]:
    file = tmp_path / "m.yaml"
    file.write_text(text)
    try:
        loaded = load_model(file)
    except ModelError as error:
        return [str(d).removeprefix(f"{file}:") for d in error.diagnostics]
    return [str(d).removeprefix(f"{file}:") for d in loaded.warnings]


def test_without_a_map_each_crossing_is_a_lint_an_element_may_silence(tmp_path: Path) -> None:
    assert diagnostics(tmp_path, TWO) == [
        "12:34: warning: policy RefundPlaced in Support reacts to event OrderPlaced of Sales: "
        "say how the two relate in a `context_map` (e.g. `{upstream: Sales, downstream: "
        "Support}`) [context-crossing]",
        "12:57: warning: policy RefundPlaced in Support issues command Refund of Sales: say how "
        "the two relate in a `context_map` (e.g. `{upstream: Sales, downstream: Support}`) "
        "[context-crossing]",
    ]
    silenced = TWO.replace("issues: [Refund]}", "issues: [Refund], ignore: [context-crossing]}")
    assert diagnostics(tmp_path, silenced) == []


@pytest.mark.parametrize("relationship", [
    "{upstream: Sales, downstream: Support, upstream_roles: [open_host_service]}",
    "{upstream: Sales, downstream: Support, kind: customer_supplier}",
    "{shared_kernel: [Support, Sales]}",
    "{partnership: [Sales, Support]}",
])
def test_a_map_that_accounts_for_every_crossing_is_quiet(tmp_path: Path,
                                                         relationship: str) -> None:
    assert diagnostics(tmp_path, TWO + f"context_map:\n  - {relationship}\n") == []


def test_issuing_another_context_s_command_makes_it_upstream(tmp_path: Path) -> None:
    # Support issues Sales' command: Support depends on Sales, whichever way events flow.
    text = TWO.replace("on: [OrderPlaced]", "on: [Asked]") + (
        "    events: [{name: Asked}]\n"
        "    external_systems: [{name: Phone, emits: [Asked]}]\n"
        "context_map:\n  - {upstream: Support, downstream: Sales}\n")
    assert diagnostics(tmp_path, text) == [
        "12:51: error: policy RefundPlaced in Support issues command Refund of Sales, so "
        "Support depends on Sales, but relationship 1 makes Support upstream of Sales: swap "
        "upstream and downstream there, or move this into Sales (a downstream context reacts "
        "to its upstream's events)"]


def test_the_orders_example_states_its_map_and_validates_strictly() -> None:
    loaded = load_model(ORDERS, strict=True)
    (relationship,) = loaded.model.context_map
    assert (relationship.upstream, relationship.downstream, relationship.kind) == (
        "Sales", "Shipping", "customer_supplier")


_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
_NAMES = st.one_of(_TEXT, st.sampled_from(["Sales", "Support", "open_host_service",
                                           "conformist", "shared_kernel"]))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entry=st.dictionaries(
    st.sampled_from(["upstream", "downstream", "kind", "upstream_roles", "downstream_roles",
                     "shared_kernel", "partnership", "description"]),
    st.one_of(_NAMES, st.lists(_NAMES, max_size=3)), max_size=5))
def test_any_relationship_is_refused_or_drawn_without_its_text_escaping(
        tmp_path: Path, entry: dict[str, object]) -> None:
    file = tmp_path / "m.yaml"
    data = yaml.safe_load(TWO)
    data["context_map"] = [entry]
    file.write_text(yaml.safe_dump(data, allow_unicode=True))
    try:
        model = load_model(file).model
    except ModelError as error:
        assert error.errors and all(d.location.line >= 1 for d in error.errors)
        return
    # Valid: only declared context names, kinds and roles reach a drawing.
    drawing = to_dot(model) + to_mermaid(model)
    for text in (v for v in entry.values() if isinstance(v, str)):
        if len(text) > 8:  # long enough not to occur in a drawing by chance
            assert text not in drawing


READS = """\
model: m
contexts:
  - name: Sales
    actors: [Clerk]
    aggregates:
      - name: Order
        commands: [{name: PlaceOrder, actor: Clerk, emits: [OrderPlaced]}]
        events: [{name: OrderPlaced}]
    read_models: [{name: Orders, from: [OrderPlaced]}]
  - name: Support
    events: [{name: Asked}]
    external_systems: [{name: Phone, emits: [Asked]}]
    aggregates:
      - {name: Desk, commands: [{name: Answer, emits: [Answered]}], events: [{name: Answered}]}
    policies:
      - {name: AnswerAsked, on: [Asked], issues: [Answer], reads: [Orders]}
"""


def test_reading_another_context_s_read_model_makes_it_upstream(tmp_path: Path) -> None:
    # A policy's `reads` landed beside the map: a decision made from Sales' view of orders
    # depends on Sales as much as reacting to its events does.
    assert diagnostics(tmp_path, READS) == [
        "16:67: warning: policy AnswerAsked in Support reads read model Orders of Sales: say "
        "how the two relate in a `context_map` (e.g. `{upstream: Sales, downstream: "
        "Support}`) [context-crossing]"]
    assert diagnostics(tmp_path, READS + "context_map:\n  - {upstream: Support, downstream: "
                       "Sales}\n") == [
        "16:67: error: policy AnswerAsked in Support reads read model Orders of Sales, so "
        "Support depends on Sales, but relationship 1 makes Support upstream of Sales: swap "
        "upstream and downstream there, or move this into Sales (a downstream context reacts "
        "to its upstream's events)"]
    assert diagnostics(tmp_path, READS + "context_map:\n  - {upstream: Sales, downstream: "
                       "Support}\n") == []
