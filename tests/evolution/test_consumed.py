"""Changes to events another context consumes: marked as such, and still flagged when the
consumer relies on them as a published language (see modeling/changes.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from codegen.cli import main
from codegen.contract_cli import refuse_breaking
from modeling import Location, ModelError, load_model
from modeling.changes import Change
from modeling.contract import contract, lock_path, render_lock
from modeling.evolution import changes_against

ROOT = Path(__file__).resolve().parents[2]
ORDERS = (ROOT / "examples" / "orders" / "model.yaml").read_text()

PAID = "          - name: OrderPaid\n            fields: {order_id: str, payment_id: str, "
RETYPED = (PAID + "amount: decimal}", PAID + "amount: str}")
BUMPED = (PAID + "amount: decimal}", "          - name: OrderPaid\n            schema_version: 2\n"
          "            fields: {order_id: str, payment_id: str, amount: str}")
NO_ROLES = ("    upstream_roles: [published_language]\n", "")
NO_MAP = (ORDERS[ORDERS.index("\n# How the two contexts relate"):], "\n")
PLACED = ("              total: decimal\n          - name: OrderPaid",
          "              total: str\n          - name: OrderPaid")
OPTIONAL = (PAID + "amount: decimal}", PAID + "amount: decimal, note: {type: str, default: ''}}")

# (case, edits, the severity `check` prints for the OrderPaid/OrderPlaced change, flagged)
CASES: list[tuple[str, tuple[tuple[str, str], ...], str, bool]] = [
    ("consumed, unversioned", (RETYPED,),
     "breaking (consumed by Shipping as a published language)", True),
    # An upcaster mends Sales' stored events, not Shipping's reading of the contract.
    ("consumed as a published language, versioned", (BUMPED,),
     "breaking (versioned, consumed by Shipping as a published language)", True),
    ("consumed without upstream roles, versioned", (BUMPED, NO_ROLES),
     "breaking (versioned, consumed by Shipping)", False),
    ("consumed without upstream roles, unversioned", (RETYPED, NO_ROLES),
     "breaking (consumed by Shipping)", True),
    ("consumed with no context map", (RETYPED, NO_MAP), "breaking (consumed by Shipping)", True),
    ("read only in its own context", (PLACED,), "breaking", True),
    ("compatible change to a consumed event", (OPTIONAL,), "compatible", False),
]


def edited(*edits: tuple[str, str]) -> str:
    text = ORDERS
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize(("case", "edits", "severity", "flagged"), CASES,
                         ids=[c[0] for c in CASES])
def test_a_change_to_a_consumed_event_says_who_consumes_it(
        tmp_path: Path, case: str, edits: tuple[tuple[str, str], ...], severity: str,
        flagged: bool) -> None:
    model = tmp_path / "orders.yaml"
    model.write_text(ORDERS)
    old = contract(load_model(model).model)
    model.write_text(edited(*edits))
    found = [c for c in changes_against(load_model(model), old)
             if c.kind != "schema-version-bumped"]
    assert [(str(c).split(": ")[1], c.flagged) for c in found] == [(severity, flagged)]


def test_check_fails_on_a_versioned_change_to_a_published_language(tmp_path: Path) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "orders.yaml"
    old.write_text(ORDERS)
    new.write_text(edited(BUMPED))
    result = CliRunner().invoke(main, ["check", str(new), "--against", str(old)])
    assert result.exit_code == 1
    assert (f"2 change(s) since {old}, 1 breaking, 0 without a version bump, 1 to a published "
            f"language other contexts rely on") in result.stderr
    new.write_text(edited(BUMPED, NO_ROLES))  # no published language: the bump is enough
    assert CliRunner().invoke(main, ["check", str(new), "--against", str(old)]).exit_code == 0


def test_validate_names_the_consumers_of_an_undeclared_breaking_change(tmp_path: Path) -> None:
    model = tmp_path / "orders.yaml"
    model.write_text(ORDERS)
    lock_path(model).write_text(render_lock(contract(load_model(model).model)))
    model.write_text(edited(RETYPED))
    result = CliRunner().invoke(main, ["validate", str(model)])
    assert result.exit_code == 1
    assert ("error: breaking change since orders.lock.json (consumed by Shipping): "
            "type-changed: OrderPaid.amount changed type from decimal to str") in result.output
    with pytest.raises(ModelError, match=r"\(consumed by Shipping\)"):  # generate's guard
        refuse_breaking(load_model(model))


def test_consumers_with_and_without_a_published_language_are_told_apart() -> None:
    change = Change(Location("m.yaml", 3, 5), "OrderPaid", "field-removed", "OrderPaid.x removed",
                    consumers=("Billing", "Shipping"), published_to=("Shipping",))
    assert str(change) == ("m.yaml:3:5: breaking (consumed by Billing, and by Shipping as a "
                           "published language): field-removed: OrderPaid.x removed")
    assert change.failing and change.flagged
