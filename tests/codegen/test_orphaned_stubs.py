"""Stubs the model no longer produces (an element renamed or removed): generate and --check
name each with what it held and what to do, exit 1, and never touch the user's code."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import aether_gen, tool

ROOT = Path(__file__).resolve().parents[2]
ORDERS = ROOT / "examples" / "orders"

# One element of each kind renamed; the package's implemented stubs are the example's.
# The aggregate keeps its actor ids (and so its stored histories) with its old id_prefix.
RENAMES = [("- name: Shipment\n        id: order_id\n",
            "- name: Consignment\n        id: order_id\n        id_prefix: shipment\n"),
           ("PrepareShipmentWhenOrderPaid", "PrepareParcelWhenOrderPaid"),
           ("ParcelTracking", "ParcelStatus")]
# What a user moves over by hand: the class, its base and the generated names it uses.
MOVES = {"aggregates/shipment.py": ("aggregates/consignment.py", [
             ("class Shipment(", "class Consignment("), ("ShipmentBase", "ConsignmentBase"),
             ("ShipmentState", "ConsignmentState")]),
         "policies/prepare_shipment_when_order_paid.py": (
             "policies/prepare_parcel_when_order_paid.py",
             [("PrepareShipmentWhenOrderPaid", "PrepareParcelWhenOrderPaid")]),
         "read_models/parcel_tracking.py": ("read_models/parcel_status.py",
                                            [("ParcelTracking", "ParcelStatus")])}
# Modules of the user's own beside the stubs: one imports from ..bases, neither is a stub.
HELPERS = {
    "read_models/formatting.py": '"""Shared by the read models."""\n\n'
                                 "from ..bases import OrderSummaryRow\n\n\n"
                                 "def describe(row: OrderSummaryRow) -> str:\n"
                                 '    return f"{row.order_id}: {row.status}"\n',
    "policies/limits.py": '"""Limits the policies share."""\n\nMAX_PARCELS = 3\n',
}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """The orders example, implemented, generated into ``tmp_path`` (package ``orders``),
    with the user's helper modules; the model is ``tmp_path/model.yaml``."""
    shutil.copy(ORDERS / "model.yaml", tmp_path / "model.yaml")
    shutil.copytree(ORDERS / "project" / "orders", tmp_path / "orders",
                    ignore=shutil.ignore_patterns("__pycache__"))
    first = aether_gen("generate", tmp_path / "model.yaml", "-o", tmp_path)
    assert first.returncode == 0, first.stderr
    for path, text in HELPERS.items():
        (tmp_path / "orders" / path).write_text(text)
    # The user rewrote the docstring: it is no mark of a stub.
    tracking = tmp_path / "orders" / "read_models" / "parcel_tracking.py"
    text = tracking.read_text()
    tracking.write_text('"""Where each parcel is."""' + text[text.index('"""', 3) + 3:])
    return tmp_path


def rename(shop: Path, renames: list[tuple[str, str]]) -> None:
    model = shop / "model.yaml"
    text = model.read_text()
    for old, new in renames:
        assert old in text
        text = text.replace(old, new)
    model.write_text(text)


def contents(shop: Path) -> dict[str, str]:
    return {path: (shop / "orders" / path).read_text() for path in [*MOVES, *HELPERS]}


def advice(shop: Path) -> list[str]:
    out = shop / "orders"
    return [
        f"{out}/aggregates/shipment.py: aggregate Shipment is no longer in the model "
        f"(renamed to Consignment?): move its code into {out}/aggregates/consignment.py, "
        f"then delete this file",
        f"{out}/policies/prepare_shipment_when_order_paid.py: policy "
        f"PrepareShipmentWhenOrderPaid is no longer in the model (renamed to "
        f"PrepareParcelWhenOrderPaid?): move its code into "
        f"{out}/policies/prepare_parcel_when_order_paid.py, then delete this file",
        f"{out}/read_models/parcel_tracking.py: read model ParcelTracking is no longer in "
        f"the model (renamed to ParcelStatus?): move its code into "
        f"{out}/read_models/parcel_status.py, then delete this file",
    ]


