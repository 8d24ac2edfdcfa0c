"""Upcasters come from the lock's versions: with the lock deleted (as a damaged lock's message
allows) or an older one restored, generate used to drop the user's upcaster stubs from
upcasters/__init__.py and exit 0, and every stored event of those versions stopped loading
while the generated tests passed. Generate now refuses, writing nothing, and says why."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from codegen.cli import main
from tests.evolution.shelf import SHELF, changed

V2 = changed(("          - name: BookReturned\n            fields: {patron: str, late: bool}",
              "          - name: BookReturned\n            schema_version: 2\n"
              "            fields: {patron: str}"))
V3 = changed(("          - name: BookReturned\n            fields: {patron: str, late: bool}",
              "          - name: BookReturned\n            schema_version: 3\n"
              "            fields: {patron: str, note: {type: str, default: x}}"))
STUB = "shelf/upcasters/book_returned_v1_to_v2.py"


def _generate(folder: Path, *extra: str) -> Result:
    return CliRunner().invoke(main, ["generate", str(folder / "shelf.yaml"), "-o",
                                     str(folder / "out"), *extra])


def _upgraded(folder: Path) -> str:
    """SHELF generated, then V2 with its upcaster written by hand; the lock V2 left."""
    (folder / "shelf.yaml").write_text(SHELF)
    assert _generate(folder).exit_code == 0
    (folder / "shelf.yaml").write_text(V2)
    assert _generate(folder).exit_code == 0
    stub = folder / "out" / STUB
    stub.write_text(stub.read_text().replace("kit.not_written(", "print(").replace(
        "data.pop(\"late\", None)", "data.pop(\"late\", None)  # written by hand"))
    return (folder / "shelf.lock.json").read_text()


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def test_a_deleted_lock_is_refused_while_upcaster_stubs_need_it(tmp_path: Path) -> None:
    lock = _upgraded(tmp_path)
    (tmp_path / "shelf.lock.json").unlink()
    before = _tree(tmp_path)
    for extra in ((), ("--check",)):
        result = _generate(tmp_path, *extra)
        assert result.exit_code == 1
        advice, summary = result.stderr.splitlines()
        assert advice == (
            f"{tmp_path / 'out' / STUB}: upcaster BookReturned v1 -> v2 is yours, but "
            f"shelf.lock.json does not hold that step (deleted, or an older lock restored), "
            f"so generate would unhook it and stored events of that version would stop "
            f"loading: restore shelf.lock.json from version control (delete this file only "
            f"if no such events are stored)")
        assert summary == ("aether-gen: error: 1 upcaster stub(s) that shelf.lock.json no "
                           "longer produces, as said above"
                           + ("" if extra else "; nothing written"))
        assert _tree(tmp_path) == before  # no lock written, the upcaster still hooked up
    assert "book_returned_v1_to_v2" in (tmp_path / "out/shelf/upcasters/__init__.py").read_text()
    (tmp_path / "shelf.lock.json").write_text(lock)
    assert _generate(tmp_path).exit_code == 0


def test_an_older_lock_restored_is_refused(tmp_path: Path) -> None:
    _upgraded(tmp_path)
    (tmp_path / "shelf.yaml").write_text(V3)
    assert _generate(tmp_path).exit_code == 0  # v2 -> v3 added beside the hand-written v1 -> v2
    older = tmp_path / "older"
    older.mkdir()
    (older / "shelf.yaml").write_text(SHELF)
    assert _generate(older).exit_code == 0
    (tmp_path / "shelf.lock.json").write_text((older / "shelf.lock.json").read_text())
    result = _generate(tmp_path)
    assert result.exit_code == 1
    assert [line.split(": upcaster ")[1].split(" is yours")[0]
            for line in result.stderr.splitlines()[:-1]] == [
        "BookReturned v1 -> v2", "BookReturned v2 -> v3"]


def test_an_upcaster_of_an_event_that_left_the_model_is_to_be_deleted(tmp_path: Path) -> None:
    _upgraded(tmp_path)
    (tmp_path / "shelf.yaml").write_text(V2.replace("version: 1", "version: 2").replace(
        "          - name: BookReturned\n            schema_version: 2\n"
        "            fields: {patron: str}\n", "").replace("emits: [BookReturned]", "emits: []"))
    # Harmless (an event dropped on purpose): the rest is written, the stub reported as
    # orphans are, exit 1 until it is deleted; --check says the same.
    result = _generate(tmp_path)
    assert result.exit_code == 1
    assert f"updated {tmp_path / 'shelf.lock.json'}" in result.stdout
    assert result.stderr.splitlines() == [
        f"{tmp_path / 'out' / STUB}: upcaster BookReturned v1 -> v2 is for an event no longer "
        f"in the model, and nothing runs it: delete this file",
        "aether-gen: error: 1 upcaster stub(s) of events no longer in the model: delete them, "
        "as said above"]
    check = _generate(tmp_path, "--check")
    assert check.exit_code == 1 and check.stderr.splitlines()[0] == result.stderr.splitlines()[0]
    (tmp_path / "out" / STUB).unlink()
    assert _generate(tmp_path).exit_code == 0
    assert _generate(tmp_path, "--check").exit_code == 0


def test_a_module_of_the_users_own_in_upcasters_is_not_an_upcaster(tmp_path: Path) -> None:
    _upgraded(tmp_path)
    helper = tmp_path / "out/shelf/upcasters/dates_v1_to_v2.py"
    helper.write_text("def convert(text: str) -> str:\n    return text\n")
    assert _generate(tmp_path).exit_code == 0


def test_a_package_made_anew_beside_one_of_the_same_model_says_where_the_code_is(
        tmp_path: Path) -> None:
    """Renamed with --package, the new package's upcaster stub is a fresh guess whose test
    passes: the hand-written one stayed in the old package, and stored events would have
    been read by the guess without a word."""
    _upgraded(tmp_path)
    result = _generate(tmp_path, "--package", "shelf2")
    assert result.exit_code == 1
    out = tmp_path / "out"
    assert result.stderr.splitlines() == [
        f"{out / 'shelf'}: a package of model shelf too, whose stubs hold your code; "
        f"{out / 'shelf2'} is new, with fresh stubs (an upcaster's guess passes its test): "
        f"move your code into them, then delete {out / 'shelf'}",
        "aether-gen: error: 1 earlier package(s) of this model beside the new one, as said "
        "above"]
    assert (out / "shelf2/upcasters/book_returned_v1_to_v2.py").exists()  # written all the same
    # The next run finds its package there: nothing more to say.
    assert _generate(tmp_path, "--package", "shelf2").exit_code == 0
