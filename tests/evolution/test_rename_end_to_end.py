"""The rename of issue 16 end to end on JetStream, with the real aether-gen commands: events
written by the package generated from v1 are read by the package generated from v2 through
the generated (mechanically filled) upcaster; without the bump, validate and generate refuse.

The two packages get separate import names (``--package``), so they live side by side."""

from __future__ import annotations

import importlib
from datetime import date
from pathlib import Path
from types import ModuleType
from uuid import uuid4

import pytest
from nats.aio.client import Client

from aether import Repository
from aether.store import JetStreamEventStore
from aether.upcasting import SCHEMA_VERSION
from tests.cli import aether_gen

ROOT = Path(__file__).resolve().parents[2]

V1 = """\
model: shelf
version: 1
contexts:
  - name: Lending
    actors: [Patron]
    aggregates:
      - name: Book
        state: {on_hold: bool}
        commands:
          - name: PlaceHold
            actor: Patron
            fields: {patron_id: str, hold_till: date}
            emits: [BookPlacedOnHold]
        events:
          - name: BookPlacedOnHold
            fields: {patron_id: str, hold_till: date}
"""
RENAMED = V1.replace("fields: {patron_id: str, hold_till: date}",
                     "fields: {patron_id: str, till: date}")
BUMPED = RENAMED.replace("          - name: BookPlacedOnHold\n",
                         "          - name: BookPlacedOnHold\n            schema_version: 2\n")


def generated(model: Path, out: Path, package: str,
              monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    result = aether_gen("generate", model, "-o", out, "--package", package)
    assert result.returncode == 0, result.stderr
    monkeypatch.syspath_prepend(str(out))
    return importlib.import_module(package)


async def test_v2_reads_v1_events_through_the_generated_upcaster(
        tmp_path: Path, nc: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "shelf.yaml"
    model.write_text(V1)
    v1 = generated(model, tmp_path / "v1", "shelf_v1", monkeypatch)
    v1_app = importlib.import_module("shelf_v1.app")
    store = await JetStreamEventStore.create_with_namespace(nc, "events", uuid4().hex[:12])
    router = v1_app.make_router(store)
    for patron in ("p1", "p2"):
        await router.send("book-1", v1.commands.PlaceHold(patron_id=patron,
                                                          hold_till=date(2026, 1, 31)))

    model.write_text(RENAMED)  # without the bump: refused, naming the change and the fix
    for command in (("validate", model), ("generate", model, "-o", tmp_path / "v2")):
        refused = aether_gen(*command)
        assert refused.returncode == 1
        assert ("breaking change since shelf.lock.json: field-renamed: BookPlacedOnHold."
                "hold_till renamed to till") in refused.stderr
        assert "bump BookPlacedOnHold's schema_version" in refused.stderr
    assert not (tmp_path / "v2").exists()

    model.write_text(BUMPED)
    v2 = generated(model, tmp_path / "v2", "shelf_v2", monkeypatch)
    stub = tmp_path / "v2" / "shelf_v2" / "upcasters" / "book_placed_on_hold_v1_to_v2.py"
    assert ('# a guess from the types (one field went, one of its type came): is it a rename?\n'
            '    data["till"] = data.pop("hold_till")') in stub.read_text()
    assert v2.events.BookPlacedOnHold.schema_version == 2
    v2_app = importlib.import_module("shelf_v2.app")

    book = await Repository(store, v2.aggregates.book.Book, v2.registry).load("book-1")
    assert book.version == 2  # both v1 events replayed by the v2 aggregate
    await v2_app.make_router(store).send(
        "book-1", v2.commands.PlaceHold(patron_id="p3", till=date(2026, 2, 28)))
    stored = await store.get_events("book-1")
    assert [e.metadata[SCHEMA_VERSION] for e in stored] == ["1", "1", "2"]
    assert [e.data for e in stored] == [
        {"patron_id": "p1", "hold_till": "2026-01-31"},
        {"patron_id": "p2", "hold_till": "2026-01-31"},
        {"patron_id": "p3", "till": "2026-02-28"}]
    assert [v2.registry.decode(e) for e in stored] == [
        v2.BookPlacedOnHold(patron_id="p1", till=date(2026, 1, 31)),
        v2.BookPlacedOnHold(patron_id="p2", till=date(2026, 1, 31)),
        v2.BookPlacedOnHold(patron_id="p3", till=date(2026, 2, 28))]

    checked = aether_gen("check", model)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    generated_tests = importlib.import_module("shelf_v2.tests.test_upcasters")
    runs = [test for name, test in vars(generated_tests).items() if name.startswith("test_")]
    assert len(runs) == 1
    for test in runs:
        test()