def test_renamed_elements_leave_their_filled_stubs_untouched_and_reported(shop: Path) -> None:
    before = contents(shop)
    rename(shop, RENAMES)
    model = shop / "model.yaml"

    check = aether_gen("generate", model, "-o", shop, "--check")
    assert check.returncode == 1
    lines = check.stderr.splitlines()
    assert f"{shop}/orders/read_models/parcel_status.py: missing" in lines
    assert lines[-4:-1] == advice(shop)
    assert lines[-1].startswith("aether-gen: error: ")
    assert "3 orphaned stub(s)" in lines[-1] and "run aether-gen generate" in lines[-1]

    result = aether_gen("generate", model, "-o", shop)
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == (
        f"{shop}/orders: 3 created, 5 updated, 0 removed, 3 stub(s) kept, 3 orphaned stub(s)")
    assert result.stderr.splitlines() == [*advice(shop), (
        "aether-gen: error: 3 orphaned stub(s): the app no longer runs their code and the "
        "package does not type-check until you move it and delete them, as said above")]
    assert contents(shop) == before  # the orphans and the helpers, byte for byte
    assert "ParcelStatus()" in (shop / "orders" / "app.py").read_text()

    # Nothing left to write, the orphans still there: both runs keep saying so.
    again = aether_gen("generate", model, "-o", shop)
    assert again.returncode == 1
    assert again.stderr.splitlines()[:-1] == advice(shop)
    check = aether_gen("generate", model, "-o", shop, "--check")
    assert check.returncode == 1
    assert check.stderr.splitlines()[:-1] == advice(shop)
    assert "run aether-gen generate" not in check.stderr  # it would not help
    assert contents(shop) == before


def test_following_the_advice_makes_the_package_whole_again(shop: Path) -> None:
    rename(shop, RENAMES)
    model = shop / "model.yaml"
    assert aether_gen("generate", model, "-o", shop).returncode == 1
    mypy = tool("mypy", "--strict", "--config-file", ROOT / "pyproject.toml", "orders",
                cwd=shop)
    assert mypy.returncode == 1  # why generate exits 1: the orphans break the package
    assert 'has no attribute "ParcelTrackingBase"' in mypy.stdout

    for old, (new, names) in MOVES.items():
        text = (shop / "orders" / old).read_text()
        for name, renamed in names:
            text = text.replace(name, renamed)
        (shop / "orders" / new).write_text(text)
        (shop / "orders" / old).unlink()

    result = aether_gen("generate", model, "-o", shop)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        f"{shop}/orders: 0 created, 0 updated, 0 removed, 6 stub(s) kept")
    check = aether_gen("generate", model, "-o", shop, "--check")
    assert check.returncode == 0, check.stderr
    ruff = tool("ruff", "check", "--config", ROOT / "pyproject.toml", "orders", cwd=shop)
    assert ruff.returncode == 0, ruff.stdout
    mypy = tool("mypy", "--strict", "--config-file", ROOT / "pyproject.toml", "orders",
                cwd=shop)
    assert mypy.returncode == 0, mypy.stdout
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "orders"], cwd=shop, capture_output=True, text=True, check=False)
    assert tests.returncode == 0, tests.stdout
    assert "failed" not in tests.stdout and " passed" in tests.stdout


def test_a_removed_element_gets_no_rename_guess(shop: Path) -> None:
    model = shop / "model.yaml"
    text = model.read_text()
    start = text.index("    read_models:\n      - name: ParcelTracking")
    model.write_text(text[:start] + text[text.index("\n\n", start):])
    result = aether_gen("generate", model, "-o", shop)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"{shop}/orders/read_models/parcel_tracking.py: read model ParcelTracking is no "
        f"longer in the model and app.py no longer uses this file: move any code you still "
        f"need into another stub, then delete this file")
    assert len(result.stderr.splitlines()) == 2


def test_two_renames_of_one_kind_get_no_guess(shop: Path) -> None:
    rename(shop, [("ParcelTracking", "ParcelStatus"), ("OrderSummary", "OrderOverview")])
    result = aether_gen("generate", shop / "model.yaml", "-o", shop, "--check")
    assert result.returncode == 1
    orphans = [line for line in result.stderr.splitlines() if "is no longer in the model" in line]
    assert [line.split(": ", 1)[0] for line in orphans] == [
        f"{shop}/orders/read_models/order_summary.py",
        f"{shop}/orders/read_models/parcel_tracking.py"]
    assert all("renamed to" not in line for line in orphans)


def test_a_stub_file_renamed_by_hand_names_the_stub_its_code_belongs_in(shop: Path) -> None:
    aggregates = shop / "orders" / "aggregates"
    (aggregates / "order.py").rename(aggregates / "old_order.py")
    result = aether_gen("generate", shop / "model.yaml", "-o", shop)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"{aggregates}/old_order.py: aggregate Order has its stub in {aggregates}/order.py "
        f"now: move this file's code there, then delete this file")
