"""Stubs the model no longer produces: found and described, never touched.

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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from codegen.generator import ELEMENT_FOLDERS, GENERATED_MARK, OutputFile

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
