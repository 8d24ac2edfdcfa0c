"""`aether-gen catalog MODEL -o DIR`: writes, replaces an earlier catalog, never clobbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.catalog.pages import ROOT

SMALL = """\
model: shop
contexts:
  - name: Sales
    aggregates:
      - name: Order
        commands:
          - {name: PlaceOrder, emits: [OrderPlaced]}
          - {name: CancelOrder, emits: [OrderCancelled]}
        events:
          - {name: OrderPlaced}
          - {name: OrderCancelled}
"""


def catalog(model: Path, output: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codegen", "catalog", str(model), "-o",
                           str(output)], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=120)


def test_writes_a_site_and_says_where_to_open_it(tmp_path: Path) -> None:
    model = tmp_path / "shop.yaml"
    model.write_text(SMALL)
    result = catalog(model, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    index = tmp_path / "site" / "index.html"
    assert index.as_uri() in result.stdout
    assert (tmp_path / "site" / "events" / "order-cancelled.html").is_file()


def test_rewriting_replaces_the_earlier_catalog_and_drops_pages_of_removed_elements(
        tmp_path: Path) -> None:
    model = tmp_path / "shop.yaml"
    model.write_text(SMALL)
    assert catalog(model, tmp_path / "site").returncode == 0
    model.write_text(SMALL.replace("          - {name: CancelOrder, emits: [OrderCancelled]}\n",
                                   "").replace("          - {name: OrderCancelled}\n", ""))
    result = catalog(model, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "site" / "events" / "order-cancelled.html").exists()
    assert (tmp_path / "site" / "events" / "order-placed.html").is_file()


def test_a_directory_holding_other_files_is_refused_and_left_alone(tmp_path: Path) -> None:
    model = tmp_path / "shop.yaml"
    model.write_text(SMALL)
    precious = tmp_path / "home" / "thesis.txt"
    precious.parent.mkdir()
    precious.write_text("years of work")
    result = catalog(model, precious.parent)
    assert result.returncode == 1
    assert "not empty and holds no catalog" in result.stderr
    assert precious.read_text() == "years of work"
    assert sorted(p.name for p in precious.parent.iterdir()) == ["thesis.txt"]


def test_an_invalid_model_gets_located_errors_and_writes_nothing(tmp_path: Path) -> None:
    model = tmp_path / "shop.yaml"
    model.write_text(SMALL.replace("emits: [OrderPlaced]", "emits: [OrderPlacedd]"))
    result = catalog(model, tmp_path / "site")
    assert result.returncode == 1
    assert f"{model}:" in result.stderr and "OrderPlacedd" in result.stderr
    assert not (tmp_path / "site").exists()
