"""A damaged or hand-edited lock is a one-line located error, never a crash, and text taken
from a lock reaches the terminal escaped (a line break cannot forge a line)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from codegen.cli import main
from tests.evolution.shelf import SHELF, changed

COMMANDS = (("check",), ("validate",), ("generate", "-o", "out", "--check"))
# BookReturned at schema_version 2: its lock has two versions, and generate an upcaster.
BUMPED = changed(("          - name: BookReturned\n            fields: {patron: str, late: bool}",
                  "          - name: BookReturned\n            schema_version: 2\n"
                  "            fields: {patron: str, note: {type: str, default: x}}"))


@pytest.fixture(scope="module")
def good_lock(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The lock generate writes for the shelf model."""
    folder = tmp_path_factory.mktemp("good")
    (folder / "shelf.yaml").write_text(SHELF)
    result = CliRunner().invoke(main, ["generate", str(folder / "shelf.yaml"), "-o",
                                       str(folder / "out")])
    assert result.exit_code == 0, result.output
    return (folder / "shelf.lock.json").read_text()


@pytest.fixture(scope="module")
def bumped_lock(tmp_path_factory: pytest.TempPathFactory, good_lock: str) -> str:
    """The lock generate writes for BUMPED after SHELF: two versions of BookReturned."""
    folder = tmp_path_factory.mktemp("bumped")
    (folder / "shelf.yaml").write_text(BUMPED)
    (folder / "shelf.lock.json").write_text(good_lock)
    result = CliRunner().invoke(main, ["generate", str(folder / "shelf.yaml"), "-o",
                                       str(folder / "out")])
    assert result.exit_code == 0, result.output
    return (folder / "shelf.lock.json").read_text()


def _run(folder: Path, lock: bytes, model: str = SHELF) -> Iterator[tuple[int, str, str]]:
    """Every command that reads the lock, on the shelf model beside ``lock``."""
    (folder / "shelf.yaml").write_text(model)
    (folder / "shelf.lock.json").write_bytes(lock)
    for command, *rest in COMMANDS:
        args = [command, str(folder / "shelf.yaml"), *(
            str(folder / a) if a == "out" else a for a in rest)]
        result = CliRunner().invoke(main, args)
        yield result.exit_code, result.stdout, result.stderr


def _versions(edit: Callable[[dict[str, Any]], None]) -> Callable[[str], bytes]:
    def apply(text: str) -> bytes:
        lock = json.loads(text)
        edit(lock["events"]["BookReturned"]["versions"])
        return json.dumps(lock, indent=2, ensure_ascii=False).encode()
    return apply


EDITS: list[tuple[str, Callable[[str], bytes]]] = [
    ("model version as text", lambda t: t.replace('"model_version": 1',
                                                  '"model_version": "two"').encode()),
    ("model version null", lambda t: t.replace('"model_version": 1',
                                               '"model_version": null').encode()),
    ("version 01", _versions(lambda v: v.update({"01": v.pop("1")}))),
    ("Arabic-Indic version", _versions(lambda v: v.update({"\u0661": v.pop("1")}))),
    ("extra superscript version", _versions(lambda v: v.update({"\u00b2": v["1"]}))),
    ("a byte that is not UTF-8", lambda t: t.encode() + b"\xe9"),
    ("NaN default", lambda t: t.replace('"type": "bool"',
                                        '"type": "bool", "default": NaN').encode()),
    ("a number too long to read", lambda t: t.replace('"model_version": 1',
                                                      '"model_version": 1' + "0" * 5000).encode()),
    ("nested too deeply", lambda t: t.replace('"model_version": 1', '"model_version": ' +
                                              "[" * 100_000 + "]" * 100_000).encode()),
    ("half a surrogate pair", lambda t: t.replace('"model": "shelf"',
                                                  '"model": "\\ud800"').encode()),
]


@pytest.mark.parametrize(("case", "edit"), EDITS, ids=[e[0] for e in EDITS])
def test_a_damaged_lock_is_one_located_line_for_every_command(
        tmp_path: Path, good_lock: str, case: str, edit: Callable[[str], bytes]) -> None:
    lock = tmp_path / "shelf.lock.json"
    for code, _out, err in _run(tmp_path, edit(good_lock)):
        assert code == 1, err
        (line,) = err.splitlines()
        assert line.startswith(f"aether-gen: error: {lock}:")
        assert ": not a valid lock (" in line and "restore it from version control" in line


def _shown_safely(folder: Path, code: int, out: str, err: str) -> None:
    """Exit 0 or 1, and every line is one of aether-gen's own, printable."""
    assert code in (0, 1), err
    assert "internal error" not in err and "Traceback" not in err
    for line in (out + err).splitlines():
        assert line.isprintable(), line
        assert line.startswith((str(folder / "shelf"), str(folder / "out"), "aether-gen: error:"))


FORGED = "shelf.yaml: 0 change(s) since shelf.lock.json, 0 breaking, 0 without a version bump"


@pytest.mark.parametrize("name", [f"late\n{FORGED}", "late\u202e", "late\r", "late\x1b[2J"])
def test_a_name_from_the_lock_is_escaped_in_every_message(
        tmp_path: Path, good_lock: str, name: str) -> None:
    def rename(versions: dict[str, Any]) -> None:
        fields = versions["1"]["fields"]
        fields[name] = fields.pop("late")

    outputs = list(_run(tmp_path, _versions(rename)(good_lock)))
    for code, out, err in outputs:
        _shown_safely(tmp_path, code, out, err)
        assert code == 1 and repr(name) in out + err
    assert FORGED not in "".join(out + err for _, out, err in outputs).splitlines()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=3),
    max_leaves=6)
KEYS = st.sampled_from(["01", "\u0661", "\u00b2", "0", "-1", "1.0", " 1", "1\n", "9" * 12, "",
                        "2", "\u202e", "a\nb", "types", "enum", "fields", "removed_events"]
                       ) | st.text(max_size=6)


def _paths(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    children = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, (*at, key))


@st.composite
def damaged(draw: st.DrawFn, text: str) -> bytes:
    """``text`` (a good lock) with one value, key or byte changed."""
    how = draw(st.sampled_from(["value", "key", "drop", "add", "byte"]))
    if how == "byte":
        raw = text.encode()
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.binary(min_size=1, max_size=2)) + raw[at + 1:]
    lock = json.loads(text)
    path = draw(st.sampled_from(list(_paths(lock))[1:]))
    *parents, last = path
    holder = lock
    for key in parents:
        holder = holder[key]
    if how == "value":
        holder[last] = draw(JSON)
    elif isinstance(holder, dict) and how == "key":
        holder[draw(KEYS)] = holder.pop(last)
    elif isinstance(holder, dict) and how == "drop":
        del holder[last]
    elif isinstance(holder[last], dict):
        holder[last][draw(KEYS)] = draw(JSON)
    return json.dumps(lock, indent=2, ensure_ascii=draw(st.booleans())).encode()


@given(data=st.data())
def test_no_damage_to_a_lock_crashes_a_command(
        tmp_path_factory: pytest.TempPathFactory, good_lock: str, bumped_lock: str,
        data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("damaged")
    model, lock = data.draw(st.sampled_from([(SHELF, good_lock), (BUMPED, bumped_lock)]))
    for code, out, err in _run(folder, data.draw(damaged(lock)), model):
        _shown_safely(folder, code, out, err)
        if code == 1 and "not a valid lock" in err:
            assert len(err.splitlines()) == 1
