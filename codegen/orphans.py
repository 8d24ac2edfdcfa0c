"""Stubs the model (or its lock) no longer produces: found and described, never touched.

A stub is the user's code, so generate never rewrites or deletes one. When its aggregate,
policy or read model leaves the model (a rename, most often), the file stays behind:
app.py no longer imports it, so its code silently drops out of the app, and it imports a
base class that bases.py no longer has, so the package stops type-checking. Generate and
``--check`` report each such file with what to do (see docs/codegen.md).

A module in a stub folder counts as one of generate's stubs by the shape every stub has
and keeps while it works: a class ``Name(NameBase)``, with an import from ``..bases``.
Not by its docstring, which users rewrite; and a helper module of the user's own has no
such class, so it is never reported. The text is matched rather than parsed, so a stub
left half-edited (not valid Python) is still recognised.

Upcaster stubs come from the lock's versions instead (UnhookedUpcaster): one the lock no
longer produces means a lock deleted or an older one restored, and generate refuses to
write anything until the lock is back or the file is deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codegen.generator import ELEMENT_FOLDERS, GENERATED_MARK, OutputFile
from modeling.names import module_name

_STUB_CLASS = re.compile(r"^class\s+(?P<name>\w+)\(\s*(?P=name)Base\b", re.MULTILINE)
_BASES_IMPORT = re.compile(r"^from\s+\.\.bases\s+import\b", re.MULTILINE)


@dataclass(frozen=True)
class OrphanedStub:
    path: str  # relative to the output directory, "/"-separated, like OutputFile.path
    kind: str  # "aggregate", "policy" or "read model"
    name: str  # the element its class stood for
    # Where its code belongs now: the stub of the same element when only the path changed
    # (moved), else the one new stub of the same kind (a likely rename), else None.
    successor: OutputFile | None = None
    moved: bool = False

    def advice(self, out: Path) -> str:
        """One line: the file, what it held, and what to do with it."""
        where = f"{out / self.path}: {self.kind} {self.name}"
        if self.successor is not None and self.moved:
            return (f"{where} has its stub in {out / self.successor.path} now: move this "
                    f"file's code there, then delete this file")
        if self.successor is not None:
            return (f"{where} is no longer in the model (renamed to "
                    f"{self.successor.element}?): move its code into "
                    f"{out / self.successor.path}, then delete this file")
        return (f"{where} is no longer in the model and app.py no longer uses this file: "
                f"move any code you still need into another stub, then delete this file")


def find_orphans(files: list[OutputFile], out: Path) -> list[OrphanedStub]:
    """The stubs in ``out`` that no element of ``files``' model maps to, sorted by path."""
    wanted = {f.path for f in files}
    orphans: list[OrphanedStub] = []
    for package in sorted({f.path.split("/", 1)[0] for f in files}):
        for folder, kind in ELEMENT_FOLDERS.items():
            directory = f"{package}/{folder}"
            stubs = {f.element: f for f in files
                     if f.element is not None and f.path.rsplit("/", 1)[0] == directory}
            left = [(path, name) for path, name in _stubs_on_disk(out, directory)
                    if path not in wanted]
            orphans += _described(left, kind, stubs, out)
    return sorted(orphans, key=lambda orphan: orphan.path)


def _stubs_on_disk(out: Path, directory: str) -> list[tuple[str, str]]:
    """(path, element name) of each module in ``directory`` shaped like a stub."""
    folder = out / directory
    if not folder.is_dir():
        return []
    found = []
    for module in sorted(folder.glob("*.py")):
        if not module.is_file():
            continue
        text = module.read_text(encoding="utf-8", errors="replace")
        if text.startswith(GENERATED_MARK):  # generate removes those itself
            continue
        match = _STUB_CLASS.search(text)
        if match is not None and _BASES_IMPORT.search(text):
            found.append((f"{directory}/{module.name}", match["name"]))
    return found


