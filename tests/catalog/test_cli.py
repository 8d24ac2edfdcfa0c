"""`aether-gen catalog MODEL -o DIR`: writes, replaces an earlier catalog, never clobbers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codegen.catalog import build_catalog
from modeling import load_model
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


@pytest.mark.parametrize("index", [
    "<html><title>Team docs</title><body>See the aether-catalog of orders</body></html>",
    '<html><head><!-- <meta name="generator" content="aether-catalog"> --></head></html>',
    '<html><head><meta name="description" content="aether-catalog"></head></html>',
    '<html><head><meta name="generator" content="aether-catalog-fork"></head></html>',
    '<html><body><p>Our docs</p><meta name="generator" content="aether-catalog"></body>',
    '<html><p>Our docs</p><meta name="generator" content="aether-catalog">',
    'Our docs <meta name="generator" content="aether-catalog">',
    '<html><head><title><meta name="generator" content="aether-catalog"></title></head>',
    '<html><head><script>"<meta name=generator content=aether-catalog>"</script></head>',
])
def test_an_index_that_only_mentions_the_catalog_is_refused_and_left_alone(
        tmp_path: Path, index: str) -> None:
    model = tmp_path / "shop.yaml"
    model.write_text(SMALL)
    site = tmp_path / "mysite"
    site.mkdir()
    (site / "index.html").write_text(index)
    (site / "plan.txt").write_text("important")
    result = catalog(model, site)
    assert result.returncode == 1
    assert "holds no catalog" in result.stderr and len(problems(result)) == 1
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "plan.txt"]
    assert (site / "plan.txt").read_text() == "important"
    assert (site / "index.html").read_text() == index


def test_an_index_that_is_not_utf8_or_cannot_be_read_is_refused_in_one_line(
        tmp_path: Path) -> None:
    model = tmp_path / "shop.yaml"
    model.write_text(SMALL)
    site = tmp_path / "mysite"
    site.mkdir()
    (site / "plan.txt").write_text("important")
    index = site / "index.html"
    index.write_bytes(b'\xff\xfe<meta name="generator" content="aether-catalog">')
    result = catalog(model, site)
    assert result.returncode == 1, result.stdout
    assert problems(result)[0].startswith("aether-gen: error: ") and "not UTF-8" in result.stderr
    assert len(problems(result)) == 1
    # A file that cannot be read (even by root): the process's own memory at address 0.
    index.unlink()
    index.symlink_to("/proc/self/mem")
    result = catalog(model, site)
    assert result.returncode == 1, result.stdout
    assert problems(result)[0].startswith("aether-gen: error: cannot read ")
    assert len(problems(result)) == 1
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "plan.txt"]


def problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr but the model's warnings: a refusal is one line, never a traceback."""
    return [line for line in result.stderr.splitlines() if ": warning: " not in line]


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}


def test_regenerating_replaces_only_what_the_catalog_wrote(tmp_path: Path) -> None:
    model = tmp_path / "shop.yaml"
    model.write_text(SMALL.replace("  - name: Sales\n", "  - name: Sales\n    actors: [Clerk]\n"))
    site = tmp_path / "pub"
    assert catalog(model, site).returncode == 0
    mine = {".git/HEAD": b"ref: refs/heads/main\n", ".git/objects/ab/cdef": b"\x00blob",
            "CNAME": b"example.org\n", "NOTES.md": b"# notes\n",
            "events/README.md": b"the events, explained\n",
            "events/drafts/idea.html": b"<p>not generated</p>\n",
            "commands/old.html": b"<html><head><title>mine</title></head></html>\n"}
    for path, content in mine.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_bytes(content)
    (site / "events" / "link.html").symlink_to(site / "index.html")
    inode = (site / "events" / "README.md").stat().st_ino
    # The next model has no actor and no OrderCancelled: their pages go, and actors/ too.
    model.write_text(SMALL.replace("          - {name: CancelOrder, emits: [OrderCancelled]}\n",
                                   "").replace("          - {name: OrderCancelled}\n", ""))
    result = catalog(model, site)
    assert result.returncode == 0, result.stderr
    written = build_catalog(load_model(model).model).files
    assert files_under(site) == {**written, **mine}
    assert (site / "events" / "link.html").is_symlink()
    assert (site / "events" / "README.md").stat().st_ino == inode  # not even copied
    assert not (site / "actors").exists()
    assert not (site / "events" / "order-cancelled.html").exists()


def test_what_a_killed_run_staged_is_removed_by_the_next(tmp_path: Path) -> None:
    model = tmp_path / "shop.yaml"
    model.write_text(SMALL)
    written = build_catalog(load_model(model).model).files
    for site in (tmp_path / "first", tmp_path / "again"):  # killed in a first run, or later
        if site.name == "again":
            assert catalog(model, site).returncode == 0
        staged = site / ".aether-catalog-k1ll3d" / "events"
        staged.mkdir(parents=True)
        (staged / "half.html").write_bytes(b"<html")
        result = catalog(model, site)  # maybe another run's, writing now: left alone
        assert result.returncode == 0, result.stderr
        assert files_under(site) == {**written, ".aether-catalog-k1ll3d/events/half.html": b"<html"}
        an_hour_ago = time.time() - 3600
        os.utime(staged.parent, (an_hour_ago, an_hour_ago))
        result = catalog(model, site)  # a killed run's: removed
        assert result.returncode == 0, result.stderr
        assert files_under(site) == written


def test_a_symlink_where_the_catalog_writes_a_directory_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "shop.yaml"
    model.write_text(SMALL)
    site = tmp_path / "site"
    assert catalog(model, site).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    shutil.rmtree(site / "events")
    (site / "events").symlink_to(elsewhere)
    result = catalog(model, site)
    assert result.returncode == 1
    assert "symlink" in result.stderr and len(problems(result)) == 1
    assert [p.name for p in elsewhere.iterdir()] == ["keep.txt"]