def _described(left: list[tuple[str, str]], kind: str, stubs: dict[str, OutputFile],
               out: Path) -> list[OrphanedStub]:
    """Each left-over stub of one folder, with where its code belongs when that is clear."""
    moved = {name for _, name in left if name in stubs}
    gone = [name for _, name in left if name not in stubs]
    # A rename's new stub is missing (this run creates it) or still as generated; only
    # one such stub against one gone element pairs them as more than a guess.
    fresh = [stub for name, stub in stubs.items()
             if name not in moved and _untouched(stub, out)]
    renamed_to = fresh[0] if len(gone) == 1 and len(fresh) == 1 else None
    return [OrphanedStub(path, kind, name, stubs[name], moved=True) if name in stubs
            else OrphanedStub(path, kind, name, renamed_to) for path, name in left]


def _untouched(stub: OutputFile, out: Path) -> bool:
    path = out / stub.path
    if not path.exists():
        return True
    return path.read_text(encoding="utf-8", errors="replace") == stub.content


# ---- upcaster stubs the lock no longer produces -------------------------------------------

_UPCASTER_FILE = re.compile(r"(?P<module>\w+?)_v(?P<a>[1-9][0-9]*)_to_v(?P<b>[1-9][0-9]*)\.py")
_UPCAST_DEF = re.compile(r"^def\s+upcast\s*\(", re.MULTILINE)


@dataclass(frozen=True)
class UnhookedUpcaster:
    """An upcaster stub of the user's that the lock no longer produces. Upcasters come from
    the lock's versions, not the model: with the lock deleted, or an older one restored,
    generate would drop the stub from upcasters/__init__.py, and stored events of that
    version would stop loading while every generated test still passes."""

    path: str  # relative to the output directory, "/"-separated
    event: str | None  # the event whose module name the file has, when the lock knows it
    removed: bool  # that event has left the model (the lock's removed_events)
    step: str  # "v1 -> v2"

    def advice(self, out: Path, lock: str) -> str:
        where = f"{out / self.path}: upcaster {self.event or '?'} {self.step}"
        if self.removed:
            return (f"{where} is for an event no longer in the model, and nothing runs it: "
                    f"delete this file")
        return (f"{where} is yours, but {lock} does not hold that step (deleted, or an "
                f"older lock restored), so generate would unhook it and stored events of "
                f"that version would stop loading: restore {lock} from version control "
                f"(delete this file only if no such events are stored)")


def find_unhooked_upcasters(files: list[OutputFile], out: Path,
                            lock: dict[str, Any]) -> list[UnhookedUpcaster]:
    """The upcaster stubs in ``out`` that ``files`` (made from ``lock``) no longer include."""
    wanted = {f.path for f in files}
    current = {module_name(name): name for name in lock.get("events", {})}
    removed = {module_name(name): name for name in lock.get("removed_events", {})}
    found: list[UnhookedUpcaster] = []
    for package in sorted({f.path.split("/", 1)[0] for f in files}):
        folder = out / package / "upcasters"
        if not folder.is_dir():
            continue
        for module in sorted(folder.glob("*.py")):
            path = f"{package}/upcasters/{module.name}"
            match = _UPCASTER_FILE.fullmatch(module.name)
            if path in wanted or match is None or not module.is_file():
                continue
            text = module.read_text(encoding="utf-8", errors="replace")
            if text.startswith(GENERATED_MARK) or _UPCAST_DEF.search(text) is None:
                continue
            name = match["module"]
            gone = name in removed and name not in current
            found.append(UnhookedUpcaster(path, current.get(name) or removed.get(name), gone,
                                          f"v{match['a']} -> v{match['b']}"))
    return found


# ---- another package of the same model beside a new one -----------------------------------

def earlier_packages(files: list[OutputFile], out: Path, model: str) -> list[str]:
    """The other packages in ``out`` generated from ``model`` when this run creates its
    package anew (a new ``--package`` name, most often a rename): their stubs hold the
    user's code, which the new package's fresh stubs do not. A fresh upcaster stub's guess
    passes its own test, so stored events would be read by the guess, not the fix."""
    package = files[0].path.split("/", 1)[0]
    if (out / package).exists():
        return []
    mark = f"{GENERATED_MARK} from model {model} ("
    found = []
    for events in sorted(out.glob("*/events.py")):
        if events.parent.name == package or not events.is_file():
            continue
        with events.open(encoding="utf-8", errors="replace") as text:
            if text.readline().startswith(mark):
                found.append(events.parent.name)
    return found
